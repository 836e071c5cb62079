//! Storage of the records archive: the clinics the archive job walks, the lock
//! each round takes on one, and the move of inactive patients (implemented by
//! the persistence crate).

use chrono::{DateTime, Utc};

use crate::DomainError;
use crate::ids::{ClinicId, PatientId};

/// Storage of the records archive.
pub trait ArchiveRepo {
    /// Every clinic (platform scope: found through their audit chains, which
    /// every clinic has from its creation).
    fn archive_clinics(&mut self) -> Result<Vec<ClinicId>, DomainError>;
    /// Locks the clinic's row until the transaction ends; false when another
    /// transaction holds it (`SKIP LOCKED`: another node is archiving it).
    fn lock_clinic_for_archive(&mut self, clinic: ClinicId) -> Result<bool, DomainError>;
    /// Moves to the records archive, at `now`, up to `limit` patients whose last
    /// encounter (latest appointment not cancelled or missed, or note; their
    /// registration when they have neither) is before `before`: their ids.
    fn move_to_records_archive(
        &mut self,
        clinic: ClinicId,
        before: DateTime<Utc>,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<PatientId>, DomainError>;
}
