//! Storage of clinic closures (promise D3): the request, the due list the job
//! walks, the one destruction function and the check that nothing remains
//! (implemented by the persistence crate).

use chrono::{DateTime, Utc};

use crate::DomainError;
use crate::ids::{AccountId, ClinicId};

/// A clinic's closure, as asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closure {
    /// The clinic to close.
    pub clinic_id: ClinicId,
    /// Who asked.
    pub requested_by: AccountId,
    /// Their address when they asked (the certificate names them after the
    /// clinic's memberships are gone).
    pub requested_by_email: String,
    /// When they asked.
    pub requested_at: DateTime<Utc>,
    /// When the grace period ends and the clinic is destroyed.
    pub due_at: DateTime<Utc>,
}

/// Rows one table lost (or still holds), by `schema.table`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TableRows {
    /// `schema.table` (`public.patients`, `audit.events`, ...).
    pub table: String,
    /// How many rows.
    pub rows: i64,
}

/// Storage of closures.
pub trait ClosureRepo {
    /// Stores a closure request (refused as a conflict when one exists).
    fn insert_closure(&mut self, closure: &Closure) -> Result<(), DomainError>;
    /// The clinic's closure request, if any.
    fn closure(&mut self, clinic: ClinicId) -> Result<Option<Closure>, DomainError>;
    /// The clinic's closure request, locked until the transaction ends; none
    /// when absent or when another transaction holds it (`SKIP LOCKED`).
    fn lock_closure(&mut self, clinic: ClinicId) -> Result<Option<Closure>, DomainError>;
    /// Withdraws the clinic's closure request; true when there was one.
    fn delete_closure(&mut self, clinic: ClinicId) -> Result<bool, DomainError>;
    /// Clinics whose closure is due at `now` (platform scope), oldest first.
    fn due_closures(
        &mut self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<ClinicId>, DomainError>;
    /// Moves a closure's end to `due_at` (an operator's `--now`).
    fn set_closure_due(
        &mut self,
        clinic: ClinicId,
        due_at: DateTime<Utc>,
    ) -> Result<bool, DomainError>;
    /// Deletes every row of the clinic in every schema (the database function
    /// `salus_destroy_clinic`, which refuses without a closure request): the
    /// rows deleted per table.
    fn destroy_clinic(&mut self, clinic: ClinicId) -> Result<Vec<TableRows>, DomainError>;
    /// The newest backup recorded as taken (`backup.taken`, platform chain)
    /// before `at`: its label and when it was recorded.
    fn last_backup_before(
        &mut self,
        at: DateTime<Utc>,
    ) -> Result<Option<(String, DateTime<Utc>)>, DomainError>;
    /// What remains of the clinic: every table of every schema with a
    /// `clinic_id` column, and `clinics`, counted by query (empty when nothing).
    fn clinic_remains(&mut self, clinic: ClinicId) -> Result<Vec<TableRows>, DomainError>;
}

/// The newest backup that still holds what existed at a moment.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BackupHolding {
    /// Its label in the repository.
    pub label: String,
    /// When it was recorded as taken (what existed while it ran is in it).
    pub taken_at: DateTime<Utc>,
    /// When the retention policy will have removed it at the latest, with the
    /// configured schedule (the next full backup, then the retention period);
    /// the second certificate is issued only once the repository shows it gone.
    pub expected_expiry: DateTime<Utc>,
}

/// The destruction register: signed entries kept where no database backup
/// reaches, re-applied by every restore (the server implements it over a
/// directory).
pub trait DestructionRegister: Send + Sync {
    /// Keeps a signed entry (written whole, or not at all); an entry with the
    /// same name is replaced.
    fn keep(&self, name: &str, entry: &[u8]) -> Result<(), DomainError>;
    /// Removes an entry whose destruction did not commit (none: nothing to do).
    fn withdraw(&self, name: &str) -> Result<(), DomainError>;
}
