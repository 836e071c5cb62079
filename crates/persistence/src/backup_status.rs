//! Backups as the platform audit chain records them (`backup.taken`,
//! `backup.verified`, written by `salus backup`), and the live cluster's WAL
//! archiving lag: what the audit job's backup watch and `/metrics` read. The
//! events are platform events (no clinic, no account), which the API role sees.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Double, Nullable};
use salus_domain::DomainError;
use salus_domain::audit::actions;
use salus_domain::ports::alerts::{BackupStatus, Drill};
use uuid::Uuid;

use crate::cached::CacheStatement;
use crate::pool::DbPool;
use crate::schema::events;
use crate::store::db_error;

/// Seconds of WAL written and not yet archived, as of now: 0 when the segment
/// being written holds nothing past the last archived one, else the time since
/// the last segment was archived (the oldest unarchived WAL is at most that
/// old); NULL when archiving is off, has never archived, or during recovery.
pub const ARCHIVE_LAG_SQL: &str = "SELECT CASE \
    WHEN s.last_archived_wal IS NULL OR pg_is_in_recovery() THEN NULL \
    WHEN pg_walfile_name(pg_current_wal_lsn()) <= s.last_archived_wal THEN 0 \
    ELSE greatest(extract(epoch FROM clock_timestamp() - s.last_archived_time), 0) \
    END::float8 AS lag FROM pg_stat_archiver s;";

#[derive(QueryableByName)]
struct Lag {
    #[diesel(sql_type = Nullable<Double>)]
    lag: Option<f64>,
}

type EventRow = (Uuid, DateTime<Utc>, String, String);

fn latest(
    conn: &mut PgConnection,
    action: &str,
    success_only: bool,
    oldest: bool,
) -> QueryResult<Option<EventRow>> {
    let mut query = events::table
        .filter(events::clinic_id.is_null())
        .filter(events::account_id.is_null())
        .filter(events::action.eq(action))
        .select((
            events::id,
            events::occurred_at,
            events::outcome,
            events::details,
        ))
        .into_boxed();
    if success_only {
        query = query.filter(events::outcome.eq("success"));
    }
    query = if oldest {
        query.order(events::occurred_at.asc())
    } else {
        query.order(events::occurred_at.desc())
    };
    query.first(conn).optional()
}

fn to_drill((event_id, at, outcome, details): EventRow) -> Drill {
    let details: serde_json::Value = serde_json::from_str(&details).unwrap_or_default();
    Drill {
        event_id,
        at,
        label: details["label"].as_str().unwrap_or_default().to_owned(),
        backup_stopped: details["backup_stopped"]
            .as_str()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc)),
        verified: outcome == "success" && details["verified"] == true,
        restore_seconds: details["restore_seconds"].as_f64(),
    }
}

fn query(conn: &mut PgConnection) -> QueryResult<BackupStatus> {
    Ok(BackupStatus {
        first_taken: latest(conn, actions::BACKUP_TAKEN, true, true)?.map(|e| e.1),
        last_taken: latest(conn, actions::BACKUP_TAKEN, true, false)?.map(|e| e.1),
        last_drill: latest(conn, actions::BACKUP_VERIFIED, false, false)?.map(to_drill),
        last_verified: latest(conn, actions::BACKUP_VERIFIED, true, false)?
            .map(to_drill)
            .filter(|d| d.verified),
        archive_lag_seconds: diesel::sql_query(ARCHIVE_LAG_SQL)
            .cached()
            .get_result::<Lag>(conn)?
            .lag,
    })
}

/// The status, read on `conn` (inside the caller's transaction).
pub fn read(conn: &mut PgConnection) -> Result<BackupStatus, DomainError> {
    query(conn).map_err(db_error)
}

/// The status in a read-only transaction of its own (for `/metrics`).
pub fn backup_status(pool: &DbPool) -> Result<BackupStatus, DomainError> {
    let mut conn = crate::pool::checkout(pool)?;
    conn.build_transaction()
        .read_only()
        .run(query)
        .map_err(db_error)
}
