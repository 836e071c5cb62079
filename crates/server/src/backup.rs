//! `salus backup run|list|restore|archive-command`: encrypted, point-in-time
//! backups of the cluster with pgBackRest (Debian's `pgbackrest`, installed by
//! `make backup-tools`).
//!
//! Every command first writes the `pgbackrest.conf` it runs with, generated from
//! the `BACKUP_*` settings (`BACKUP_WORK_DIR/pgbackrest.conf`, mode 0600: it holds
//! the passphrase, which the cluster's `archive_command` needs too), then calls
//! the `pgbackrest` binary; what it reports is read from `pgbackrest info
//! --output=json`. pgBackRest must run as the cluster's OS user (the cluster
//! runs `archive-push` as that user, and both write the same repository), so
//! when `salus` runs as root it runs pgBackRest as `BACKUP_OS_USER` (runuser).
//!
//! Each command records a platform audit event (`backup.taken`,
//! `backup.listed`, `backup.restored`) through the API role. `run` fails when
//! its event cannot be written; `list` and `restore`, which are what an operator
//! runs when the database is lost, say so and go on.

use std::fmt;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use salus_domain::audit::{Outcome, actions};
use salus_persistence::PoolSettings;
use secrecy::ExposeSecret;
use serde::Deserialize;

use crate::config::{BackupConfig, Config};
use crate::operator::command_service;

/// A pgBackRest backup type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackupKind {
    /// Every file of the cluster.
    Full,
    /// What changed since the last full backup.
    Diff,
    /// What changed since the last backup of any type (a full one when there is
    /// none yet).
    Incr,
}

impl BackupKind {
    /// The name pgBackRest uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::Diff => "diff",
            Self::Incr => "incr",
        }
    }
}

impl std::str::FromStr for BackupKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "full" => Ok(Self::Full),
            "diff" => Ok(Self::Diff),
            "incr" => Ok(Self::Incr),
            other => Err(format!(
                "the type must be full, diff or incr (got '{other}')"
            )),
        }
    }
}

impl fmt::Display for BackupKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One backup of the repository, as `pgbackrest info` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupInfo {
    /// Its label, e.g. `20261202-182328F`.
    pub label: String,
    /// `full`, `diff` or `incr`.
    pub kind: String,
    /// The backup it depends on (diff and incr).
    pub prior: Option<String>,
    /// When it started.
    pub started: DateTime<Utc>,
    /// When it finished (restores start from a backup finished before their target).
    pub stopped: DateTime<Utc>,
    /// The cluster's size it covers, in bytes.
    pub size: u64,
    /// What it takes in the repository (compressed, encrypted), in bytes.
    pub repo_size: u64,
    /// The first and last WAL segments it needs.
    pub wal: Option<(String, String)>,
}

impl BackupInfo {
    /// How long ago it finished.
    pub fn age(&self, now: DateTime<Utc>) -> chrono::Duration {
        now - self.stopped
    }
}

/// A restore that finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    /// The backup restored from (before the WAL replayed up to the target).
    pub label: String,
    /// The new data directory.
    pub to: PathBuf,
}

/// The `archive_command` the cluster must run, writing the configuration it
/// names: `pgbackrest --config=... --stanza=... archive-push %p`.
pub fn archive_command(backup: &BackupConfig) -> anyhow::Result<String> {
    let tool = Pgbackrest::prepare(backup)?;
    Ok(format!(
        "pgbackrest --config={} --stanza={} archive-push %p",
        tool.conf.display(),
        backup.stanza
    ))
}

/// Takes a backup: creates the stanza on first use, checks that WAL archiving
/// works, backs up and records `backup.taken`. Expiry by time follows each
/// backup (pgBackRest's own). `progress` is told each step.
pub fn run(
    config: &Config,
    kind: BackupKind,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<BackupInfo> {
    let backup = configured(config)?;
    let tool = Pgbackrest::prepare(backup)?;
    let taken = take(&tool, kind, progress);
    let details = match &taken {
        Ok(info) => serde_json::json!({
            "label": info.label, "type": info.kind, "size": info.size,
            "repo_size": info.repo_size, "stanza": backup.stanza,
        }),
        Err(_) => serde_json::json!({ "type": kind.as_str(), "stanza": backup.stanza }),
    };
    let outcome = if taken.is_ok() {
        Outcome::Success
    } else {
        Outcome::Failure
    };
    let recorded = record(
        config,
        actions::BACKUP_TAKEN,
        outcome,
        details,
        "salus backup run",
    );
    let info = taken?;
    recorded.with_context(|| {
        format!(
            "backup {} was taken, but its audit event could not be written",
            info.label
        )
    })?;
    Ok(info)
}

fn take(
    tool: &Pgbackrest<'_>,
    kind: BackupKind,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<BackupInfo> {
    let stanza = &tool.backup.stanza;
    let status = tool.info()?.status;
    // 1: no stanza in the repository yet; 3: its metadata is missing.
    if matches!(status.code, 1 | 3) {
        progress(&format!("creating stanza {stanza} (first backup)"));
        tool.run(&["stanza-create"], progress)?;
    }
    progress("checking the cluster and WAL archiving (pgbackrest check)");
    tool.run(&["check"], progress)?;
    progress(&format!(
        "taking a backup (type {kind}) of {} (this can take a while)",
        tool.backup.pg_data.display()
    ));
    let before: Vec<String> = tool.backups()?.into_iter().map(|b| b.label).collect();
    tool.run(&["backup", &format!("--type={kind}")], progress)?;
    tool.backups()?
        .into_iter()
        .rev()
        .find(|b| !before.contains(&b.label))
        .context("pgbackrest finished, but the repository shows no new backup")
}

/// Lists the repository's backups, oldest first, and records `backup.listed`
/// (when the database cannot be reached, `progress` is told and the list is
/// still returned).
pub fn list(config: &Config, progress: &mut dyn FnMut(&str)) -> anyhow::Result<Vec<BackupInfo>> {
    let backup = configured(config)?;
    let tool = Pgbackrest::prepare(backup)?;
    let backups = tool.backups()?;
    let details = serde_json::json!({ "stanza": backup.stanza, "backups": backups.len() });
    if let Err(e) = record(
        config,
        actions::BACKUP_LISTED,
        Outcome::Success,
        details,
        "salus backup list",
    ) {
        progress(&format!("warning: the audit event was not written: {e:#}"));
    }
    Ok(backups)
}

/// Restores the repository into a new data directory `to`, as it was at
/// `target`: from the newest backup that finished before `target`, then WAL
/// replayed up to it. `to` must not exist or be empty, and must not overlap the
/// live data directory or the repository; the live cluster is not touched. The
/// copy has `archive_mode=off` and promotes itself when it reaches `target`.
/// Records `backup.restored` (when the database cannot be reached, `progress`
/// is told and the restore stands).
pub fn restore(
    config: &Config,
    target: DateTime<Utc>,
    to: &Path,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<Restored> {
    let backup = configured(config)?;
    let restored = restore_into(backup, target, to, progress);
    let details = serde_json::json!({
        "stanza": backup.stanza,
        "target_time": target.to_rfc3339(),
        "to": to.display().to_string(),
        "label": restored.as_ref().ok().map(|r| r.label.clone()),
    });
    let outcome = if restored.is_ok() {
        Outcome::Success
    } else {
        Outcome::Failure
    };
    if let Err(e) = record(
        config,
        actions::BACKUP_RESTORED,
        outcome,
        details,
        "salus backup restore",
    ) {
        progress(&format!("warning: the audit event was not written: {e:#}"));
    }
    restored
}

fn restore_into(
    backup: &BackupConfig,
    target: DateTime<Utc>,
    to: &Path,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<Restored> {
    if target > Utc::now() {
        bail!("the target time {} is in the future", target.to_rfc3339());
    }
    let to = std::path::absolute(to).context("the target directory")?;
    for (name, other) in [
        ("the live data directory (BACKUP_PG_DATA)", &backup.pg_data),
        ("the repository (BACKUP_REPO_PATH)", &backup.repo_path),
        ("BACKUP_WORK_DIR", &backup.work_dir),
    ] {
        let other = resolved(other)?;
        let to = resolved(&to)?;
        if to.starts_with(&other) || other.starts_with(&to) {
            bail!(
                "refusing to restore into {}: it overlaps {name}, {}",
                to.display(),
                other.display()
            );
        }
    }
    if to.exists() {
        let mut entries = std::fs::read_dir(&to)
            .with_context(|| format!("{} is not a readable directory", to.display()))?;
        if entries.next().is_some() {
            bail!(
                "refusing to restore into {}: it is not empty (restores go into a new directory)",
                to.display()
            );
        }
    }
    let tool = Pgbackrest::prepare(backup)?;
    let backups = tool.backups()?;
    let from = backups
        .iter()
        .rev()
        .find(|b| b.stopped + chrono::Duration::seconds(1) <= target)
        .with_context(|| match backups.first() {
            None => "the repository holds no backup".to_owned(),
            Some(first) => format!(
                "no backup finished before {} (the first finished at {})",
                target.to_rfc3339(),
                first.stopped.to_rfc3339()
            ),
        })?;
    std::fs::create_dir_all(&to).with_context(|| format!("cannot create {}", to.display()))?;
    std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot restrict {}", to.display()))?;
    tool.give_to_os_user(&[&to])?;
    progress(&format!(
        "restoring backup {} ({}) into {}, then WAL up to {}",
        from.label,
        from.kind,
        to.display(),
        target.to_rfc3339()
    ));
    tool.run(
        &[
            "restore",
            &format!("--set={}", from.label),
            "--type=time",
            &format!("--target={}", target.format("%Y-%m-%d %H:%M:%S%.6f+00")),
            "--target-action=promote",
            "--archive-mode=off",
            &format!("--pg1-path={}", to.display()),
        ],
        progress,
    )
    .with_context(|| {
        format!(
            "the restore failed; {} may hold a partial copy: remove it before trying again",
            to.display()
        )
    })?;
    Ok(Restored {
        label: from.label.clone(),
        to,
    })
}

/// A path with its existing part resolved (symbolic links, `..`), so overlaps
/// are compared on what the file system means.
fn resolved(path: &Path) -> anyhow::Result<PathBuf> {
    let absolute = std::path::absolute(path)?;
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    while !existing.exists() {
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                existing = parent;
            }
            _ => break,
        }
    }
    let mut out = existing
        .canonicalize()
        .unwrap_or_else(|_| existing.to_owned());
    out.extend(rest.iter().rev());
    Ok(out)
}

fn configured(config: &Config) -> anyhow::Result<&BackupConfig> {
    config.backup.as_ref().context(
        "backups are not configured: set BACKUP_REPO_PATH, BACKUP_CIPHER_PASS and BACKUP_PG_DATA (docs/operations.md, \"Backups\")",
    )
}

/// Records a platform event (no clinic, no account: the platform chain) as the
/// API role, through the audit service every event goes through.
fn record(
    config: &Config,
    action: &'static str,
    outcome: Outcome,
    details: serde_json::Value,
    command: &str,
) -> anyhow::Result<()> {
    let services = command_service(
        config,
        PoolSettings {
            max_size: 1,
            statement_timeout_ms: config.db_statement_timeout_ms,
            checkout_timeout: Duration::from_millis(config.db_checkout_timeout_ms),
        },
    )?;
    let details = match details {
        serde_json::Value::Object(map) => map,
        other => serde_json::Map::from_iter([("value".to_owned(), other)]),
    };
    services
        .audit
        .record_operator_action(action, outcome, details, command)
        .map_err(|e| anyhow::anyhow!("{e:?}"))
        .context("cannot record the audit event (DATABASE_URL)")
}

/// The pgbackrest binary with the generated configuration.
struct Pgbackrest<'a> {
    backup: &'a BackupConfig,
    conf: PathBuf,
    as_root: bool,
}

impl<'a> Pgbackrest<'a> {
    /// Writes the configuration (and the directories it names) from the settings.
    fn prepare(backup: &'a BackupConfig) -> anyhow::Result<Self> {
        let as_root = std::fs::metadata("/proc/self")
            .context("cannot read /proc/self")?
            .uid()
            == 0;
        let work = std::path::absolute(&backup.work_dir).context("BACKUP_WORK_DIR")?;
        let (log, lock) = (work.join("log"), work.join("lock"));
        for dir in [&work, &log, &lock] {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
        let created_repo = !backup.repo_path.exists();
        if created_repo {
            std::fs::create_dir_all(&backup.repo_path).with_context(|| {
                format!(
                    "cannot create the repository {}",
                    backup.repo_path.display()
                )
            })?;
            std::fs::set_permissions(&backup.repo_path, std::fs::Permissions::from_mode(0o750))?;
        }
        let conf = work.join("pgbackrest.conf");
        let tool = Self {
            backup,
            conf,
            as_root,
        };
        let text = tool.conf_text(&log, &lock)?;
        let staged = work.join(".pgbackrest.conf.new");
        let _ = std::fs::remove_file(&staged);
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&staged)
            .and_then(|mut f| f.write_all(text.as_bytes()))
            .with_context(|| format!("cannot write {}", staged.display()))?;
        let mut owned: Vec<&Path> = vec![&work, &log, &lock, &staged];
        if created_repo {
            owned.push(&backup.repo_path);
        }
        tool.give_to_os_user(&owned)?;
        std::fs::rename(&staged, &tool.conf)
            .with_context(|| format!("cannot write {}", tool.conf.display()))?;
        Ok(tool)
    }

    fn conf_text(&self, log: &Path, lock: &Path) -> anyhow::Result<String> {
        let b = self.backup;
        let pass = b.cipher_pass.expose_secret();
        if pass.chars().any(char::is_control) {
            bail!("BACKUP_CIPHER_PASS must be one line of printable characters");
        }
        Ok(format!(
            "# Generated by `salus backup` from the BACKUP_* settings and rewritten by\n\
             # each of its commands: do not edit, change the settings instead.\n\
             [global]\n\
             repo1-path={repo}\n\
             repo1-cipher-type=aes-256-cbc\n\
             repo1-cipher-pass={pass}\n\
             repo1-retention-full-type=time\n\
             repo1-retention-full={days}\n\
             compress-type={compress}\n\
             start-fast=y\n\
             log-path={log}\n\
             lock-path={lock}\n\
             log-level-console=warn\n\
             log-level-file=info\n\
             \n\
             [{stanza}]\n\
             pg1-path={data}\n\
             pg1-port={port}\n\
             pg1-socket-path={socket}\n",
            repo = b.repo_path.display(),
            days = b.retention_days,
            compress = b.compress_type,
            log = log.display(),
            lock = lock.display(),
            stanza = b.stanza,
            data = b.pg_data.display(),
            port = b.pg_port,
            socket = b.pg_socket.display(),
        ))
    }

    /// As root, hands `paths` to the OS user pgBackRest runs as.
    fn give_to_os_user(&self, paths: &[&Path]) -> anyhow::Result<()> {
        if !self.as_root {
            return Ok(());
        }
        let status = Command::new("chown")
            .arg(format!("{}:", self.backup.os_user))
            .args(paths)
            .status()
            .context("cannot run chown")?;
        if !status.success() {
            bail!(
                "cannot give {} to BACKUP_OS_USER={} (does the user exist?)",
                paths
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                self.backup.os_user
            );
        }
        Ok(())
    }

    /// Runs a pgbackrest command; its warnings go to `progress`, its output is
    /// returned, and a failure carries what it printed.
    fn run(&self, args: &[&str], progress: &mut dyn FnMut(&str)) -> anyhow::Result<String> {
        let mut command = if self.as_root {
            let mut c = Command::new("runuser");
            c.args(["-u", &self.backup.os_user, "--", "pgbackrest"]);
            c
        } else {
            Command::new("pgbackrest")
        };
        command
            .arg(format!("--config={}", self.conf.display()))
            .arg(format!("--stanza={}", self.backup.stanza))
            .args(args);
        let output = command.output().map_err(|e| {
            anyhow::anyhow!(
                "cannot run pgbackrest ({e}): install it with `make backup-tools` (Debian's pgbackrest)"
            )
        })?;
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr);
        if !output.status.success() {
            let said: Vec<&str> = stderr
                .lines()
                .chain(stdout.lines())
                .filter(|l| !l.trim().is_empty())
                .collect();
            bail!(
                "pgbackrest {} failed ({}): {}",
                args.first().copied().unwrap_or_default(),
                output.status,
                said.join(" | ")
            );
        }
        for line in stderr.lines().filter(|l| !l.trim().is_empty()) {
            progress(&format!("pgbackrest: {line}"));
        }
        Ok(stdout)
    }

    fn info(&self) -> anyhow::Result<StanzaInfo> {
        let out = self.run(&["info", "--output=json"], &mut |_| {})?;
        // A repository it cannot decrypt makes pgBackRest quote raw bytes in its
        // messages, control characters included, which JSON forbids in strings.
        let out = out.replace(|c: char| c.is_ascii_control(), " ");
        let stanzas: Vec<StanzaInfo> =
            serde_json::from_str(&out).context("cannot read `pgbackrest info --output=json`")?;
        stanzas
            .into_iter()
            .find(|s| s.name == self.backup.stanza)
            .context("pgbackrest info does not list the stanza")
    }

    /// The stanza's backups, oldest first. A stanza that does not exist yet has none;
    /// a repository that cannot be read (a wrong passphrase) is an error.
    fn backups(&self) -> anyhow::Result<Vec<BackupInfo>> {
        let info = self.info()?;
        // 0: ok; 1: no stanza yet; 2: a stanza without backups.
        if !(0..=2).contains(&info.status.code) {
            // The repository's own status says why (its first line; later lines may
            // quote undecipherable bytes).
            let why = info
                .repo
                .iter()
                .map(|r| &r.status)
                .find(|s| s.code != 0)
                .unwrap_or(&info.status);
            bail!(
                "the repository cannot be read (is BACKUP_CIPHER_PASS right?): {} (pgbackrest status {})",
                why.message.lines().next().unwrap_or_default(),
                info.status.code
            );
        }
        let mut backups: Vec<BackupInfo> = info
            .backup
            .into_iter()
            .filter(|b| !b.error)
            .map(|b| BackupInfo {
                label: b.label,
                kind: b.kind,
                prior: b.prior,
                started: time(b.timestamp.start),
                stopped: time(b.timestamp.stop),
                size: b.info.size,
                repo_size: b.info.repository.size,
                wal: b.archive.and_then(|a| a.start.zip(a.stop)),
            })
            .collect();
        backups.sort_by_key(|b| b.started);
        Ok(backups)
    }
}

fn time(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(seconds, 0).unwrap_or_default()
}

/// One stanza of `pgbackrest info --output=json` (the parts read here).
#[derive(Deserialize)]
struct StanzaInfo {
    name: String,
    status: Status,
    #[serde(default)]
    repo: Vec<RepoInfo>,
    #[serde(default)]
    backup: Vec<RawBackup>,
}

#[derive(Deserialize)]
struct RepoInfo {
    status: Status,
}

#[derive(Deserialize)]
struct Status {
    code: i64,
    message: String,
}

#[derive(Deserialize)]
struct RawBackup {
    label: String,
    #[serde(rename = "type")]
    kind: String,
    prior: Option<String>,
    timestamp: Span,
    info: Sizes,
    archive: Option<WalRange>,
    #[serde(default)]
    error: bool,
}

#[derive(Deserialize)]
struct Span {
    start: i64,
    stop: i64,
}

#[derive(Deserialize)]
struct Sizes {
    size: u64,
    repository: RepoSize,
}

#[derive(Deserialize)]
struct RepoSize {
    size: u64,
}

#[derive(Deserialize)]
struct WalRange {
    start: Option<String>,
    stop: Option<String>,
}
