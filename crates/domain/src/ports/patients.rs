//! Storage of patients: the repository trait and the rows it reads and writes
//! (implemented by the persistence crate).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::DomainError;
use crate::ids::{ClinicId, PatientId};
use crate::paging::Page;
use crate::records::RecordState;

/// Administrative sex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    /// Female.
    Female,
    /// Male.
    Male,
    /// Other.
    Other,
    /// Unknown.
    Unknown,
}

impl Sex {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Female => "female",
            Self::Male => "male",
            Self::Other => "other",
            Self::Unknown => "unknown",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Female, Self::Male, Self::Other, Self::Unknown]
            .into_iter()
            .find(|x| x.as_str() == s)
    }
}

/// A postal address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    /// Street lines.
    pub lines: Vec<String>,
    /// Postal code.
    pub postal_code: Option<String>,
    /// City.
    pub city: Option<String>,
    /// Country (ISO 3166-1 alpha-2).
    pub country: Option<String>,
}

/// Whom to call in an emergency.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmergencyContact {
    /// Name.
    pub name: String,
    /// Relationship to the patient.
    pub relationship: Option<String>,
    /// E.164 phone number.
    pub phone: Option<String>,
}

/// Medical history (encrypted at rest).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MedicalHistory {
    /// Allergies.
    pub allergies: Vec<String>,
    /// Conditions.
    pub conditions: Vec<String>,
    /// Medications.
    pub medications: Vec<String>,
    /// Free text.
    pub notes: Option<String>,
}

/// A patient's demographics as written by a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientFields {
    /// Family name.
    pub family_name: String,
    /// Given name.
    pub given_name: String,
    /// Birth date.
    pub birth_date: NaiveDate,
    /// Administrative sex.
    pub sex: Sex,
    /// National identification number (encrypted at rest).
    pub national_id: Option<String>,
    /// E.164 phone.
    pub phone: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Postal address.
    pub address: Option<Address>,
    /// Emergency contact.
    pub emergency_contact: Option<EmergencyContact>,
    /// Preferred language (BCP 47).
    pub preferred_language: Option<String>,
    /// Consent to reminders by email (off by default).
    pub reminder_email: bool,
    /// Consent to reminders by SMS (off by default).
    pub reminder_sms: bool,
}

/// A patient as stored (sealed fields still sealed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPatient {
    /// Its id.
    pub id: PatientId,
    /// Demographics, the national id sealed in `sealed_national_id`.
    pub fields: PatientFields,
    /// Sealed national id.
    pub sealed_national_id: Option<Vec<u8>>,
    /// Blind index of the national id.
    pub national_id_index: Option<Vec<u8>>,
    /// Sealed medical history.
    pub sealed_medical_history: Option<Vec<u8>>,
    /// Archived when.
    pub archived_at: Option<DateTime<Utc>>,
    /// Since when processing is restricted (the patient restricted it or
    /// objected): care only, no reminders.
    pub restricted_at: Option<DateTime<Utc>>,
    /// Since when the patient is in the records archive (no encounter for the
    /// clinic's `archive_after_years`): out of lists, read by break-the-glass only.
    pub records_archived_at: Option<DateTime<Utc>>,
    /// Optimistic-concurrency version.
    pub version: i32,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Updated.
    pub updated_at: DateTime<Utc>,
}

/// A patient as a caller may see it: medical history only with `clinical.read`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patient {
    /// Its id.
    pub id: PatientId,
    /// Demographics.
    pub fields: PatientFields,
    /// Medical history, when the caller may read clinical data.
    pub medical_history: Option<MedicalHistory>,
    /// Sealed fields that failed their integrity check (altered at rest): absent
    /// from this answer, recorded in the audit trail.
    pub unavailable: Vec<&'static str>,
    /// Archived when.
    pub archived_at: Option<DateTime<Utc>>,
    /// Since when processing is restricted (care only, no reminders).
    pub restricted_at: Option<DateTime<Utc>>,
    /// Version (the ETag).
    pub version: i32,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Updated.
    pub updated_at: DateTime<Utc>,
}

/// Filters of the patient list.
#[derive(Debug, Clone, Default)]
pub struct PatientQuery {
    /// Family or given name prefix (case-insensitive).
    pub name: Option<String>,
    /// Exact birth date.
    pub birth_date: Option<NaiveDate>,
    /// Exact phone.
    pub phone: Option<String>,
    /// Exact national id (searched through the blind index).
    pub national_id: Option<String>,
    /// Include archived patients.
    pub include_archived: bool,
    /// Page size (capped).
    pub limit: i64,
    /// Continue after this sort key.
    pub after: Option<PatientKey>,
}

/// Where a patient stands in the list's order: the names as the database folds
/// them (`lower()`), then the id. Made by the repository from the row it sorted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatientKey {
    /// `lower(family_name)`.
    pub family: String,
    /// `lower(given_name)`.
    pub given: String,
    /// The patient's id.
    pub id: PatientId,
}

/// Storage of keys and patients (clinic-scoped).
pub trait PatientsRepo {
    /// Inserts a patient.
    fn insert_patient(
        &mut self,
        clinic: ClinicId,
        patient: &StoredPatient,
    ) -> Result<(), DomainError>;
    /// Inserts many patients at once (bulk loading).
    fn insert_patients(
        &mut self,
        clinic: ClinicId,
        patients: &[StoredPatient],
    ) -> Result<(), DomainError>;
    /// Where the patient's record stands in the clinic (`None`: no such
    /// patient there); see [`crate::records`].
    fn record_state(
        &mut self,
        clinic: ClinicId,
        patient: PatientId,
    ) -> Result<Option<RecordState>, DomainError>;
    /// A patient by id.
    fn patient(
        &mut self,
        clinic: ClinicId,
        id: PatientId,
    ) -> Result<Option<StoredPatient>, DomainError>;
    /// Writes a patient if its version is still `expected`; false otherwise.
    fn update_patient(
        &mut self,
        clinic: ClinicId,
        patient: &StoredPatient,
        expected: i32,
    ) -> Result<bool, DomainError>;
    /// A page of patients in [`PatientKey`] order, after `query.after`.
    fn patients(
        &mut self,
        clinic: ClinicId,
        query: &PatientQuery,
        national_id_index: Option<&[u8]>,
    ) -> Result<Page<StoredPatient, PatientKey>, DomainError>;
}
