//! Storage of erasure requests (GDPR article 17, promise D4): the request, the
//! clinic's decision, the patient's last encounter (what the retention period
//! runs from), the one erasure function and the check that nothing remains, and
//! the tombstone (implemented by the persistence crate).

use chrono::{DateTime, Utc};

use crate::DomainError;
use crate::ids::{ClinicId, ErasureRequestId, MembershipId, PatientId};
use crate::ports::closure::TableRows;

/// What the clinic decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErasureDecision {
    /// The record is kept (the reason says why: a legal obligation, a claim).
    Refuse,
    /// The record is erased.
    Erase,
}

impl ErasureDecision {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Refuse => "refuse",
            Self::Erase => "erase",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Refuse, Self::Erase]
            .into_iter()
            .find(|d| d.as_str() == s)
    }
}

/// The decision on a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decided {
    /// Refuse or erase.
    pub decision: ErasureDecision,
    /// Who decided.
    pub by: MembershipId,
    /// When.
    pub at: DateTime<Utc>,
    /// Why, in a few words.
    pub reason: String,
}

/// A patient's erasure request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErasureRequest {
    /// Its id.
    pub id: ErasureRequestId,
    /// The patient.
    pub patient_id: PatientId,
    /// The member who recorded it.
    pub requested_by: MembershipId,
    /// When.
    pub requested_at: DateTime<Utc>,
    /// Why, in a few words.
    pub reason: String,
    /// The clinic's decision, once made.
    pub decided: Option<Decided>,
}

/// What stays of an erased patient: no identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tombstone {
    /// The erased patient's id.
    pub patient_id: PatientId,
    /// The request it answered.
    pub request_id: ErasureRequestId,
    /// Who recorded the request.
    pub requested_by: MembershipId,
    /// Who decided the erasure.
    pub decided_by: MembershipId,
    /// When the rows were deleted.
    pub erased_at: DateTime<Utc>,
}

/// Storage of erasure requests and tombstones (clinic-scoped).
pub trait ErasureRepo {
    /// Stores a request (a conflict when one already waits for a decision).
    fn insert_erasure_request(
        &mut self,
        clinic: ClinicId,
        request: &ErasureRequest,
    ) -> Result<(), DomainError>;
    /// The patient's request waiting for a decision, or else the latest one;
    /// locked until the transaction ends when `lock`.
    fn latest_erasure_request(
        &mut self,
        clinic: ClinicId,
        patient: PatientId,
        lock: bool,
    ) -> Result<Option<ErasureRequest>, DomainError>;
    /// Records the decision on a request.
    fn decide_erasure(
        &mut self,
        clinic: ClinicId,
        request: ErasureRequestId,
        decided: &Decided,
    ) -> Result<(), DomainError>;
    /// The patient's last encounter: their latest appointment that took place or
    /// is planned (not cancelled, not missed) or note, whichever is later.
    fn last_encounter(
        &mut self,
        clinic: ClinicId,
        patient: PatientId,
    ) -> Result<Option<DateTime<Utc>>, DomainError>;
    /// Deletes every row of the patient in every table that names them (the
    /// database function `salus_erase_patient`, which refuses without an
    /// `erase` decision): the rows deleted per table.
    fn erase_patient(
        &mut self,
        clinic: ClinicId,
        patient: PatientId,
    ) -> Result<Vec<TableRows>, DomainError>;
    /// What remains of the patient: every table of every schema but the audit
    /// trail with a `patient_id` column, and `patients`, counted by query.
    fn patient_remains(
        &mut self,
        clinic: ClinicId,
        patient: PatientId,
    ) -> Result<Vec<TableRows>, DomainError>;
    /// Keeps the tombstone of an erased patient.
    fn insert_tombstone(&mut self, clinic: ClinicId, t: &Tombstone) -> Result<(), DomainError>;
    /// The tombstone of an erased patient, if any.
    fn tombstone(
        &mut self,
        clinic: ClinicId,
        patient: PatientId,
    ) -> Result<Option<Tombstone>, DomainError>;
}
