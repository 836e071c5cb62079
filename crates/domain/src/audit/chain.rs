//! The hash chain. Each event's hash is
//! `SHA-256(prev_hash || canonical JSON)`, where the canonical JSON is the object
//! below with its keys in this order, no whitespace, times as
//! `YYYY-MM-DDTHH:MM:SS.ffffffZ` and absent values as `null`:
//! `v, chain_id, seq, id, clinic_id, occurred_at, account_id, membership_id,
//! session_id, client_ip, user_agent, request_id, action, resource_type,
//! resource_id, outcome, details` (`details` is the stored JSON text, as a string).
//! The first event of a chain has 32 zero bytes as `prev_hash`; after a purge, the
//! first remaining event's `prev_hash` is the hash a signed checkpoint sealed.

use chrono::{DateTime, SubsecRound, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::ids::{AccountId, AuditEventId, ChainId, ClinicId, MembershipId, SessionId};

use super::model::{AuditEvent, NewAuditEvent, Outcome};

/// The hash before a chain's first event.
pub const GENESIS: [u8; 32] = [0; 32];

const ENCODING_VERSION: u8 = 1;

/// A time as hashed and stored: UTC, microseconds.
pub fn stored_time(at: DateTime<Utc>) -> DateTime<Utc> {
    at.trunc_subsecs(6)
}

/// A time as the canonical encoding writes it: `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
pub fn format_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// The members before `seq`.
#[derive(Serialize)]
struct CanonicalHead {
    v: u8,
    chain_id: ChainId,
}

/// The members after `seq`, in the documented order.
#[derive(Serialize)]
struct CanonicalTail<'a> {
    id: AuditEventId,
    clinic_id: Option<ClinicId>,
    occurred_at: String,
    account_id: Option<AccountId>,
    membership_id: Option<MembershipId>,
    session_id: Option<SessionId>,
    client_ip: Option<&'a str>,
    user_agent: Option<&'a str>,
    request_id: Option<&'a str>,
    action: &'a str,
    resource_type: Option<&'a str>,
    resource_id: Option<Uuid>,
    outcome: Outcome,
    details: &'a str,
}

/// The canonical encoding of `e` in `chain_id` around its position: the bytes
/// before the decimal `seq` and the bytes after it. The database appends an event
/// by hashing `prev_hash || before || seq || after` once it has taken the chain's
/// head, so the position needs no round trip to the application.
pub fn canonical_parts(chain_id: ChainId, e: &NewAuditEvent) -> (Vec<u8>, Vec<u8>) {
    let head = CanonicalHead {
        v: ENCODING_VERSION,
        chain_id,
    };
    let tail = CanonicalTail {
        id: e.id,
        clinic_id: e.clinic_id,
        occurred_at: format_time(e.occurred_at),
        account_id: e.account_id,
        membership_id: e.membership_id,
        session_id: e.session_id,
        client_ip: e.client_ip.as_deref(),
        user_agent: e.user_agent.as_deref(),
        request_id: e.request_id.as_deref(),
        action: &e.action,
        resource_type: e.resource_type.as_deref(),
        resource_id: e.resource_id,
        outcome: e.outcome,
        details: &e.details,
    };
    // `{"v":1,"chain_id":"…"}` loses its closing brace and gains `,"seq":`;
    // `{"id":…}` loses its opening brace to a comma.
    let mut before = serde_json::to_vec(&head).unwrap_or_default();
    before.pop();
    before.extend_from_slice(b",\"seq\":");
    let mut after = serde_json::to_vec(&tail).unwrap_or_default();
    if let Some(brace) = after.first_mut() {
        *brace = b',';
    }
    (before, after)
}

/// The canonical encoding of an event at `seq` of `chain_id`.
pub fn canonical(chain_id: ChainId, seq: i64, e: &NewAuditEvent) -> Vec<u8> {
    let (mut encoded, after) = canonical_parts(chain_id, e);
    encoded.extend_from_slice(seq.to_string().as_bytes());
    encoded.extend_from_slice(&after);
    encoded
}

/// The hash of an event that follows `prev_hash`.
pub fn link_hash(prev_hash: &[u8], chain_id: ChainId, seq: i64, e: &NewAuditEvent) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(prev_hash);
    h.update(canonical(chain_id, seq, e));
    h.finalize().to_vec()
}

/// Appends `e` after a head at (`seq`, `hash`): what the database's append
/// statement computes, here for chains built outside it (tests, tools).
pub fn link(head_seq: i64, head_hash: &[u8], e: NewAuditEvent) -> AuditEvent {
    let chain_id = e.chain_id();
    let seq = head_seq + 1;
    let hash = link_hash(head_hash, chain_id, seq, &e);
    AuditEvent {
        chain_id,
        seq,
        event: e,
        prev_hash: head_hash.to_vec(),
        hash,
    }
}

/// Where a chain stops being trustworthy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Break {
    /// The chain.
    pub chain_id: ChainId,
    /// The position where the problem shows.
    pub seq: i64,
    /// The event there, when there is one.
    pub event_id: Option<AuditEventId>,
    /// What is wrong.
    pub reason: String,
}

/// Walks a chain's events in stored order and reports the first break. `start`
/// is the trusted hash before the first event given: the genesis, or a verified
/// checkpoint's hash when the chain was purged up to `start_seq`.
pub struct ChainWalk {
    chain_id: ChainId,
    expected_seq: i64,
    expected_prev: Vec<u8>,
}

impl ChainWalk {
    /// A walk that expects `start_seq + 1` next, after `start_hash`.
    pub fn new(chain_id: ChainId, start_seq: i64, start_hash: &[u8]) -> Self {
        Self {
            chain_id,
            expected_seq: start_seq + 1,
            expected_prev: start_hash.to_vec(),
        }
    }

    /// Checks the next event; `Err` names the first problem.
    pub fn step(&mut self, e: &AuditEvent) -> Result<(), Break> {
        let fail = |reason: String| Break {
            chain_id: self.chain_id,
            seq: e.seq,
            event_id: Some(e.event.id),
            reason,
        };
        if e.chain_id != self.chain_id || e.event.chain_id() != self.chain_id {
            return Err(fail("the event does not belong to this chain".into()));
        }
        if e.seq != self.expected_seq {
            return Err(fail(format!(
                "expected event {} here, found {}: events are missing or out of order",
                self.expected_seq, e.seq
            )));
        }
        if e.prev_hash != self.expected_prev {
            return Err(fail(
                "its previous hash does not match the event before it".into(),
            ));
        }
        if link_hash(&e.prev_hash, e.chain_id, e.seq, &e.event) != e.hash {
            return Err(fail(
                "its content does not match its hash: the event was altered".into(),
            ));
        }
        self.expected_seq = e.seq + 1;
        self.expected_prev = e.hash.clone();
        Ok(())
    }

    /// The last verified position and hash.
    pub fn head(&self) -> (i64, &[u8]) {
        (self.expected_seq - 1, &self.expected_prev)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn event(n: u8) -> NewAuditEvent {
        NewAuditEvent {
            id: AuditEventId(Uuid::from_bytes([n; 16])),
            clinic_id: Some(ClinicId(Uuid::from_bytes([9; 16]))),
            occurred_at: Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
            account_id: None,
            membership_id: None,
            session_id: None,
            client_ip: Some("203.0.113.7".into()),
            user_agent: None,
            request_id: None,
            action: "patient.created".into(),
            resource_type: Some("patient".into()),
            resource_id: Some(Uuid::from_bytes([n; 16])),
            outcome: Outcome::Success,
            details: "{}".into(),
        }
    }

    fn chain(n: u8) -> Vec<AuditEvent> {
        let mut out: Vec<AuditEvent> = Vec::new();
        for i in 0..n {
            let (seq, hash) = out
                .last()
                .map_or((0, GENESIS.to_vec()), |e| (e.seq, e.hash.clone()));
            out.push(link(seq, &hash, event(i)));
        }
        out
    }

    fn walk(events: &[AuditEvent]) -> Result<(), Break> {
        let mut w = ChainWalk::new(events[0].chain_id, 0, &GENESIS);
        events.iter().try_for_each(|e| w.step(e))
    }

    #[test]
    fn an_intact_chain_verifies() {
        assert_eq!(walk(&chain(5)), Ok(()));
    }

    #[test]
    fn an_edit_a_deletion_and_a_swap_each_break_the_chain_where_they_are() {
        let mut edited = chain(5);
        edited[2].event.action = "patient.read".into();
        assert_eq!(walk(&edited).unwrap_err().seq, 3);

        let mut deleted = chain(5);
        deleted.remove(1);
        assert_eq!(walk(&deleted).unwrap_err().seq, 3);

        let mut swapped = chain(5);
        swapped.swap(1, 2);
        assert_eq!(walk(&swapped).unwrap_err().seq, 3);
    }

    #[test]
    fn the_encoding_is_stable() {
        let e = event(1);
        let text = String::from_utf8(canonical(e.chain_id(), 1, &e)).unwrap();
        assert!(
            text.starts_with(
                r#"{"v":1,"chain_id":"09090909-0909-0909-0909-090909090909","seq":1,"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#""occurred_at":"2026-01-02T03:04:05.000000Z""#),
            "{text}"
        );
        assert!(
            text.ends_with(r#""outcome":"success","details":"{}"}"#),
            "{text}"
        );
    }

    #[test]
    fn the_encoding_is_one_object_with_the_documented_members_in_order() {
        let e = event(7);
        let text = String::from_utf8(canonical(e.chain_id(), 1234, &e)).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["seq"], 1234, "{text}");
        assert_eq!(value["resource_id"], e.resource_id.unwrap().to_string());
        let order = [
            "v",
            "chain_id",
            "seq",
            "id",
            "clinic_id",
            "occurred_at",
            "account_id",
            "membership_id",
            "session_id",
            "client_ip",
            "user_agent",
            "request_id",
            "action",
            "resource_type",
            "resource_id",
            "outcome",
            "details",
        ];
        let positions: Vec<usize> = order
            .iter()
            .map(|k| text.find(&format!("\"{k}\":")).expect(k))
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
        assert_eq!(value.as_object().unwrap().len(), order.len());
    }
}
