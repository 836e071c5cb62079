//! Storage of queue: the repository trait and the rows it reads and writes
//! (implemented by the persistence crate).

use chrono::{DateTime, NaiveDate, Utc};

use crate::DomainError;
use crate::ids::{AppointmentId, ClinicId, MembershipId, PatientId, QueueEntryId};

/// Where a queue entry stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueStatus {
    /// In the waiting room.
    Waiting,
    /// Called.
    Called,
    /// With the practitioner.
    InProgress,
    /// Seen.
    Completed,
    /// Left without being seen.
    Left,
}

impl QueueStatus {
    /// Every status.
    pub const ALL: [QueueStatus; 5] = [
        Self::Waiting,
        Self::Called,
        Self::InProgress,
        Self::Completed,
        Self::Left,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Waiting => "waiting",
            Self::Called => "called",
            Self::InProgress => "in_progress",
            Self::Completed => "completed",
            Self::Left => "left",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Waiting,
            Self::Called,
            Self::InProgress,
            Self::Completed,
            Self::Left,
        ]
        .into_iter()
        .find(|x| x.as_str() == s)
    }

    /// Whether an entry may move from this status to `to`.
    pub fn can_become(self, to: QueueStatus) -> bool {
        use QueueStatus::*;
        matches!(
            (self, to),
            (Called, InProgress) | (InProgress, Completed) | (Waiting | Called, Left)
        )
    }
}

/// A queue entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueEntry {
    /// Its id.
    pub id: QueueEntryId,
    /// The day.
    pub day: NaiveDate,
    /// The ticket number of the day.
    pub ticket: i32,
    /// The patient.
    pub patient_id: PatientId,
    /// The appointment, unless a walk-in.
    pub appointment_id: Option<AppointmentId>,
    /// The practitioner, if assigned.
    pub practitioner_id: Option<MembershipId>,
    /// Status.
    pub status: QueueStatus,
    /// Arrived.
    pub checked_in_at: DateTime<Utc>,
    /// Called.
    pub called_at: Option<DateTime<Utc>>,
    /// Its version (optimistic concurrency).
    pub version: i32,
}

/// Storage of the queue (clinic-scoped).
pub trait QueueRepo {
    /// The next ticket number of the day (atomic).
    fn next_ticket(&mut self, clinic: ClinicId, day: NaiveDate) -> Result<i32, DomainError>;
    /// Inserts an entry.
    fn insert_entry(&mut self, clinic: ClinicId, e: &QueueEntry) -> Result<(), DomainError>;
    /// The day's entries ordered by practitioner, then ticket.
    fn entries(&mut self, clinic: ClinicId, day: NaiveDate)
    -> Result<Vec<QueueEntry>, DomainError>;
    /// Claims the oldest waiting entry (for a practitioner or unassigned), skipping
    /// rows another transaction holds.
    fn claim_next(
        &mut self,
        clinic: ClinicId,
        day: NaiveDate,
        practitioner: Option<MembershipId>,
    ) -> Result<Option<QueueEntry>, DomainError>;
    /// An entry, locked.
    fn entry(
        &mut self,
        clinic: ClinicId,
        id: QueueEntryId,
    ) -> Result<Option<QueueEntry>, DomainError>;
    /// Sets an entry's status and the time of that step.
    fn set_entry_status(
        &mut self,
        clinic: ClinicId,
        id: QueueEntryId,
        status: QueueStatus,
        at: DateTime<Utc>,
    ) -> Result<(), DomainError>;
}
