//! Who a request's credential names, before and after its session check: the
//! verified token's principal, the slot where the resolved actor is left, and
//! the credentials the extractors yield ([`crate::auth::extractor`] makes them,
//! [`crate::state::Ports::call_as`] checks their session).

use std::sync::{Arc, OnceLock};

use salus_domain::Actor;
use salus_domain::ids::{AccountId, ClinicId, SessionId};

/// Whom a verified access token names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Principal {
    /// The account (`sub`).
    pub account: AccountId,
    /// The clinic the session acts in (`cid`).
    pub clinic: ClinicId,
    /// The session (`sid`).
    pub session: SessionId,
}

/// The actor a request's session check resolved, left on the request for the
/// middleware that records refused requests in the audit trail.
#[derive(Debug, Clone, Default)]
pub struct ResolvedActor(Arc<OnceLock<Actor>>);

impl ResolvedActor {
    /// The actor, once the session check has run.
    pub fn get(&self) -> Option<&Actor> {
        self.0.get()
    }

    /// Records the actor the session check resolved.
    pub(crate) fn set(&self, actor: &Actor) {
        let _ = self.0.set(actor.clone());
    }
}

/// A signed-in member whose MFA obligations must be met (checked with the
/// session, by [`Ports::call_as`]).
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub(crate) principal: Principal,
    pub(crate) resolved: ResolvedActor,
}

/// A signed-in member who may still have to enrol MFA: only the enrolment and
/// sign-out routes take this.
#[derive(Debug, Clone)]
pub struct Enrolling {
    pub(crate) principal: Principal,
    pub(crate) resolved: ResolvedActor,
}

/// What [`Ports::call_as`] needs of a request's credential.
pub trait Credential {
    /// Whom the token names.
    fn principal(&self) -> Principal;
    /// Where the resolved actor is left for the refusal middleware.
    fn resolved(&self) -> ResolvedActor;
    /// Whether the member's MFA obligations must already be met.
    fn requires_mfa_settled(&self) -> bool;
}

impl Credential for Authenticated {
    fn principal(&self) -> Principal {
        self.principal
    }
    fn resolved(&self) -> ResolvedActor {
        self.resolved.clone()
    }
    fn requires_mfa_settled(&self) -> bool {
        true
    }
}

impl Credential for Enrolling {
    fn principal(&self) -> Principal {
        self.principal
    }
    fn resolved(&self) -> ResolvedActor {
        self.resolved.clone()
    }
    fn requires_mfa_settled(&self) -> bool {
        false
    }
}
