//! The contract tools (installed by `make contract-tools`), run as child processes
//! with a time limit; their output is kept and shown when they fail.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use salus_domain::Clock;
use salus_tests::{ManualClock, TestApp};

/// What to run when a tool is missing.
pub const INSTALL: &str = "run `make contract-tools` (scripts/install-contract-tools.sh)";

/// The repository's root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// `tools/contract`.
pub fn contract_dir() -> PathBuf {
    root().join("tools/contract")
}

/// `tools/contract/node_modules`.
pub fn node_modules() -> PathBuf {
    contract_dir().join("node_modules")
}

fn require(path: PathBuf, what: &str) -> PathBuf {
    assert!(
        path.exists(),
        "{what} is missing ({}): {INSTALL}",
        path.display()
    );
    path
}

/// A tool installed from tools/contract/package-lock.json.
pub fn node_tool(name: &str) -> PathBuf {
    require(node_modules().join(".bin").join(name), name)
}

/// A program of the contract venv (tools/contract/requirements.txt).
pub fn venv_tool(name: &str) -> PathBuf {
    require(root().join(".local/contract-venv/bin").join(name), name)
}

/// A program on `PATH`.
pub fn on_path(name: &str) -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| panic!("{name} is not on PATH: {INSTALL}"))
}

/// Node.js.
pub fn node() -> PathBuf {
    on_path("node")
}

/// Debian's Chromium (`SALUS_CHROMIUM` overrides).
pub fn chromium() -> PathBuf {
    let path = std::env::var_os("SALUS_CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    require(path, "chromium")
}

/// A directory for one test's files under the target directory, removed when dropped
/// unless the test failed (then it is kept to look at).
pub struct Scratch {
    /// Its path.
    pub path: PathBuf,
}

impl Scratch {
    /// A new empty directory named after `what`.
    pub fn new(what: &str) -> Self {
        let path = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("clients")
            .join(format!("{what}-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&path).expect("create a scratch directory");
        Self { path }
    }

    /// The path as a string.
    pub fn str(&self) -> &str {
        self.path.to_str().expect("a UTF-8 path")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// A finished child process.
#[derive(Debug)]
pub struct Ran {
    /// What ran (program and arguments, never the environment).
    pub what: String,
    /// Its exit status (None when it was killed at the time limit).
    pub status: Option<ExitStatus>,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
    /// How long it took.
    pub took: Duration,
}

impl Ran {
    /// Whether it exited 0.
    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    /// Its output, for a failure message.
    pub fn output(&self) -> String {
        let status = self
            .status
            .map_or_else(|| "killed at its time limit".to_owned(), |s| s.to_string());
        format!(
            "`{}`: {status} after {:.1} s\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.what,
            self.took.as_secs_f64(),
            self.stdout,
            self.stderr
        )
    }

    /// Panics with the output unless it exited 0; prints the output either way.
    pub fn assert_success(&self, why: &str) {
        assert!(self.success(), "{why}\n{}", self.output());
        println!("{}", self.output());
    }
}

fn describe(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `command` to its end or for at most `limit` (then kills its process group),
/// off the async runtime so the test's server keeps serving. Its output goes to files,
/// not pipes: Node.js programs that exit at once lose what they wrote to a pipe.
pub async fn run(mut command: Command, limit: Duration) -> Ran {
    use std::os::unix::process::CommandExt;
    let what = describe(&command);
    let output = Scratch::new("output");
    let out_path = output.path.join("stdout");
    let err_path = output.path.join("stderr");
    let out = std::fs::File::create(&out_path).expect("a file for stdout");
    let err = std::fs::File::create(&err_path).expect("a file for stderr");
    command
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0);
    tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("`{what}` did not start ({e}): {INSTALL}"));
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for the child") {
                break Some(status);
            }
            if started.elapsed() > limit {
                let _ = Command::new("kill")
                    .args(["-KILL", "--", &format!("-{}", child.id())])
                    .status();
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let read = |path: &Path| {
            String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned()
        };
        let ran = Ran {
            what,
            status,
            stdout: read(&out_path),
            stderr: read(&err_path),
            took: started.elapsed(),
        };
        drop(output);
        ran
    })
    .await
    .expect("the child's runner")
}

/// Keeps a test server's clock on the wall clock while it lives, so that a client
/// computing TOTP codes from its own clock (as real authenticators do) agrees with it.
pub struct WallClock(tokio::task::JoinHandle<()>);

impl WallClock {
    /// Starts following for `app`.
    pub fn follow(app: &TestApp) -> Self {
        let clock: Arc<ManualClock> = app.clock.clone();
        Self(tokio::spawn(async move {
            loop {
                let lag = Utc::now() - clock.now();
                if lag > chrono::Duration::zero() {
                    clock.advance(lag);
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        }))
    }
}

impl Drop for WallClock {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The configuration of a server whose mails land as files in `outbox` (read by the
/// clients as a person reads their mail).
pub fn outbox_overrides(outbox: &Scratch) -> Vec<(&'static str, String)> {
    vec![
        ("OUTBOX_EMAIL_PROVIDER", "file".to_owned()),
        ("OUTBOX_SMS_PROVIDER", "file".to_owned()),
        ("OUTBOX_DIR", outbox.str().to_owned()),
        ("OUTBOX_POLL_SECONDS", "1".to_owned()),
    ]
}

/// Starts a test server with `overrides`.
pub async fn spawn(overrides: &[(&str, String)]) -> TestApp {
    let pairs: Vec<(&str, &str)> = overrides.iter().map(|(k, v)| (*k, v.as_str())).collect();
    TestApp::spawn_with(&pairs).await
}

/// The number of operations in the committed contract.
pub fn contract_operations() -> usize {
    let text = std::fs::read_to_string(root().join("openapi/openapi.json")).expect("the contract");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    doc["paths"]
        .as_object()
        .expect("paths")
        .values()
        .flat_map(|item| item.as_object().expect("a path item").keys())
        .filter(|m| {
            [
                "get", "put", "post", "delete", "patch", "head", "options", "trace",
            ]
            .contains(&m.as_str())
        })
        .count()
}
