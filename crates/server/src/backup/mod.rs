//! `salus backup run|list|verify|restore|scheduled|archive-command`: encrypted,
//! point-in-time backups of the cluster with pgBackRest (Debian's `pgbackrest`,
//! installed by `make backup-tools`), each verified by a restore drill (`drill`).
//!
//! Every command first writes the `pgbackrest.conf` it runs with, generated from
//! the `BACKUP_*` settings (`BACKUP_WORK_DIR/pgbackrest.conf`, mode 0600: it holds
//! the passphrase, which the cluster's `archive_command` needs too), then calls
//! the `pgbackrest` binary; what it reports is read from `pgbackrest info
//! --output=json`. pgBackRest must run as the cluster's OS user (the cluster
//! runs `archive-push` as that user, and both write the same repository), so
//! when `salus` runs as root it runs pgBackRest as `BACKUP_OS_USER` (runuser).
//!
//! Right after each backup, the live database's fingerprint is taken at a named
//! restore point (`fingerprint`), so the drill can compare its restored copy with
//! what the source held at exactly that point.
//!
//! Each command records a platform audit event (`backup.taken`,
//! `backup.listed`, `backup.verified`, `backup.restored`) through the API role. `run` fails when
//! its event cannot be written; `list` and `restore`, which are what an operator
//! runs when the database is lost, say so and go on.

pub mod destructions;
pub mod drill;
pub mod fingerprint;
mod pgbackrest;
mod psql;
pub mod schedule;
mod scratch;

use std::fmt;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use salus_domain::audit::{Outcome, actions};
use salus_persistence::PoolSettings;

pub use drill::{DrillReport, verify};
use pgbackrest::Pgbackrest;
use psql::Psql;

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
    /// The destructions of the register re-applied to it.
    pub reapplied: crate::register::Reapplied,
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
    let taken = take(&tool, &database_name(config)?, kind, progress);
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
    database: &str,
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
    let info = tool
        .backups()?
        .into_iter()
        .rev()
        .find(|b| !before.contains(&b.label))
        .context("pgbackrest finished, but the repository shows no new backup")?;
    progress("taking the live database's fingerprint for the restore drill");
    let live = Psql::new(
        &tool.backup.pg_socket,
        tool.backup.pg_port,
        tool.as_root.then_some(tool.backup.os_user.as_str()),
    );
    let taken = fingerprint::take(&live, database, &info.label)?;
    let reports = reports_dir(tool.backup)?;
    write_private(
        &fingerprint::path(&reports, &info.label),
        &serde_json::to_vec_pretty(&taken)?,
        |_| Ok(()),
    )?;
    progress(&format!(
        "{} tables summed at restore point {} (writers waited {} ms); archiving its WAL",
        taken.tables.len(),
        taken.restore_point,
        taken.lock_ms
    ));
    // `check` switches to a new WAL segment and waits until the one holding the
    // restore point is in the repository.
    tool.run(&["check"], progress)?;
    Ok(info)
}

/// The last drill's verdict and time for each backup drilled, from the reports
/// kept under `BACKUP_WORK_DIR/reports` (empty when backups are not configured).
pub fn drill_verdicts(config: &Config) -> std::collections::HashMap<String, (bool, DateTime<Utc>)> {
    let mut out = std::collections::HashMap::new();
    let Some(dir) = config.backup.as_ref().and_then(|b| reports_dir(b).ok()) else {
        return out;
    };
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some((label, _)) = name.split_once(".drill-") else {
            continue;
        };
        let Ok(report) = std::fs::read(entry.path())
            .map_err(anyhow::Error::from)
            .and_then(|b| Ok(serde_json::from_slice::<serde_json::Value>(&b)?))
        else {
            continue;
        };
        let at = report["finished_at"]
            .as_str()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc));
        if let Some(at) = at {
            let verified = report["verified"] == true;
            let newer = out
                .get(label)
                .is_none_or(|(_, seen): &(bool, DateTime<Utc>)| *seen < at);
            if newer {
                out.insert(label.to_owned(), (verified, at));
            }
        }
    }
    out
}

/// Where fingerprints and drill reports are kept (created, mode 0700).
fn reports_dir(backup: &BackupConfig) -> anyhow::Result<PathBuf> {
    let dir = std::path::absolute(backup.work_dir.join("reports"))?;
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
    Ok(dir)
}

/// Writes `bytes` to `path` (mode 0600), replacing it whole: staged beside it,
/// `prepare`d (given to its owner), then renamed over it.
fn write_private(
    path: &Path,
    bytes: &[u8],
    prepare: impl FnOnce(&Path) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(".new");
    let staged = path.with_file_name(name);
    let _ = std::fs::remove_file(&staged);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&staged)
        .and_then(|mut f| f.write_all(bytes))
        .with_context(|| format!("cannot write {}", staged.display()))?;
    prepare(&staged)?;
    std::fs::rename(&staged, path).with_context(|| format!("cannot write {}", path.display()))
}

/// The database `DATABASE_URL` names (the one fingerprinted and drilled).
fn database_name(config: &Config) -> anyhow::Result<String> {
    use secrecy::ExposeSecret;
    let url = url::Url::parse(config.database_url.expose_secret()).context("DATABASE_URL")?;
    let name = url.path().trim_start_matches('/');
    anyhow::ensure!(!name.is_empty(), "DATABASE_URL names no database");
    Ok(name.to_owned())
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
/// `target` (`None`: as far as the archived WAL goes, the lost-host case): from
/// the newest backup that finished before it, then WAL replayed up to it. `to`
/// must not exist or be empty, and must not overlap the live data directory or
/// the repository; the live cluster is not touched. The copy is started on a
/// private socket until it has promoted itself, the destruction register is
/// re-applied to it, and it is stopped cleanly; it has `archive_mode=off`.
/// Records `backup.restored` (when the database cannot be reached, `progress`
/// is told and the restore stands).
pub fn restore(
    config: &Config,
    target: Option<DateTime<Utc>>,
    to: &Path,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<Restored> {
    let backup = configured(config)?;
    let restored = restore_into(config, backup, target, to, progress);
    let details = serde_json::json!({
        "stanza": backup.stanza,
        "target_time": target.map(|t| t.to_rfc3339()),
        "to": to.display().to_string(),
        "label": restored.as_ref().ok().map(|r| r.label.clone()),
        "destructions_reapplied": restored.as_ref().ok().map(|r| r.reapplied.reapplied.len()),
        "erasures_reapplied": restored.as_ref().ok().map(|r| r.reapplied.erased_again.len()),
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
    config: &Config,
    backup: &BackupConfig,
    target: Option<DateTime<Utc>>,
    to: &Path,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<Restored> {
    if let Some(target) = target
        && target > Utc::now()
    {
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
        .find(|b| target.is_none_or(|t| b.stopped + chrono::Duration::seconds(1) <= t))
        .with_context(|| match (backups.first(), target) {
            (Some(first), Some(target)) => format!(
                "no backup finished before {} (the first finished at {})",
                target.to_rfc3339(),
                first.stopped.to_rfc3339()
            ),
            _ => "the repository holds no backup".to_owned(),
        })?;
    let until = target.map_or_else(
        || "the end of the archived WAL".to_owned(),
        |t| t.to_rfc3339(),
    );
    std::fs::create_dir_all(&to).with_context(|| format!("cannot create {}", to.display()))?;
    std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot restrict {}", to.display()))?;
    tool.give_to_os_user(&[&to])?;
    progress(&format!(
        "restoring backup {} ({}) into {}, then WAL up to {until}",
        from.label,
        from.kind,
        to.display(),
    ));
    let mut args = vec![
        "restore".to_owned(),
        format!("--set={}", from.label),
        "--archive-mode=off".to_owned(),
        format!("--pg1-path={}", to.display()),
    ];
    match target {
        Some(target) => args.extend([
            "--type=time".to_owned(),
            format!("--target={}", target.format("%Y-%m-%d %H:%M:%S%.6f+00")),
            "--target-action=promote".to_owned(),
        ]),
        None => args.push("--type=default".to_owned()),
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    tool.run(&args, progress).with_context(|| {
        format!(
            "the restore failed; {} may hold a partial copy: remove it before trying again",
            to.display()
        )
    })?;
    let reapplied = reapply_destructions(config, &tool, &to, progress).with_context(|| {
        format!(
            "the copy in {} must not be used: the destruction register could not be re-applied to it; remove it and restore again",
            to.display()
        )
    })?;
    Ok(Restored {
        label: from.label.clone(),
        to,
        reapplied,
    })
}

/// Starts the restored copy on a private socket (replaying WAL to the target,
/// then promoting itself), re-applies every destruction of the register and
/// stops it cleanly: only then is the copy anyone's to start.
fn reapply_destructions(
    config: &Config,
    tool: &Pgbackrest<'_>,
    to: &Path,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<crate::register::Reapplied> {
    let database = database_name(config)?;
    let root = std::path::absolute(tool.backup.work_dir.join("restore"))?;
    let mut copy = scratch::Scratch::over(tool, to, &root)?;
    progress("starting the copy on a private socket (WAL replays up to the target)");
    copy.start(&database, drill::RECOVERY_TIMEOUT).context(
        "the copy does not start: when PostgreSQL says the recovery ended before its target, the archived WAL does not reach the target time (choose an earlier one, or leave --target-time out to restore everything archived)",
    )?;
    let reapplied = destructions::reapply_to(config, &copy.psql(), &database, progress)?;
    progress(&format!(
        "{} of {} destructions and {} of {} erasures re-applied ({} rows deleted again); stopping the copy",
        reapplied.reapplied.len(),
        reapplied.destructions,
        reapplied.erased_again.len(),
        reapplied.erasures,
        reapplied.rows
    ));
    copy.finish()?;
    Ok(reapplied)
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
