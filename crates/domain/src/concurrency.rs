//! Optimistic concurrency: every mutable resource has a version that each change
//! increments. A client names the version it read (`If-Match`), and a change to
//! any other version is refused as stale, so no change overwrites one its author
//! did not see. The row is locked while the version is checked and changed, so
//! two changes of one resource never interleave.

use crate::DomainError;
use crate::ids::ClinicId;

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
}

/// Storage of versions: each table's `version` column.
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

/// Locks a resource and checks the version a change is made against; returns its
/// current version. `NotFound` when there is no such resource, then
/// `PreconditionRequired` when the client named no version, `Stale` when the
/// resource moved on. (Call it after the permission check.)
pub fn lock_checked(
    tx: &mut dyn VersionsRepo,
    resource: Versioned,
    clinic: ClinicId,
    id: uuid::Uuid,
    expected: Option<Expected>,
) -> Result<i32, DomainError> {
    let current = tx
        .lock_version(resource, clinic, id)?
        .ok_or(DomainError::NotFound)?;
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
