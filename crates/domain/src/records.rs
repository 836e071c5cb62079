//! Where a patient's record stands for the operations that reach it. A record in
//! the records archive (no encounter for the clinic's `archive_after_years`) is
//! sealed: every operation that would read or change it, through the patient or
//! through its notes, appointments or queue entries, answers 403
//! `patient_in_archive`. It opens by break-the-glass (a reason, audited, the
//! owners emailed) and comes back by a return from the archive (the same).
//! What still reaches an archived record, because it shows none of it: its
//! access log, the erasure procedure (the right to erasure covers archives),
//! the clinic's own export and closure.

use crate::DomainError;

/// Where a patient's record stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordState {
    /// In use.
    Active,
    /// In the records archive: opened only by break-the-glass.
    InRecordsArchive,
}

/// The refusal of an operation on a record in the records archive.
pub fn in_archive() -> DomainError {
    DomainError::forbidden(
        "patient_in_archive",
        "This record is in the records archive: read it with POST \
         /api/v1/patients/{id}/break-glass, or bring it back with POST \
         /api/v1/patients/{id}/return-from-archive, each with a reason \
         (patients.archive_read).",
    )
}

/// Lets an operation reach a record only when it is active: `missing` when the
/// clinic has no such patient, [`in_archive`] when it is archived.
pub fn require_active(
    state: Option<RecordState>,
    missing: impl FnOnce() -> DomainError,
) -> Result<(), DomainError> {
    match state {
        Some(RecordState::Active) => Ok(()),
        Some(RecordState::InRecordsArchive) => Err(in_archive()),
        None => Err(missing()),
    }
}
