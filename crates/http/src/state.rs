//! What the HTTP layer is given by the server: its ports and its settings.

use std::sync::Arc;

use salus_domain::Clock;
use salus_domain::health::ReadinessProbe;
use salus_domain::rate_limits::counters::Limiter;
use salus_domain::services::Services;
use tokio::sync::Semaphore;

use crate::auth::jwt::TokenKeys;
use crate::metrics::Metrics;
use crate::paging::Cursors;

/// Settings of the HTTP layer, taken from the server's configuration.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Cap on JSON request bodies, in bytes.
    pub json_limit: usize,
    /// Origins allowed to call the API from a browser; empty denies every origin.
    pub cors_allowed_origins: Vec<String>,
    /// `Contact:` of security.txt (a `mailto:` or `https:` URI).
    pub security_contact: String,
    /// The public base URL of the API (scheme, host, port), without a trailing slash.
    pub public_url: String,
    /// Whether a proxy in front terminates TLS and its `X-Forwarded-Proto` is trusted.
    pub trust_proxy_tls: bool,
}

/// The ports the routes call.
#[derive(Clone)]
pub struct Ports {
    /// Checks that the database answers.
    pub readiness: Arc<dyn ReadinessProbe>,
    /// The clock.
    pub clock: Arc<dyn Clock>,
    /// The domain services.
    pub services: Arc<Services>,
    /// Access-token keys.
    pub tokens: Arc<TokenKeys>,
    /// Permits for the flows that hash a password (sign-in, sign-up, password
    /// changes), so a sign-in flood cannot take every blocking thread: two per
    /// hashing permit (the hasher itself limits argon2 computations, around
    /// each computation only).
    pub hashing: Arc<Semaphore>,
    /// The server's metrics (shared with the metrics listener).
    pub metrics: Metrics,
    /// Seals list cursors.
    pub cursors: Arc<Cursors>,
    /// The node's request rate limiter (its sync task runs in the server).
    pub rate_limits: Arc<Limiter>,
}

impl Ports {
    /// Runs one service call on the blocking pool (diesel and argon2 block), in
    /// the request's span, its domain errors mapped to API errors.
    pub async fn call<T, F>(&self, work: F) -> Result<T, crate::problem::ApiError>
    where
        F: FnOnce(&Services) -> Result<T, salus_domain::DomainError> + Send + 'static,
        T: Send + 'static,
    {
        let services = self.services.clone();
        crate::blocking::run_blocking(move || work(&services)).await
    }

    /// Runs one service call for a signed-in member or a service account, on
    /// the blocking pool: the credential is checked first (a session live, its
    /// membership active, the member's current permissions, MFA obligations
    /// met unless the credential is an enrolling one; an API key live and used
    /// from an allowed address; a service account refused where the route is
    /// a member's only), in a transaction the service's first transaction continues (one
    /// `BEGIN`, one scope setting), then `work` runs with the actor.
    pub async fn call_as<T, F, C>(&self, who: &C, work: F) -> Result<T, crate::problem::ApiError>
    where
        C: crate::auth::principal::Credential,
        F: FnOnce(&Services, &salus_domain::Actor) -> Result<T, salus_domain::DomainError>
            + Send
            + 'static,
        T: Send + 'static,
    {
        let services = self.services.clone();
        let (principal, resolved) = (who.principal(), who.resolved());
        let (settled, service) = (C::REQUIRES_MFA_SETTLED, C::ADMITS_SERVICE);
        crate::blocking::run_blocking(move || {
            let request = services.for_request();
            let actor = principal.resolve(&request)?;
            resolved.set(&actor);
            if !service {
                actor.require_member()?;
            }
            if settled {
                actor.require_mfa_settled()?;
            }
            work(&request, &actor)
        })
        .await
    }

    /// Waits for a password flow's permit; hold it for the flow.
    pub async fn hashing_permit(
        &self,
    ) -> Result<tokio::sync::OwnedSemaphorePermit, crate::problem::ApiError> {
        self.hashing
            .clone()
            .acquire_owned()
            .await
            .map_err(crate::problem::ApiError::internal)
    }
}
