//! Storage of appointments: the repository trait and the rows it reads and writes
//! (implemented by the persistence crate).

use chrono::{DateTime, Utc};

use crate::DomainError;
use crate::ids::{AppointmentId, ClinicId, HistoryEntryId, MembershipId, PatientId};
use crate::paging::Page;

/// Where an appointment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Booked.
    Scheduled,
    /// Confirmed by the patient.
    Confirmed,
    /// The patient arrived.
    CheckedIn,
    /// With the practitioner.
    InProgress,
    /// Done.
    Completed,
    /// Called off (with a reason).
    Cancelled,
    /// The patient did not come.
    NoShow,
}

impl Status {
    /// Every status.
    pub const ALL: [Status; 7] = [
        Status::Scheduled,
        Status::Confirmed,
        Status::CheckedIn,
        Status::InProgress,
        Status::Completed,
        Status::Cancelled,
        Status::NoShow,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Confirmed => "confirmed",
            Self::CheckedIn => "checked_in",
            Self::InProgress => "in_progress",
            Self::Completed => "completed",
            Self::Cancelled => "cancelled",
            Self::NoShow => "no_show",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Whether the state machine allows `self -> to`.
    pub fn can_become(self, to: Status) -> bool {
        use Status::*;
        matches!(
            (self, to),
            (Scheduled, Confirmed)
                | (Scheduled | Confirmed, CheckedIn)
                | (CheckedIn, InProgress)
                | (InProgress, Completed)
                | (Scheduled | Confirmed | CheckedIn, Cancelled)
                | (Scheduled | Confirmed, NoShow)
        )
    }

    /// Whether the appointment still holds its slot.
    pub fn is_active(self) -> bool {
        !matches!(self, Self::Cancelled | Self::NoShow)
    }
}

/// An appointment (reason still sealed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAppointment {
    /// Its id.
    pub id: AppointmentId,
    /// The patient.
    pub patient_id: PatientId,
    /// The practitioner (a membership).
    pub practitioner_id: MembershipId,
    /// Start.
    pub starts_at: DateTime<Utc>,
    /// End.
    pub ends_at: DateTime<Utc>,
    /// Sealed reason.
    pub sealed_reason: Option<Vec<u8>>,
    /// Status.
    pub status: Status,
    /// Why it was cancelled.
    pub cancel_reason: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Updated.
    pub updated_at: DateTime<Utc>,
    /// Its version (optimistic concurrency).
    pub version: i32,
}

/// An appointment as a caller sees it: the reason only with `clinical.read`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appointment {
    /// Stored fields.
    pub stored: StoredAppointment,
    /// The reason, when the caller may read clinical data.
    pub reason: Option<String>,
    /// Reminders and their delivery status (single reads only).
    pub reminders: Option<Vec<crate::ports::reminders::Reminder>>,
    /// Sealed fields that failed their integrity check (altered at rest): absent
    /// from this answer, recorded in the audit trail.
    pub unavailable: Vec<&'static str>,
}

/// One recorded change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// When.
    pub at: DateTime<Utc>,
    /// Who (membership).
    pub actor: MembershipId,
    /// What changed: `{"field": {"from": .., "to": ..}}`.
    pub change: serde_json::Value,
}

/// Filters of the appointment list.
#[derive(Debug, Clone, Default)]
pub struct AppointmentQuery {
    /// Starting at or after.
    pub from: Option<DateTime<Utc>>,
    /// Starting before.
    pub to: Option<DateTime<Utc>>,
    /// One practitioner.
    pub practitioner: Option<MembershipId>,
    /// One patient.
    pub patient: Option<PatientId>,
    /// One status.
    pub status: Option<Status>,
    /// Page size.
    pub limit: i64,
    /// Continue after this sort key.
    pub after: Option<AppointmentKey>,
}

/// Where an appointment stands in the list's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AppointmentKey {
    /// Its start.
    pub starts_at: DateTime<Utc>,
    /// Its id.
    pub id: AppointmentId,
}

/// A booking to make.
#[derive(Debug, Clone)]
pub struct NewBooking {
    /// The patient.
    pub patient: PatientId,
    /// The practitioner.
    pub practitioner: MembershipId,
    /// Start.
    pub starts_at: DateTime<Utc>,
    /// End.
    pub ends_at: DateTime<Utc>,
    /// Reason (clinical; sealed).
    pub reason: Option<String>,
    /// Book outside working hours (needs `appointments.override`).
    pub override_hours: bool,
}

/// A booking refused because the slot overlaps another active appointment.
pub const DOUBLE_BOOKING: &str = "slot_taken";

/// Storage of appointments (clinic-scoped).
pub trait AppointmentsRepo {
    /// Inserts an appointment; `Conflict(slot_taken)` when the slot is taken.
    fn insert_appointment(
        &mut self,
        clinic: ClinicId,
        a: &StoredAppointment,
    ) -> Result<(), DomainError>;
    /// An appointment, locked for update.
    fn appointment(
        &mut self,
        clinic: ClinicId,
        id: AppointmentId,
    ) -> Result<Option<StoredAppointment>, DomainError>;
    /// Writes an appointment; `Conflict(slot_taken)` when a new slot is taken.
    fn update_appointment(
        &mut self,
        clinic: ClinicId,
        a: &StoredAppointment,
    ) -> Result<(), DomainError>;
    /// A page of appointments in [`AppointmentKey`] order, after `q.after`.
    fn appointments(
        &mut self,
        clinic: ClinicId,
        q: &AppointmentQuery,
    ) -> Result<Page<StoredAppointment, AppointmentKey>, DomainError>;
    /// Records a change.
    fn add_history(
        &mut self,
        clinic: ClinicId,
        id: HistoryEntryId,
        appointment: AppointmentId,
        entry: &HistoryEntry,
    ) -> Result<(), DomainError>;
    /// The changes of an appointment, oldest first.
    fn history(
        &mut self,
        clinic: ClinicId,
        appointment: AppointmentId,
    ) -> Result<Vec<HistoryEntry>, DomainError>;
}
