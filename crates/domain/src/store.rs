//! Transactions as a port: a service runs its repository calls inside one
//! transaction, scoped to a clinic (row-level security) or to the platform.

use crate::DomainError;
use crate::concurrency::VersionsRepo;
use crate::ids::{AccountId, ClinicId};
use crate::outbox::OutboxRepo;
use crate::ports::alerts::AlertsRepo;
use crate::ports::appointments::AppointmentsRepo;
use crate::ports::audit::AuditRepo;
use crate::ports::clinic::ClinicRepo;
use crate::ports::identity::IdentityRepo;
use crate::ports::keys::KeysRepo;
use crate::ports::notes::NotesRepo;
use crate::ports::patients::PatientsRepo;
use crate::ports::queue::QueueRepo;
use crate::ports::reminders::RemindersRepo;
use crate::ports::roles::RolesRepo;
use crate::ports::schedule::ScheduleRepo;
use crate::ports::staff::StaffRepo;

/// What a transaction may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Platform tables only (accounts, sign-in steps): no clinic is set.
    Platform,
    /// One clinic's rows: the clinic is set for row-level security.
    Clinic(ClinicId),
    /// One person's own identity rows across clinics (memberships, sessions).
    Account(AccountId),
}

/// Every repository available inside a transaction.
pub trait Tx:
    IdentityRepo
    + AuditRepo
    + AlertsRepo
    + OutboxRepo
    + StaffRepo
    + RolesRepo
    + ClinicRepo
    + PatientsRepo
    + AppointmentsRepo
    + QueueRepo
    + NotesRepo
    + ScheduleRepo
    + RemindersRepo
    + KeysRepo
    + VersionsRepo
{
}

/// Opens transactions. Object-safe so the HTTP layer can hold it as `dyn Store`.
pub trait Store: Send + Sync {
    /// Runs `work` in one transaction: committed when it returns `Ok`, rolled back
    /// otherwise.
    fn run(
        &self,
        scope: Scope,
        work: &mut dyn FnMut(&mut dyn Tx) -> Result<(), DomainError>,
    ) -> Result<(), DomainError>;
}

/// Runs `work` in one transaction and returns its value.
pub fn in_tx<T>(
    store: &dyn Store,
    scope: Scope,
    work: impl FnOnce(&mut dyn Tx) -> Result<T, DomainError>,
) -> Result<T, DomainError> {
    let mut work = Some(work);
    let mut out = None;
    store.run(scope, &mut |tx| {
        let work = work
            .take()
            .ok_or_else(|| DomainError::Internal("transaction body ran twice".into()))?;
        out = Some(work(tx)?);
        Ok(())
    })?;
    out.ok_or_else(|| DomainError::Internal("transaction produced no value".into()))
}
