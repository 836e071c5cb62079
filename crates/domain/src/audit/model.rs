//! Audit events as stored.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::ids::{AccountId, AuditEventId, ChainId, ClinicId, MembershipId, SessionId};

/// How the recorded action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// It happened.
    Success,
    /// It was attempted and failed (a wrong password, a reused token).
    Failure,
    /// It was refused for lack of a permission.
    Denied,
}

impl Outcome {
    /// The stored code.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
            Self::Denied => "denied",
        }
    }

    /// Parses a stored code.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Success, Self::Failure, Self::Denied]
            .into_iter()
            .find(|o| o.as_str() == s)
    }
}

/// The record an action concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resource {
    /// Its type, e.g. `patient`.
    pub kind: &'static str,
    /// Its id.
    pub id: Uuid,
}

/// An event ready to append: everything but its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuditEvent {
    /// Event id.
    pub id: AuditEventId,
    /// The clinic (none for platform events).
    pub clinic_id: Option<ClinicId>,
    /// When (UTC, microsecond precision as stored).
    pub occurred_at: DateTime<Utc>,
    /// Acting account.
    pub account_id: Option<AccountId>,
    /// Acting membership.
    pub membership_id: Option<MembershipId>,
    /// Acting session.
    pub session_id: Option<SessionId>,
    /// Client address.
    pub client_ip: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
    /// Request id.
    pub request_id: Option<String>,
    /// Action code, e.g. `patient.updated`.
    pub action: String,
    /// Resource type.
    pub resource_type: Option<String>,
    /// Resource id.
    pub resource_id: Option<Uuid>,
    /// Outcome.
    pub outcome: Outcome,
    /// Details as compact JSON (never health data, secrets or tokens).
    pub details: String,
}

impl NewAuditEvent {
    /// The chain this event belongs to: its clinic, else its account, else the
    /// platform chain (the nil UUID).
    pub fn chain_id(&self) -> ChainId {
        self.clinic_id
            .map(ChainId::from)
            .or(self.account_id.map(ChainId::from))
            .unwrap_or(ChainId::PLATFORM)
    }
}

/// A stored event with its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// The chain (clinic, account or platform).
    pub chain_id: ChainId,
    /// Position in the chain, from 1.
    pub seq: i64,
    /// The event.
    pub event: NewAuditEvent,
    /// The previous event's hash (zeros for the first).
    pub prev_hash: Vec<u8>,
    /// This event's hash.
    pub hash: Vec<u8>,
}
