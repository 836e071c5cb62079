//! Idempotent writes (the IETF httpapi draft "The Idempotency-Key HTTP Header
//! Field"): the first answer to a request sent with a key is kept for 24 hours
//! per clinic and caller, and a retry with the same key and the same request
//! gets it again instead of acting twice.
//!
//! A request is first *claimed*: one unique insert decides which of several
//! concurrent copies runs; the others find it in flight. Its answer is then
//! *stored* (a success) or the claim *released* (anything else: nothing was
//! done, so a retry may run again). A claim whose node died before either
//! lapses after [`LEASE`] and a retry takes it over. Stored bodies are sealed
//! under the clinic's data key (they may hold a patient's record); the
//! fingerprint is keyed with the clinic's index key, so no plain hash of a
//! body that holds health data is kept either.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::DomainError;
use crate::actor::Actor;
use crate::audit::export::hex;
use crate::ids::PatientId;
pub use crate::ports::idempotency::SealedAnswer;
use crate::ports::idempotency::{IdempotentRequest, NewIdempotentRequest};
use crate::shared::{Core, transactions};
use crate::store::Scope;

/// How long an answer is kept and replayed, from the first request.
pub const RETENTION: Duration = Duration::hours(24);

/// How long a claim holds without an answer. Far longer than any request may
/// run (each statement is cut at the database's statement timeout, 5 s by
/// default), so only a claim whose node died lapses.
pub const LEASE: Duration = Duration::minutes(1);

/// Expired rows one clinic's purge deletes per transaction.
const PURGED_PER_BATCH: i64 = 500;

/// The table and column stored answers are sealed for.
const TABLE: &str = "idempotent_requests";
const BODY: &str = "response_body";

/// The column name the fingerprint is keyed under.
const FINGERPRINT: &str = "idempotent_requests.fingerprint";

/// Whose keys a request's key is counted among: the member's membership, or
/// the service account (its actor carries the account's own id there), so a
/// partner's keys never meet a person's.
pub fn caller(actor: &Actor) -> Uuid {
    actor.membership_id.uuid()
}

/// An answer to keep or replay: status, the headers that matter, the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The headers replayed with it, as `(name, value)`.
    pub headers: Vec<(String, String)>,
    /// The body as sent.
    pub body: Vec<u8>,
}

/// The right to run a request, given by [`Idempotency::claim`]: pass it to
/// [`Idempotency::store`] or [`Idempotency::release`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    id: Uuid,
}

/// What a request sent with a key may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Nobody ran it: run it, then store or release the ticket.
    Run(Ticket),
    /// It was answered: send this again.
    Replay(Answer),
    /// A copy of it is running: look again shortly.
    InFlight,
    /// The key was used for another request (another fingerprint).
    Mismatch,
}

/// The idempotent-request service.
#[derive(Clone)]
pub struct Idempotency {
    core: Core,
}

impl Idempotency {
    /// The service over `core`.
    pub fn new(core: Core) -> Self {
        Self { core }
    }

    transactions!(IdempotencyTx);

    /// Claims the caller's `key` for a request whose fingerprint (a SHA-256 of
    /// what makes the request itself) is `fingerprint`. No permission of its
    /// own: the action checks its permission when it runs, and a caller only
    /// ever meets its own keys.
    pub fn claim(
        &self,
        actor: &Actor,
        key: &str,
        fingerprint: &[u8; 32],
    ) -> Result<Claim, DomainError> {
        let now = self.core.now();
        let clinic = actor.clinic_id;
        let key = hex(&crate::crypto::sha256(key.as_bytes()));
        self.tx(Scope::Clinic(clinic), |tx| {
            let keys = self.core.clinic_keys(tx, clinic)?;
            let fingerprint = hex(&keys.blind_index(FINGERPRINT, &hex(fingerprint)));
            let id: Uuid = self.core.new_id();
            let new = NewIdempotentRequest {
                clinic,
                id,
                caller: caller(actor),
                key: &key,
                fingerprint: &fingerprint,
                created_at: now,
                expires_at: now + RETENTION,
                locked_until: now + LEASE,
            };
            if tx.insert_idempotent_request(&new)? {
                return Ok(Claim::Run(Ticket { id }));
            }
            let Some(found) = tx.idempotent_request(clinic, new.caller, &key)? else {
                // Released between the insert and the read: the next look claims it.
                return Ok(Claim::InFlight);
            };
            match verdict(&found, &fingerprint, now) {
                Verdict::Stale => {
                    tx.forget_idempotent_request(clinic, found.id)?;
                    if tx.insert_idempotent_request(&new)? {
                        Ok(Claim::Run(Ticket { id }))
                    } else {
                        Ok(Claim::InFlight)
                    }
                }
                Verdict::Mismatch => Ok(Claim::Mismatch),
                Verdict::InFlight => Ok(Claim::InFlight),
                Verdict::Answered(sealed) => {
                    let body = keys.open_field(TABLE, BODY, found.id, &sealed.body)?;
                    Ok(Claim::Replay(Answer {
                        status: sealed.status,
                        headers: sealed.headers.clone(),
                        body,
                    }))
                }
            }
        })
    }

    /// Stores the answer of a claimed request, its body sealed, with the
    /// patient it names (a patient's erasure takes it). A claim that lapsed and
    /// was taken over keeps the newer request's answer.
    pub fn store(
        &self,
        actor: &Actor,
        ticket: Ticket,
        answer: &Answer,
        patient: Option<PatientId>,
    ) -> Result<(), DomainError> {
        let now = self.core.now();
        let clinic = actor.clinic_id;
        self.tx(Scope::Clinic(clinic), |tx| {
            let keys = self.core.clinic_keys(tx, clinic)?;
            let sealed = SealedAnswer {
                status: answer.status,
                headers: answer.headers.clone(),
                body: keys.seal_field(self.core.random(), TABLE, BODY, ticket.id, &answer.body)?,
            };
            tx.answer_idempotent_request(clinic, ticket.id, &sealed, patient, now)?;
            Ok(())
        })
    }

    /// Gives a claimed request's key back (its answer is not kept), so a retry
    /// runs it again.
    pub fn release(&self, actor: &Actor, ticket: Ticket) -> Result<(), DomainError> {
        let clinic = actor.clinic_id;
        self.tx(Scope::Clinic(clinic), |tx| {
            tx.forget_idempotent_request(clinic, ticket.id)?;
            Ok(())
        })
    }

    /// Deletes every expired row of every clinic, each clinic in transactions
    /// of its own (the closure job's round): how many.
    pub fn purge_expired(&self) -> Result<usize, DomainError> {
        let now = self.core.now();
        let clinics = self.tx(Scope::Platform, |tx| tx.idempotency_clinics())?;
        let mut purged = 0;
        for clinic in clinics {
            loop {
                let batch = self.tx(Scope::Clinic(clinic), |tx| {
                    tx.purge_idempotent_requests(clinic, now, PURGED_PER_BATCH)
                })?;
                purged += batch;
                if i64::try_from(batch).unwrap_or(i64::MAX) < PURGED_PER_BATCH {
                    break;
                }
            }
        }
        Ok(purged)
    }
}

/// What a found row means for a request with `fingerprint` at `now`.
enum Verdict<'a> {
    /// Expired, or claimed by a node that never answered: take it over.
    Stale,
    /// Another request's key.
    Mismatch,
    /// Running, its claim not lapsed.
    InFlight,
    /// Answered.
    Answered(&'a SealedAnswer),
}

fn verdict<'a>(found: &'a IdempotentRequest, fingerprint: &str, now: DateTime<Utc>) -> Verdict<'a> {
    if found.expires_at <= now {
        return Verdict::Stale;
    }
    if found.fingerprint != fingerprint {
        return Verdict::Mismatch;
    }
    match (&found.answer, found.locked_until) {
        (Some(answer), _) => Verdict::Answered(answer),
        (None, Some(until)) if until > now => Verdict::InFlight,
        (None, _) => Verdict::Stale,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(fingerprint: &str, locked: Option<i64>, answered: bool) -> IdempotentRequest {
        IdempotentRequest {
            id: Uuid::nil(),
            fingerprint: fingerprint.to_owned(),
            expires_at: at(86_400),
            locked_until: locked.map(at),
            answer: answered.then(|| SealedAnswer {
                status: 201,
                headers: vec![],
                body: vec![],
            }),
        }
    }

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(s, 0).unwrap_or_default()
    }

    #[test]
    fn an_expired_key_is_free_whatever_it_held() {
        for found in [row("a", None, true), row("b", Some(90_000), false)] {
            assert!(matches!(verdict(&found, "a", at(86_400)), Verdict::Stale));
        }
    }

    #[test]
    fn another_fingerprint_is_a_mismatch_even_while_in_flight() {
        assert!(matches!(
            verdict(&row("a", Some(60), false), "b", at(0)),
            Verdict::Mismatch
        ));
        assert!(matches!(
            verdict(&row("a", None, true), "b", at(0)),
            Verdict::Mismatch
        ));
    }

    #[test]
    fn a_claim_holds_until_its_lease_and_lapses_after() {
        assert!(matches!(
            verdict(&row("a", Some(60), false), "a", at(59)),
            Verdict::InFlight
        ));
        assert!(matches!(
            verdict(&row("a", Some(60), false), "a", at(60)),
            Verdict::Stale
        ));
        assert!(matches!(
            verdict(&row("a", None, true), "a", at(86_399)),
            Verdict::Answered(_)
        ));
    }
}
