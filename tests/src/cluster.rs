//! PostgreSQL 15 clusters of a test's own, for what the shared server cannot
//! show: WAL archiving, backups, a cluster destroyed and another restored. Each
//! lives under a scratch directory (removed when dropped) on a free port, and
//! is stopped when dropped, even when the test fails. As root, the PostgreSQL
//! programs run as `postgres` (like `scripts/provision-db.sh`), which owns the
//! directories the cluster uses.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The PostgreSQL 15 programs (Debian's layout).
pub const PG_BIN: &str = "/usr/lib/postgresql/15/bin";
/// The OS user clusters run as when the tests run as root.
pub const CLUSTER_USER: &str = "postgres";

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// `program` run as the cluster's OS user.
pub fn as_cluster_user(program: &str) -> Command {
    if running_as_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", CLUSTER_USER, "--", program]);
        command
    } else {
        Command::new(program)
    }
}

fn run(mut command: Command, what: &str) -> String {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(
        output.status.success(),
        "{what} failed ({}): {}{}",
        output.status,
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A temporary directory, removed (with everything in it) when dropped.
#[derive(Debug)]
pub struct Scratch {
    root: PathBuf,
}

impl Scratch {
    /// A new directory under the system's temporary directory.
    pub fn new(name: &str) -> Self {
        let root =
            std::env::temp_dir().join(format!("salus-{name}-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&root).expect("create the scratch directory");
        // The cluster's user must reach what lies inside.
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755))
            .expect("open the scratch directory");
        Self { root }
    }

    /// A path inside it (not created).
    pub fn path(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// A directory inside it, created with `mode`, owned by the cluster's user.
    pub fn dir(&self, name: &str, mode: u32) -> PathBuf {
        let dir = self.path(name);
        std::fs::create_dir_all(&dir).expect("create a scratch directory");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode))
            .expect("set the scratch directory's mode");
        if running_as_root() {
            let mut chown = Command::new("chown");
            chown.arg(format!("{CLUSTER_USER}:")).arg(&dir);
            run(chown, "chown");
        }
        dir
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// A free TCP port on 127.0.0.1 (free when asked; clusters start right after).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A cluster of the test's own, stopped when dropped.
#[derive(Debug)]
pub struct Cluster {
    /// Its data directory.
    pub data: PathBuf,
    /// Its Unix socket directory.
    pub socket: PathBuf,
    /// Its port on 127.0.0.1.
    pub port: u16,
    running: bool,
}

impl Cluster {
    /// A new cluster (`initdb`, superuser `postgres`, trust) in `scratch/name`.
    pub fn init(scratch: &Scratch, name: &str) -> Self {
        let data = scratch.dir(name, 0o700);
        let mut initdb = as_cluster_user(&format!("{PG_BIN}/initdb"));
        initdb
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8"])
            .args(["--locale=C.UTF-8", "--no-sync"]);
        run(initdb, "initdb");
        Self::adopt(scratch, name, data)
    }

    /// A cluster over an existing data directory (a restored copy), not started.
    pub fn adopt(scratch: &Scratch, name: &str, data: PathBuf) -> Self {
        Self {
            data,
            socket: scratch.dir(&format!("{name}-socket"), 0o755),
            port: free_port(),
            running: false,
        }
    }

    /// Appends settings to its `postgresql.conf` (values quoted for it).
    pub fn configure(&self, settings: &[(&str, &str)]) {
        let mut text = String::from("\n# Added by the test.\n");
        for (name, value) in settings {
            text.push_str(&format!("{name} = '{}'\n", value.replace('\'', "''")));
        }
        let path = self.data.join("postgresql.conf");
        let mut conf = std::fs::read_to_string(&path).expect("read postgresql.conf");
        conf.push_str(&text);
        std::fs::write(&path, conf).expect("write postgresql.conf");
    }

    /// Starts it on its port and socket, waiting until it accepts connections.
    pub fn start(&mut self) {
        let mut pg_ctl = as_cluster_user(&format!("{PG_BIN}/pg_ctl"));
        pg_ctl
            .arg("-D")
            .arg(&self.data)
            .arg("-l")
            .arg(self.data.join("server.log"))
            .args(["-w", "-t", "60", "-o"])
            .arg(format!(
                "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={}",
                self.port,
                self.socket.display()
            ))
            .arg("start");
        let output = pg_ctl.output().expect("run pg_ctl");
        if !output.status.success() {
            let log = std::fs::read_to_string(self.data.join("server.log")).unwrap_or_default();
            panic!(
                "the cluster in {} did not start: {}\n{log}",
                self.data.display(),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        self.running = true;
    }

    /// Stops it at once, as a crash would (no checkpoint).
    pub fn stop_now(&mut self) {
        if self.running {
            let mut pg_ctl = as_cluster_user(&format!("{PG_BIN}/pg_ctl"));
            pg_ctl
                .arg("-D")
                .arg(&self.data)
                .args(["-m", "immediate", "-w", "stop"]);
            let _ = pg_ctl.output();
            self.running = false;
        }
    }

    /// Stops it and deletes its data directory: the cluster is lost.
    pub fn destroy(&mut self) {
        self.stop_now();
        std::fs::remove_dir_all(&self.data).expect("delete the data directory");
    }

    /// The superuser's URL of `database`.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Runs `sql` as the superuser in `database`; its output, unaligned.
    pub fn sql(&self, database: &str, sql: &str) -> String {
        let mut psql = Command::new("psql");
        psql.args(["-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql])
            .arg(self.url(database));
        run(psql, "psql").trim().to_owned()
    }

    /// Closes the current WAL segment and waits until the archiver has sent it,
    /// so everything committed so far is in the repository.
    pub fn archive_wal(&self) {
        let segment = self.sql(
            "postgres",
            "SELECT pg_walfile_name(pg_current_wal_insert_lsn())",
        );
        self.sql("postgres", "SELECT pg_switch_wal()");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let archived = self.sql(
                "postgres",
                "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver",
            );
            if archived.as_str() >= segment.as_str() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "WAL segment {segment} was not archived within 60 s (last: {archived}); see {}",
                self.data.join("server.log").display()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until recovery has ended (a restored copy promoted itself).
    pub fn wait_until_promoted(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.sql("postgres", "SELECT pg_is_in_recovery()") != "f" {
            assert!(
                Instant::now() < deadline,
                "the cluster did not leave recovery within 60 s; see {}",
                self.data.join("server.log").display()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Whether its data directory holds `needle` in any file (after a checkpoint,
    /// when it runs).
    pub fn files_contain(&self, needle: &[u8]) -> bool {
        if self.running {
            self.sql("postgres", "CHECKPOINT");
        }
        files_under(&self.data)
            .iter()
            .any(|f| contains(&std::fs::read(f).unwrap_or_default(), needle))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop_now();
    }
}

/// Every regular file under `dir`.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            match entry.file_type() {
                Ok(t) if t.is_dir() => stack.push(path),
                Ok(t) if t.is_file() => out.push(path),
                _ => {}
            }
        }
    }
    out
}

/// Whether `haystack` holds `needle`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}
