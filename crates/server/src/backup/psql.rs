//! SQL run with `psql` over a cluster's Unix socket, as the cluster's OS user
//! (the identity pgBackRest uses too): on the live cluster it is how the
//! superuser connects without a password (peer authentication), and on the
//! drill's scratch cluster it is the only way in.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};

/// Settings every session starts with, so a row prints the same on the live
/// cluster and on its restored copy.
const SESSION: &str = "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; \
    SET IntervalStyle = 'postgres'; SET extra_float_digits = 1; SET bytea_output = 'hex';\n";

/// One cluster reached through its socket.
#[derive(Debug, Clone)]
pub(super) struct Psql {
    /// The socket directory.
    pub(super) socket: PathBuf,
    /// The port (it names the socket file).
    pub(super) port: u16,
    /// The OS user to run as when `salus` runs as root.
    pub(super) os_user: Option<String>,
}

impl Psql {
    /// The cluster at `socket`/`port`, reached as `os_user` when running as root.
    pub(super) fn new(socket: &Path, port: u16, os_user: Option<&str>) -> Self {
        Self {
            socket: socket.to_owned(),
            port,
            os_user: os_user.map(str::to_owned),
        }
    }

    /// Runs `sql` (one or more statements, in one session) in `database`; the
    /// rows it prints, unaligned, fields separated by `|`.
    pub(super) fn run(&self, database: &str, sql: &str) -> anyhow::Result<Vec<Vec<String>>> {
        let mut command = match &self.os_user {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--", "psql"]);
                c
            }
            None => Command::new("psql"),
        };
        command
            .args(["-XAtq", "-v", "ON_ERROR_STOP=1", "-f", "-"])
            .arg("-h")
            .arg(&self.socket)
            .arg("-p")
            .arg(self.port.to_string())
            .arg("-d")
            .arg(database)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .context("cannot run psql (Debian's postgresql-client)")?;
        let mut stdin = child.stdin.take().context("psql's input")?;
        stdin
            .write_all(format!("{SESSION}{sql}").as_bytes())
            .context("cannot send SQL to psql")?;
        drop(stdin);
        let output = child.wait_with_output().context("psql did not finish")?;
        if !output.status.success() {
            bail!(
                "psql on {}:{} failed ({}): {}",
                self.socket.display(),
                self.port,
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter(|l| !l.is_empty())
            .map(|l| l.split('|').map(str::to_owned).collect())
            .collect())
    }

    /// The one value a one-row, one-column query prints (empty for NULL).
    pub(super) fn value(&self, database: &str, sql: &str) -> anyhow::Result<String> {
        let rows = self.run(database, sql)?;
        Ok(rows
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next())
            .unwrap_or_default())
    }
}
