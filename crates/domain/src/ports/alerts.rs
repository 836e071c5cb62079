//! Storage of security alerts and the detectors' reads of the audit trail
//! (implemented by the persistence crate).

use chrono::{DateTime, Utc};

use crate::DomainError;
use crate::ids::{AlertId, ChainId, ClinicId};
use crate::paging::Page;
use crate::ports::audit::ChainHead;

/// Who a rule counts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectKind {
    /// The account acting (or signing in).
    Account,
    /// The client address.
    ClientIp,
}

/// A stored alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityAlert {
    /// Its id.
    pub id: AlertId,
    /// The clinic (none for platform alerts, e.g. on an account's sign-ins).
    pub clinic_id: Option<ClinicId>,
    /// Its kind (a rule's).
    pub kind: String,
    /// Who: an account id or a client address.
    pub subject: String,
    /// Deduplication: kind, subject and window.
    pub dedup_key: String,
    /// Events counted.
    pub event_count: i64,
    /// When the event that crossed the threshold happened.
    pub triggered_at: DateTime<Utc>,
    /// When the alert was raised.
    pub raised_at: DateTime<Utc>,
    /// Non-sensitive details (JSON).
    pub details: String,
}

/// Alert storage and the detectors' reads, inside a transaction.
pub trait AlertsRepo {
    /// Chains with events the detectors have not read (platform scope).
    fn chains_to_scan(&mut self, limit: i64) -> Result<Vec<ChainHead>, DomainError>;
    /// Locks one chain's head for scanning (`FOR UPDATE SKIP LOCKED`); its
    /// read-up-to position, or none when taken or already read.
    fn claim_chain_scan(&mut self, chain: ChainId) -> Result<Option<i64>, DomainError>;
    /// Records how far the detectors have read a chain.
    fn set_chain_scanned(&mut self, chain: ChainId, through: i64) -> Result<(), DomainError>;
    /// Counts visible events with one of `actions` by a subject in `[from, to]`,
    /// in one chain or (with `chain: None`) across the platform's events.
    fn count_subject_events(
        &mut self,
        actions: &[&str],
        by: SubjectKind,
        subject: &str,
        chain: Option<ChainId>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<i64, DomainError>;
    /// Stores an alert unless one with its key exists; true when stored.
    fn insert_alert(&mut self, alert: &SecurityAlert) -> Result<bool, DomainError>;
    /// What the platform chain says about backups (`backup.taken`,
    /// `backup.verified`), and the live cluster's WAL archiving lag.
    fn backup_status(&mut self) -> Result<BackupStatus, DomainError>;
    /// A page of a clinic's alerts, newest first, after `before` in that order.
    fn alerts(
        &mut self,
        clinic: ClinicId,
        before: Option<AlertKey>,
        limit: i64,
    ) -> Result<Page<SecurityAlert, AlertKey>, DomainError>;
}

/// Backups as the platform audit chain records them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BackupStatus {
    /// When the first successful backup was recorded (none: backups unused).
    pub first_taken: Option<DateTime<Utc>>,
    /// When the last successful backup was recorded.
    pub last_taken: Option<DateTime<Utc>>,
    /// The last restore drill, passed or failed.
    pub last_drill: Option<Drill>,
    /// The last restore drill that passed.
    pub last_verified: Option<Drill>,
    /// Seconds of WAL written and not yet archived (none: archiving is off or
    /// has never archived).
    pub archive_lag_seconds: Option<f64>,
}

/// One restore drill (`backup.verified`).
#[derive(Debug, Clone, PartialEq)]
pub struct Drill {
    /// Its audit event.
    pub event_id: uuid::Uuid,
    /// When it was recorded.
    pub at: DateTime<Utc>,
    /// The backup drilled.
    pub label: String,
    /// When that backup finished.
    pub backup_stopped: Option<DateTime<Utc>>,
    /// Whether it passed.
    pub verified: bool,
    /// The measured restore time, in seconds.
    pub restore_seconds: Option<f64>,
}

/// Where an alert stands in the list's order (newest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AlertKey {
    /// When it was raised.
    pub raised_at: DateTime<Utc>,
    /// Its id.
    pub id: AlertId,
}
