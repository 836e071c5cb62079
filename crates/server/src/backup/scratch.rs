//! The drill's scratch cluster: a restored data directory started on its own
//! socket, reachable by nothing else, and removed when the drill ends.
//!
//! It listens on no TCP address, only on a Unix socket in a directory of the
//! work directory (mode 0700, the cluster user's), with its own `pg_hba.conf`
//! (`trust` on that socket): whatever the source's authentication, the drill
//! can connect, and nobody outside the cluster's user (and root) can reach it.
//! Settings given on the command line win over the restored `postgresql.conf`
//! and `postgresql.auto.conf`, so WAL archiving stays off and the copy never
//! writes into the repository.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use super::pgbackrest::Pgbackrest;
use super::psql::Psql;

/// A restored cluster of the drill's.
pub(super) struct Scratch<'a> {
    tool: &'a Pgbackrest<'a>,
    /// Its data directory.
    pub(super) data: PathBuf,
    /// Its socket directory.
    socket: PathBuf,
    /// Its port (it only names the socket file).
    pub(super) port: u16,
    bin: PathBuf,
    running: bool,
    /// A restore's copy: stopped cleanly and kept when done (the drill's is
    /// stopped at once and removed).
    keep: bool,
}

impl<'a> Scratch<'a> {
    /// A scratch cluster in `root` (any earlier one there, left by an
    /// interrupted drill, is stopped and removed first), not restored yet.
    pub(super) fn new(tool: &'a Pgbackrest<'a>, root: &Path) -> anyhow::Result<Self> {
        Self::with_programs_of(tool, root, &tool.backup.pg_data)
    }

    /// A scratch cluster in `root` run with the PostgreSQL programs of the
    /// version the data directory `of` holds (or `BACKUP_PG_BIN`).
    fn with_programs_of(tool: &'a Pgbackrest<'a>, root: &Path, of: &Path) -> anyhow::Result<Self> {
        let backup = tool.backup;
        let bin = match &backup.pg_bin {
            Some(bin) => bin.clone(),
            None => {
                let version = std::fs::read_to_string(of.join("PG_VERSION")).with_context(|| {
                    format!(
                        "cannot read {}/PG_VERSION to find the PostgreSQL programs (set BACKUP_PG_BIN)",
                        of.display()
                    )
                })?;
                PathBuf::from(format!("/usr/lib/postgresql/{}/bin", version.trim()))
            }
        };
        let port = if backup.pg_port < u16::MAX {
            backup.pg_port + 1
        } else {
            backup.pg_port - 1
        };
        let mut scratch = Self {
            tool,
            data: root.join("pgdata"),
            socket: root.join("socket"),
            port,
            bin,
            running: true,
            keep: false,
        };
        if root.exists() {
            scratch.stop();
            std::fs::remove_dir_all(root).with_context(|| {
                format!("cannot remove the earlier drill in {}", root.display())
            })?;
        }
        scratch.running = false;
        for dir in [root, &scratch.socket] {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
        tool.give_to_os_user(&[root, &scratch.socket])?;
        Ok(scratch)
    }

    /// A restored data directory `data` (kept), started on a private socket in
    /// `root` (removed when done) so the restore can work on it before anyone
    /// uses it.
    pub(super) fn over(tool: &'a Pgbackrest<'a>, data: &Path, root: &Path) -> anyhow::Result<Self> {
        let mut scratch = Self::with_programs_of(tool, root, data)?;
        scratch.data = data.to_owned();
        scratch.keep = true;
        Ok(scratch)
    }

    /// `psql` on it.
    pub(super) fn psql(&self) -> Psql {
        let user = self
            .tool
            .as_root
            .then_some(self.tool.backup.os_user.as_str());
        Psql::new(&self.socket, self.port, user)
    }

    /// A URL for the superuser over its socket (for the audit verifier and the
    /// migration check, which use diesel).
    pub(super) fn url(&self, database: &str) -> String {
        let user = if self.tool.as_root {
            self.tool.backup.os_user.clone()
        } else {
            std::env::var("USER").unwrap_or_else(|_| "postgres".to_owned())
        };
        format!(
            "postgres://{user}@/{database}?host={}&port={}",
            self.socket.display(),
            self.port
        )
    }

    /// Makes the restored directory startable here: its own `pg_hba.conf`, and
    /// an empty `postgresql.conf` / `pg_ident.conf` where the source kept them
    /// elsewhere (Debian keeps them under /etc).
    fn prepare(&self) -> anyhow::Result<PathBuf> {
        let hba = self
            .socket
            .parent()
            .unwrap_or(&self.socket)
            .join("pg_hba.conf");
        std::fs::write(
            &hba,
            "# The restore drill's scratch cluster: its private socket only.\nlocal all all trust\n",
        )
        .with_context(|| format!("cannot write {}", hba.display()))?;
        let mut owned = vec![hba.clone()];
        for name in ["postgresql.conf", "pg_ident.conf"] {
            let path = self.data.join(name);
            if !path.exists() {
                std::fs::write(&path, "# Written by the restore drill.\n")
                    .with_context(|| format!("cannot write {}", path.display()))?;
                owned.push(path);
            }
        }
        let owned: Vec<&Path> = owned.iter().map(PathBuf::as_path).collect();
        self.tool.give_to_os_user(&owned)?;
        Ok(hba)
    }

    /// Starts it and waits until recovery has reached its target and the copy
    /// has promoted itself (at most `timeout`).
    pub(super) fn start(&mut self, database: &str, timeout: Duration) -> anyhow::Result<()> {
        let hba = self.prepare()?;
        let options = format!(
            "-c port={} -c listen_addresses='' -c unix_socket_directories='{}' -c hba_file='{}' \
             -c archive_mode=off -c shared_preload_libraries='' -c ssl=off -c hot_standby=on",
            self.port,
            self.socket.display(),
            hba.display()
        );
        let log = self.data.join("drill.log");
        let mut pg_ctl = self.as_os_user(&self.bin.join("pg_ctl"));
        pg_ctl.arg("-D").arg(&self.data).arg("-l").arg(&log).args([
            "-w",
            "-t",
            &timeout.as_secs().max(1).to_string(),
            "-o",
            &options,
            "start",
        ]);
        self.running = true;
        let output = pg_ctl
            .output()
            .context("cannot run pg_ctl (set BACKUP_PG_BIN)")?;
        if !output.status.success() {
            bail!(
                "the restored copy did not start ({}): {}; its log: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim(),
                tail(&log)
            );
        }
        let deadline = Instant::now() + timeout;
        let psql = self.psql();
        loop {
            if psql.value(database, "SELECT pg_is_in_recovery();")? == "f" {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "the restored copy did not finish recovery within {} s; its log: {}",
                    timeout.as_secs(),
                    tail(&log)
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Stops it: at once when nothing of it is kept, cleanly (a checkpoint
    /// first) when the copy is kept.
    fn stop(&mut self) {
        if self.running && self.data.join("postmaster.pid").exists() {
            let mode = if self.keep { "fast" } else { "immediate" };
            let mut pg_ctl = self.as_os_user(&self.bin.join("pg_ctl"));
            pg_ctl
                .arg("-D")
                .arg(&self.data)
                .args(["-m", mode, "-w", "stop"]);
            let _ = pg_ctl.output();
        }
        self.running = false;
    }

    /// Stops a kept copy cleanly; an error when it does not stop.
    pub(super) fn finish(mut self) -> anyhow::Result<()> {
        self.stop();
        anyhow::ensure!(
            !self.data.join("postmaster.pid").exists(),
            "the restored copy in {} did not stop",
            self.data.display()
        );
        Ok(())
    }

    fn as_os_user(&self, program: &Path) -> Command {
        if self.tool.as_root {
            let mut c = Command::new("runuser");
            c.args(["-u", &self.tool.backup.os_user, "--"]).arg(program);
            c
        } else {
            Command::new(program)
        }
    }
}

impl Drop for Scratch<'_> {
    fn drop(&mut self) {
        self.stop();
        let root = self.socket.parent();
        if let Some(root) = root {
            let _ = std::fs::remove_dir_all(root);
        }
    }
}

/// The last lines of a log, for an error message.
fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(8)..].join(" | ")
}
