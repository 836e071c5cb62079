//! Who a request's credential names, before and after its check: the verified
//! token's or the presented API key's principal, the slot where the resolved actor is left, and
//! the credentials the extractors yield ([`crate::auth::extractor`] makes them,
//! [`crate::state::Ports::call_as`] checks their session).

use std::sync::{Arc, OnceLock};

use salus_domain::ids::{AccountId, ClinicId, SessionId};
use salus_domain::integrations::api_key::PresentedKey;
use salus_domain::services::Services;
use salus_domain::{Actor, DomainError};

/// Whom a request's credential names, before its check against the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A member's verified access token.
    Session {
        /// The account (`sub`).
        account: AccountId,
        /// The clinic the session acts in (`cid`).
        clinic: ClinicId,
        /// The session (`sid`).
        session: SessionId,
    },
    /// A service account's API key (its shape checked, its hash taken).
    ApiKey {
        /// The key as presented.
        key: PresentedKey,
        /// The caller's address (checked against the account's networks).
        ip: Option<String>,
    },
}

impl Principal {
    /// The clinic the credential acts in.
    pub fn clinic(&self) -> ClinicId {
        match self {
            Self::Session { clinic, .. } => *clinic,
            Self::ApiKey { key, .. } => key.clinic,
        }
    }

    /// The actor behind the credential, checked in a held transaction the
    /// service's first continues: a session must be live (and name the
    /// token's account), a key stored, live and used from an allowed address.
    pub(crate) fn resolve(&self, services: &Services) -> Result<Actor, DomainError> {
        match self {
            Self::Session {
                account,
                clinic,
                session,
            } => {
                let actor = services.auth.authenticate_held(*clinic, *session)?;
                if actor.account_id != *account {
                    return Err(DomainError::Unauthenticated);
                }
                Ok(actor)
            }
            Self::ApiKey { key, ip } => services.auth.authenticate_key_held(key, ip.as_deref()),
        }
    }
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
/// session, by [`Ports::call_as`]), or a service account with its API key.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub(crate) principal: Principal,
    pub(crate) resolved: ResolvedActor,
}

/// A signed-in member, MFA obligations met, and never a service account: the
/// routes of a person's own account, sessions and second factor take this.
#[derive(Debug, Clone)]
pub struct Member {
    pub(crate) principal: Principal,
    /// The account the token names.
    pub(crate) account: AccountId,
    /// The session the token names.
    pub(crate) session: SessionId,
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
    /// Whether the member's MFA obligations must already be met.
    const REQUIRES_MFA_SETTLED: bool;
    /// Whether a service account may call with it.
    const ADMITS_SERVICE: bool;
    /// Whom the token names.
    fn principal(&self) -> Principal;
    /// Where the resolved actor is left for the refusal middleware.
    fn resolved(&self) -> ResolvedActor;
}

/// Implements [`Credential`] for an extractor's credential with its two rules.
macro_rules! credential {
    ($kind:ty, mfa_settled: $mfa:expr, admits_service: $service:expr) => {
        impl Credential for $kind {
            const REQUIRES_MFA_SETTLED: bool = $mfa;
            const ADMITS_SERVICE: bool = $service;
            fn principal(&self) -> Principal {
                self.principal.clone()
            }
            fn resolved(&self) -> ResolvedActor {
                self.resolved.clone()
            }
        }
    };
}

credential!(Authenticated, mfa_settled: true, admits_service: true);
credential!(Member, mfa_settled: true, admits_service: false);
credential!(Enrolling, mfa_settled: false, admits_service: false);
