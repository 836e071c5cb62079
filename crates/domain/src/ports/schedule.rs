//! Storage of schedule: the repository trait and the rows it reads and writes
//! (implemented by the persistence crate).

use chrono::{DateTime, NaiveTime, Utc};

use crate::DomainError;
use crate::ids::{AbsenceId, ClinicId, MembershipId};

/// One weekly working interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkingHours {
    /// ISO weekday, 1 = Monday.
    pub weekday: u32,
    /// Local start.
    pub starts: NaiveTime,
    /// Local end.
    pub ends: NaiveTime,
}

/// A time off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Absence {
    /// Its id.
    pub id: AbsenceId,
    /// Start.
    pub starts_at: DateTime<Utc>,
    /// End.
    pub ends_at: DateTime<Utc>,
}

/// A time interval.
pub type Interval = (DateTime<Utc>, DateTime<Utc>);

/// A member who sees patients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Practitioner {
    /// The membership.
    pub membership: MembershipId,
    /// Specialty.
    pub specialty: String,
    /// Display name.
    pub name: String,
    /// The membership's version (the practitioner profile and hours are part of it).
    pub version: i32,
}

/// Storage of schedules (clinic-scoped).
pub trait ScheduleRepo {
    /// Flags a member as practitioner.
    fn upsert_practitioner(
        &mut self,
        clinic: ClinicId,
        member: MembershipId,
        specialty: &str,
        at: DateTime<Utc>,
    ) -> Result<(), DomainError>;
    /// The clinic's active practitioners, by family name.
    fn practitioners(&mut self, clinic: ClinicId) -> Result<Vec<Practitioner>, DomainError>;
    /// Whether the member is an active practitioner of the clinic.
    fn is_practitioner(
        &mut self,
        clinic: ClinicId,
        member: MembershipId,
    ) -> Result<bool, DomainError>;
    /// Replaces a practitioner's weekly hours.
    fn set_hours(
        &mut self,
        clinic: ClinicId,
        member: MembershipId,
        hours: &[WorkingHours],
    ) -> Result<(), DomainError>;
    /// A practitioner's weekly hours.
    fn hours(
        &mut self,
        clinic: ClinicId,
        member: MembershipId,
    ) -> Result<Vec<WorkingHours>, DomainError>;
    /// Adds an absence.
    fn insert_absence(
        &mut self,
        clinic: ClinicId,
        member: MembershipId,
        absence: &Absence,
    ) -> Result<(), DomainError>;
    /// Absences overlapping an interval.
    fn absences(
        &mut self,
        clinic: ClinicId,
        member: MembershipId,
        within: Interval,
    ) -> Result<Vec<Absence>, DomainError>;
    /// Active appointments overlapping an interval.
    fn busy(
        &mut self,
        clinic: ClinicId,
        member: MembershipId,
        within: Interval,
    ) -> Result<Vec<Interval>, DomainError>;
}
