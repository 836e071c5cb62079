//! `salus backup scheduled`: one turn of the backup schedule, run every 15
//! minutes by the systemd timer the project ships (`deploy/systemd/`) on the
//! database host. It asks the repository what it holds and takes what is due
//! (a full backup when the last full one is `BACKUP_FULL_EVERY_HOURS` old, an
//! incremental one when the last backup of any type is `BACKUP_INCR_EVERY_HOURS`
//! old), then drills it. WAL is archived continuously by the cluster itself.
//!
//! Why a timer on the database host and not the API's job runner: pgBackRest
//! reads the cluster's data directory, so it runs where the cluster runs, and
//! API nodes do not. The repository is the schedule's only state, so a missed
//! turn (host down, timer late) is caught up by the next one, and two turns at
//! once cannot both back up (an exclusive lock on `BACKUP_WORK_DIR/backup-schedule.lock`,
//! and pgBackRest's own stanza lock behind it).

use anyhow::Context;
use chrono::{DateTime, Utc};

use super::{BackupInfo, BackupKind, DrillReport, configured};
use crate::config::{BackupConfig, Config};

/// The backup due at `now`, given the repository's backups (oldest first).
pub fn due(
    backup: &BackupConfig,
    backups: &[BackupInfo],
    now: DateTime<Utc>,
) -> Option<BackupKind> {
    let last_full = backups.iter().rev().find(|b| b.kind == "full");
    match (last_full, backups.last()) {
        (None, _) => Some(BackupKind::Full),
        (Some(full), _) if full.age(now) >= backup.full_every => Some(BackupKind::Full),
        (_, Some(last)) if last.age(now) >= backup.incr_every => Some(BackupKind::Incr),
        _ => None,
    }
}

/// What one turn did.
#[derive(Debug)]
pub enum Turn {
    /// Nothing was due.
    NothingDue,
    /// Another turn holds the schedule lock.
    Busy,
    /// A backup was taken and drilled.
    Taken(BackupInfo, Box<DrillReport>),
}

/// One turn: takes the backup that is due, if any, and drills it.
pub fn turn(config: &Config, progress: &mut dyn FnMut(&str)) -> anyhow::Result<Turn> {
    let backup = configured(config)?;
    let tool = super::Pgbackrest::prepare(backup)?;
    let lock_path = std::path::absolute(backup.work_dir.join("backup-schedule.lock"))?;
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("cannot open {}", lock_path.display()))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            progress("another turn of the schedule is running: nothing to do");
            return Ok(Turn::Busy);
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(e).with_context(|| format!("cannot lock {}", lock_path.display()));
        }
    }
    let backups = tool.backups()?;
    let Some(kind) = due(backup, &backups, Utc::now()) else {
        progress("no backup is due");
        return Ok(Turn::NothingDue);
    };
    progress(&format!("a {kind} backup is due"));
    let info = super::run(config, kind, progress)?;
    let report = super::verify(config, Some(&info.label), progress)?;
    drop(lock);
    Ok(Turn::Taken(info, Box::new(report)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> BackupConfig {
        let map: std::collections::HashMap<&str, &str> = [
            ("BACKUP_REPO_PATH", "/srv/repo"),
            ("BACKUP_PG_DATA", "/srv/data"),
            (
                "BACKUP_CIPHER_PASS",
                "a-passphrase-for-the-schedule-test-only",
            ),
        ]
        .into();
        crate::config::read_backup(&move |n: &str| map.get(n).map(|v| (*v).to_owned()))
            .unwrap()
            .unwrap()
    }

    fn at(hours: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap() + chrono::Duration::hours(hours)
    }

    fn backup(kind: &str, stopped_hour: i64) -> BackupInfo {
        BackupInfo {
            label: format!("{kind}-{stopped_hour}"),
            kind: kind.to_owned(),
            prior: None,
            started: at(stopped_hour),
            stopped: at(stopped_hour),
            size: 1,
            repo_size: 1,
            wal: None,
        }
    }

    #[test]
    fn full_daily_and_incremental_every_six_hours() {
        let s = settings();
        assert_eq!(due(&s, &[], at(0)), Some(BackupKind::Full));
        let full = [backup("full", 0)];
        assert_eq!(due(&s, &full, at(5)), None);
        assert_eq!(due(&s, &full, at(6)), Some(BackupKind::Incr));
        let with_incr = [backup("full", 0), backup("incr", 6)];
        assert_eq!(due(&s, &with_incr, at(11)), None);
        assert_eq!(due(&s, &with_incr, at(12)), Some(BackupKind::Incr));
        assert_eq!(due(&s, &with_incr, at(24)), Some(BackupKind::Full));
        let all = [backup("full", 0), backup("incr", 6), backup("full", 24)];
        assert_eq!(due(&s, &all, at(29)), None, "the newest full one counts");
    }
}
