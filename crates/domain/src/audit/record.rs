//! What a service records: the action, who did it, on what, and how it ended.

use serde_json::{Map, Value};
use uuid::Uuid;

use super::model::{Outcome, Resource};
use crate::Actor;
use crate::ids::{AccountId, ClinicId, MembershipId, SessionId};

/// An action to record, built by the service that performs it.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    /// Action code, e.g. `patient.updated`.
    pub action: &'static str,
    /// The clinic (none for platform events).
    pub clinic: Option<ClinicId>,
    /// Acting (or, for sign-in attempts, concerned) account.
    pub account: Option<AccountId>,
    /// Acting membership.
    pub membership: Option<MembershipId>,
    /// Acting session.
    pub session: Option<SessionId>,
    /// The record acted on.
    pub resource: Option<Resource>,
    /// How it ended.
    pub outcome: Outcome,
    /// Small, non-sensitive facts (codes, counts, ids), never health data.
    pub details: Map<String, Value>,
}

impl AuditRecord {
    /// A member's action inside their clinic.
    pub fn by(actor: &Actor, action: &'static str) -> Self {
        let mut details = Map::new();
        if actor.is_service() {
            details.insert("actor_kind".into(), "service_account".into());
        }
        Self {
            action,
            clinic: Some(actor.clinic_id),
            account: Some(actor.account_id),
            membership: Some(actor.membership_id),
            session: Some(actor.session_id),
            resource: None,
            outcome: Outcome::Success,
            details,
        }
    }

    /// A platform event about an account (sign-ins, account changes), optionally
    /// inside a clinic.
    pub fn account(action: &'static str, account: Option<AccountId>) -> Self {
        Self {
            action,
            clinic: None,
            account,
            membership: None,
            session: None,
            resource: None,
            outcome: Outcome::Success,
            details: Map::new(),
        }
    }

    /// Places the event in a clinic's chain.
    pub fn in_clinic(mut self, clinic: Option<ClinicId>) -> Self {
        self.clinic = clinic;
        self
    }

    /// Names the record acted on (any entity's id: the audit trail records it as
    /// a plain UUID next to its kind).
    pub fn on(mut self, kind: &'static str, id: impl Into<Uuid>) -> Self {
        self.resource = Some(Resource {
            kind,
            id: id.into(),
        });
        self
    }

    /// Marks the outcome.
    pub fn outcome(mut self, outcome: Outcome) -> Self {
        self.outcome = outcome;
        self
    }

    /// Marks a failed attempt.
    pub fn failed(self) -> Self {
        self.outcome(Outcome::Failure)
    }

    /// Adds a detail.
    pub fn detail(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.details.insert(key.to_owned(), value.into());
        self
    }
}
