//! Storage of notes: the repository trait and the rows it reads and writes
//! (implemented by the persistence crate).

use chrono::{DateTime, Utc};

use crate::DomainError;
use crate::ids::{AppointmentId, ClinicId, MembershipId, NoteId, PatientId};

/// A note as stored (body sealed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredNote {
    /// Its id.
    pub id: NoteId,
    /// The patient.
    pub patient_id: PatientId,
    /// The appointment, if any.
    pub appointment_id: Option<AppointmentId>,
    /// The author.
    pub author: MembershipId,
    /// The note this one corrects.
    pub amends_id: Option<NoteId>,
    /// Sealed body.
    pub sealed_body: Vec<u8>,
    /// Signed when (then immutable).
    pub signed_at: Option<DateTime<Utc>>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Its version (optimistic concurrency).
    pub version: i32,
}

/// A note with its body opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// Stored fields.
    pub stored: StoredNote,
    /// The text.
    pub body: String,
    /// Sealed fields that failed their integrity check (altered at rest): the body
    /// is then empty; recorded in the audit trail.
    pub unavailable: Vec<&'static str>,
}

/// Storage of notes (clinic-scoped).
pub trait NotesRepo {
    /// Inserts a note.
    fn insert_note(&mut self, clinic: ClinicId, note: &StoredNote) -> Result<(), DomainError>;
    /// A note, locked.
    fn note(&mut self, clinic: ClinicId, id: NoteId) -> Result<Option<StoredNote>, DomainError>;
    /// Replaces a draft's body, or signs it.
    fn update_note(
        &mut self,
        clinic: ClinicId,
        note: &StoredNote,
        at: DateTime<Utc>,
    ) -> Result<(), DomainError>;
    /// A patient's notes in writing order.
    fn notes(
        &mut self,
        clinic: ClinicId,
        patient: PatientId,
    ) -> Result<Vec<StoredNote>, DomainError>;
}
