//! Storage of idempotent requests: one row per clinic, caller and
//! `Idempotency-Key`, in flight until its first answer is stored (implemented
//! by the persistence crate).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::DomainError;
use crate::ids::{ClinicId, PatientId};

/// A request to record as in flight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewIdempotentRequest<'a> {
    /// The clinic it acts in.
    pub clinic: ClinicId,
    /// The row's id: the claim's token, and what the sealed answer is bound to.
    pub id: Uuid,
    /// Who sent it (see `idempotency::caller`).
    pub caller: Uuid,
    /// The SHA-256 of the client's key (hex): the key itself is not kept.
    pub key: &'a str,
    /// The request's fingerprint, keyed with the clinic's index key (hex).
    pub fingerprint: &'a str,
    /// When it arrived.
    pub created_at: DateTime<Utc>,
    /// When the key may be used for another request.
    pub expires_at: DateTime<Utc>,
    /// Until when it counts as in flight unless an answer is stored (a crashed
    /// node's claim lapses then).
    pub locked_until: DateTime<Utc>,
}

/// A request as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotentRequest {
    /// The row's id.
    pub id: Uuid,
    /// The request's keyed fingerprint (hex).
    pub fingerprint: String,
    /// When the key may be used for another request.
    pub expires_at: DateTime<Utc>,
    /// Until when the request is in flight; `None` once answered.
    pub locked_until: Option<DateTime<Utc>>,
    /// The stored answer, once there is one.
    pub answer: Option<SealedAnswer>,
}

/// An answer as stored: the status and headers in the clear, the body sealed
/// under the clinic's data key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedAnswer {
    /// The HTTP status (a success).
    pub status: u16,
    /// The headers replayed with it, as `(name, value)`.
    pub headers: Vec<(String, String)>,
    /// The body, sealed.
    pub body: Vec<u8>,
}

/// Storage of idempotent requests.
pub trait IdempotencyRepo {
    /// Inserts the request unless the clinic's caller already has a row for
    /// the key: whether it was inserted. A concurrent insert of the same key
    /// waits for the other transaction and then answers `false`.
    fn insert_idempotent_request(
        &mut self,
        request: &NewIdempotentRequest<'_>,
    ) -> Result<bool, DomainError>;

    /// The caller's row for the key (its SHA-256, hex), locked until the
    /// transaction ends.
    fn idempotent_request(
        &mut self,
        clinic: ClinicId,
        caller: Uuid,
        key: &str,
    ) -> Result<Option<IdempotentRequest>, DomainError>;

    /// Deletes a row (expired, lapsed, or released because its answer is not
    /// kept): whether it was there.
    fn forget_idempotent_request(
        &mut self,
        clinic: ClinicId,
        id: Uuid,
    ) -> Result<bool, DomainError>;

    /// Stores the answer of a row still in flight, with the patient it names:
    /// whether it was (a row that lapsed and was taken over by a retry is left
    /// alone).
    fn answer_idempotent_request(
        &mut self,
        clinic: ClinicId,
        id: Uuid,
        answer: &SealedAnswer,
        patient: Option<PatientId>,
        now: DateTime<Utc>,
    ) -> Result<bool, DomainError>;

    /// Deletes up to `limit` of the clinic's rows expired at `now`: how many.
    fn purge_idempotent_requests(
        &mut self,
        clinic: ClinicId,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<usize, DomainError>;

    /// Every clinic (platform scope: found through their audit chains, which
    /// every clinic has from its creation).
    fn idempotency_clinics(&mut self) -> Result<Vec<ClinicId>, DomainError>;
}
