//! Optimistic concurrency: every mutable resource has a version that each change
//! increments. A client names the version it read (`If-Match`), and a change to
//! any other version is refused as stale, so no change overwrites one its author
//! did not see. The row is locked while the version is checked and changed, so
//! two changes of one resource never interleave.

use crate::DomainError;
use crate::ids::{
    AppointmentId, ClinicId, MembershipId, NoteId, PatientId, QueueEntryId, RoleId,
    WebhookEndpointId,
};

/// The version a change is made against: the one the client read, or any (`*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// Whatever the current version is (`If-Match: *`).
    Any,
    /// This version and no other.
    Version(i32),
}

impl Expected {
    /// Ok when `current` is what the change was made against; else `Stale`.
    pub fn check(self, current: i32) -> Result<(), DomainError> {
        match self {
            Self::Version(expected) if expected != current => Err(DomainError::Stale { current }),
            _ => Ok(()),
        }
    }
}

/// The resources that carry a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Versioned {
    /// The clinic's settings (keyed by the clinic itself).
    Clinic,
    /// A membership: a member's role, permissions, state, and practitioner profile.
    Membership,
    /// A custom role.
    CustomRole,
    /// A clinical note.
    Note,
    /// An appointment.
    Appointment,
    /// A queue entry.
    QueueEntry,
    /// A patient.
    Patient,
    /// A webhook endpoint.
    WebhookEndpoint,
}

/// The id of a resource that carries a version: its type names the resource, so
/// a version is never looked up in one table with another entity's id.
pub trait VersionedId: Copy + Into<uuid::Uuid> {
    /// The resource this id names.
    const RESOURCE: Versioned;
}

macro_rules! versioned_ids {
    ($($id:ty => $resource:ident),* $(,)?) => {$(
        impl VersionedId for $id {
            const RESOURCE: Versioned = Versioned::$resource;
        }
    )*};
}

versioned_ids!(
    ClinicId => Clinic,
    MembershipId => Membership,
    RoleId => CustomRole,
    NoteId => Note,
    AppointmentId => Appointment,
    QueueEntryId => QueueEntry,
    PatientId => Patient,
    WebhookEndpointId => WebhookEndpoint,
);

/// Storage of versions: each table's `version` column (the row named by the
/// resource kind and its id, as the table stores it; services go through
/// [`lock_version`], [`bump_version`] and [`lock_checked`], which take typed ids).
pub trait VersionsRepo {
    /// Locks the resource's row until the transaction ends and returns its
    /// version; `None` when the clinic has no such resource.
    fn lock_version(
        &mut self,
        resource: Versioned,
        clinic: ClinicId,
        id: uuid::Uuid,
    ) -> Result<Option<i32>, DomainError>;
    /// Increments the resource's version and returns the new one.
    fn bump_version(
        &mut self,
        resource: Versioned,
        clinic: ClinicId,
        id: uuid::Uuid,
    ) -> Result<i32, DomainError>;
}

/// Locks a resource's row until the transaction ends and returns its version;
/// `None` when the clinic has no such resource.
pub fn lock_version<I: VersionedId>(
    tx: &mut dyn VersionsRepo,
    clinic: ClinicId,
    id: I,
) -> Result<Option<i32>, DomainError> {
    tx.lock_version(I::RESOURCE, clinic, id.into())
}

/// Increments a resource's version and returns the new one.
pub fn bump_version<I: VersionedId>(
    tx: &mut dyn VersionsRepo,
    clinic: ClinicId,
    id: I,
) -> Result<i32, DomainError> {
    tx.bump_version(I::RESOURCE, clinic, id.into())
}

/// Locks a resource and checks the version a change is made against; returns its
/// current version. `NotFound` when there is no such resource, then
/// `PreconditionRequired` when the client named no version, `Stale` when the
/// resource moved on. (Call it after the permission check.)
pub fn lock_checked<I: VersionedId>(
    tx: &mut dyn VersionsRepo,
    clinic: ClinicId,
    id: I,
    expected: Option<Expected>,
) -> Result<i32, DomainError> {
    let current = lock_version(tx, clinic, id)?.ok_or(DomainError::NotFound)?;
    expected
        .ok_or(DomainError::PreconditionRequired)?
        .check(current)?;
    Ok(current)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_current_version_or_any_passes() {
        assert!(Expected::Any.check(7).is_ok());
        assert!(Expected::Version(7).check(7).is_ok());
        assert!(matches!(
            Expected::Version(6).check(7),
            Err(DomainError::Stale { current: 7 })
        ));
    }
}
