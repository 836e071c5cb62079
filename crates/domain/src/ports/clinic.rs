//! Storage of clinic: the repository trait and the rows it reads and writes
//! (implemented by the persistence crate).

use crate::DomainError;
use crate::identity::model::Clinic;

/// Changes to the clinic's settings (`None` keeps a value).
#[derive(Debug, Clone, Default)]
pub struct ClinicChanges {
    /// New name.
    pub name: Option<String>,
    /// Session idle timeout, 5 to 60 minutes.
    pub idle_timeout_minutes: Option<i32>,
    /// Whether every member must use MFA.
    pub require_mfa: Option<bool>,
    /// IANA time zone for working hours.
    pub time_zone: Option<String>,
    /// Hours before an appointment its reminder goes out (1 to 168).
    pub reminder_offset_hours: Option<i32>,
    /// Years a medical record is kept after the last encounter (1 to 100).
    pub record_retention_years: Option<i32>,
    /// Years without an encounter before the records archive (1 to 50).
    pub archive_after_years: Option<i32>,
    /// Whether every clinical read must state its purpose of use.
    pub purpose_of_use_required: Option<bool>,
}

/// Storage of clinic settings.
pub trait ClinicRepo {
    /// Writes the clinic's settings.
    fn update_clinic(&mut self, clinic: &Clinic) -> Result<(), DomainError>;
}
