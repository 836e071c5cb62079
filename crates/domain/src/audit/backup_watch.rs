//! The backup watch: from what the platform audit chain records of backups
//! (`backup.taken`, `backup.verified`), the alerts that are due. A failed
//! restore drill raises one alert; so does going more than 26 hours without a
//! verified backup (measured from the newest backup that passed a drill, or
//! from the first backup when none has).

use chrono::{DateTime, Duration, Utc};

use super::rule::Rule;
use crate::audit::actions;
use crate::ports::alerts::{BackupStatus, SubjectKind};

/// How old the newest verified backup may be before the watch raises an alert.
pub const VERIFIED_MAX_AGE_HOURS: i64 = 26;

/// A restore drill failed.
pub const DRILL_FAILED: Rule = Rule {
    kind: "backup_drill_failed",
    description: "A restore drill failed: the backup it tested may not restore (see `salus backup verify` and its report).",
    actions: &[actions::BACKUP_VERIFIED],
    by: SubjectKind::Account,
    threshold: 1,
    window_minutes: 60,
};

/// No recent backup has passed a drill.
pub const UNVERIFIED: Rule = Rule {
    kind: "backup_unverified",
    description: "No backup newer than 26 hours has passed a restore drill: backups or drills have stopped, or keep failing.",
    actions: &[actions::BACKUP_TAKEN, actions::BACKUP_VERIFIED],
    by: SubjectKind::Account,
    threshold: 1,
    window_minutes: VERIFIED_MAX_AGE_HOURS * 60,
};

/// The watch's rules.
pub const BACKUP_RULES: &[Rule] = &[DRILL_FAILED, UNVERIFIED];

/// An alert the watch finds due.
#[derive(Debug, Clone)]
pub struct Due {
    /// Its rule.
    pub rule: &'static Rule,
    /// What it is about (a backup's label, or "backups").
    pub subject: String,
    /// Deduplication: one alert per failed drill, one per stale period.
    pub dedup_key: String,
    /// When the condition arose.
    pub triggered_at: DateTime<Utc>,
}

/// The alerts due at `now` (each deduplicated by its key when stored).
pub fn due(status: &BackupStatus, now: DateTime<Utc>) -> Vec<Due> {
    let mut out = Vec::new();
    if let Some(drill) = status.last_drill.as_ref().filter(|d| !d.verified) {
        out.push(Due {
            rule: &DRILL_FAILED,
            subject: drill.label.clone(),
            dedup_key: format!("{}:{}", DRILL_FAILED.kind, drill.event_id),
            triggered_at: drill.at,
        });
    }
    let since = match &status.last_verified {
        Some(v) => v.backup_stopped.unwrap_or(v.at),
        None => match status.first_taken {
            Some(first) => first,
            None => return out,
        },
    };
    let stale_from = since + Duration::hours(VERIFIED_MAX_AGE_HOURS);
    if now > stale_from {
        let anchor = status
            .last_verified
            .as_ref()
            .map_or_else(|| "never".to_owned(), |v| v.event_id.to_string());
        out.push(Due {
            rule: &UNVERIFIED,
            subject: "backups".to_owned(),
            dedup_key: format!("{}:{anchor}", UNVERIFIED.kind),
            triggered_at: stale_from,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::alerts::Drill;

    fn at(hours: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap() + Duration::hours(hours)
    }

    fn drill(hours: i64, verified: bool) -> Drill {
        Drill {
            event_id: uuid::Uuid::from_u128(hours as u128 + 1),
            at: at(hours),
            label: format!("label-{hours}"),
            backup_stopped: Some(at(hours - 1)),
            verified,
            restore_seconds: Some(3.0),
        }
    }

    fn kinds(status: &BackupStatus, now: i64) -> Vec<&'static str> {
        due(status, at(now)).iter().map(|d| d.rule.kind).collect()
    }

    #[test]
    fn nothing_is_due_where_backups_are_not_used() {
        assert!(due(&BackupStatus::default(), at(1000)).is_empty());
    }

    #[test]
    fn a_verified_backup_is_stale_26_hours_after_it_finished_and_not_before() {
        let status = BackupStatus {
            first_taken: Some(at(-1)),
            last_taken: Some(at(-1)),
            last_drill: Some(drill(0, true)),
            last_verified: Some(drill(0, true)),
            archive_lag_seconds: None,
        };
        // Stopped at hour -1: stale after hour 25.
        assert!(kinds(&status, 25).is_empty());
        assert_eq!(kinds(&status, 26), ["backup_unverified"]);
    }

    #[test]
    fn a_failed_drill_raises_its_own_alert_and_never_verified_backups_go_stale() {
        let status = BackupStatus {
            first_taken: Some(at(0)),
            last_taken: Some(at(0)),
            last_drill: Some(drill(1, false)),
            last_verified: None,
            archive_lag_seconds: None,
        };
        assert_eq!(kinds(&status, 2), ["backup_drill_failed"]);
        assert_eq!(
            kinds(&status, 27),
            ["backup_drill_failed", "backup_unverified"]
        );
        let keys: Vec<String> = due(&status, at(27))
            .into_iter()
            .map(|d| d.dedup_key)
            .collect();
        assert_eq!(keys[1], "backup_unverified:never");
    }
}
