//! The principal as an extractor: no handler runs authenticated without it.
//!
//! It verifies the access token (signature, expiry, key), or takes an API key's
//! shape and hash (`salus_sk_...`), and yields who the credential names. The session itself (revoked, idle or expired sessions are refused
//! on the very next request, the membership's current permissions) is checked by
//! [`Ports::call_as`], in the first transaction of the service the handler calls:
//! one transaction, one scope setting, and the session checked in the very
//! transaction that acts.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use salus_domain::Actor;
use salus_domain::ids::{AccountId, ClinicId, SessionId};
use salus_domain::integrations::api_key;

use crate::auth::client::client_address;
use crate::auth::jwt::AccessClaims;
pub use crate::auth::principal::{Authenticated, Enrolling, Member};
use crate::auth::principal::{Principal, ResolvedActor};
use crate::problem::ApiError;
use crate::state::Ports;

impl Authenticated {
    /// The clinic the credential acts in.
    pub fn clinic_id(&self) -> ClinicId {
        self.principal.clinic()
    }
}

impl Member {
    /// The clinic the token acts in.
    pub fn clinic_id(&self) -> ClinicId {
        self.principal.clinic()
    }

    /// The account the token names.
    pub fn account_id(&self) -> AccountId {
        self.account
    }

    /// The session the token names.
    pub fn session_id(&self) -> SessionId {
        self.session
    }
}

/// The bearer token of a request's `Authorization` header.
pub(crate) fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

/// The answer to a request that middleware refuses before its handler runs: an
/// anonymous caller of a protected operation is told 401 first (verified like the
/// extractors and [`Ports::call_as`] do: token, then session), whatever else is
/// wrong; anyone else gets `refusal`.
pub async fn anonymous_first(req: &HttpRequest, protected: bool, refusal: ApiError) -> ApiError {
    if !protected {
        return refusal;
    }
    let checked = match principal(req) {
        Ok(principal) => session_checked(req, principal).await,
        Err(unauthenticated) => Err(unauthenticated),
    };
    match checked {
        Ok(_) => refusal,
        Err(unauthenticated) => unauthenticated,
    }
}

/// The request's caller, its token verified and its session checked in a
/// transaction of its own, for middleware that needs the caller before the
/// handler (the idempotency keys'); checked once per request.
pub(crate) async fn checked_actor(req: &HttpRequest) -> Result<Actor, ApiError> {
    if let Some(actor) = resolved(req).get() {
        return Ok(actor.clone());
    }
    session_checked(req, principal(req)?).await
}

/// The credential's check in its own transaction, for a request that will not
/// reach a service (a refusal by middleware).
async fn session_checked(req: &HttpRequest, principal: Principal) -> Result<Actor, ApiError> {
    let ports = ports(req)?;
    let actor = ports
        .call(move |services| principal.resolve(services))
        .await?;
    resolved(req).set(&actor);
    Ok(actor)
}

fn ports(req: &HttpRequest) -> Result<web::Data<Ports>, ApiError> {
    req.app_data::<web::Data<Ports>>()
        .cloned()
        .ok_or_else(|| ApiError::internal("ports missing"))
}

/// The request's slot for its resolved actor (made on first use).
fn resolved(req: &HttpRequest) -> ResolvedActor {
    if let Some(slot) = req.extensions().get::<ResolvedActor>() {
        return slot.clone();
    }
    let slot = ResolvedActor::default();
    req.extensions_mut().insert(slot.clone());
    slot
}

/// Whom the request's credential names: an API key by its shape and hash (the
/// database checks it), an access token once its signature, expiry and key
/// are verified.
fn principal(req: &HttpRequest) -> Result<Principal, ApiError> {
    let ports = ports(req)?;
    let token = bearer(req).ok_or(ApiError::Unauthenticated)?;
    if api_key::looks_like_key(&token) {
        let key = api_key::parse(&token).ok_or_else(|| {
            tracing::info!("API key refused: malformed");
            ApiError::Unauthenticated
        })?;
        return Ok(Principal::ApiKey {
            key,
            ip: client_address(req),
        });
    }
    let claims = ports
        .tokens
        .verify(&token, ports.clock.now())
        .map_err(|reason| {
            tracing::info!(%reason, "access token refused");
            ApiError::Unauthenticated
        })?;
    Ok(principal_of(&claims))
}

/// Whom the request's bearer credential names when it is a valid access token
/// or has an API key's exact shape, verified like the extractors do and
/// without the database (neither the session nor the key is checked), for the
/// rate limits. Silent: the extractor logs refusals.
pub(crate) fn token_principal(req: &HttpRequest) -> Option<Principal> {
    let ports = req.app_data::<web::Data<Ports>>()?;
    let token = bearer(req)?;
    if api_key::looks_like_key(&token) {
        return api_key::parse(&token).map(|key| Principal::ApiKey { key, ip: None });
    }
    let claims = ports.tokens.verify(&token, ports.clock.now()).ok()?;
    Some(principal_of(&claims))
}

fn principal_of(claims: &AccessClaims) -> Principal {
    Principal::Session {
        account: AccountId(claims.sub),
        clinic: ClinicId(claims.cid),
        session: SessionId(claims.sid),
    }
}

/// A member's credential: an access token, with its account and session (an
/// API key is refused here, before any database work, as a member-only
/// route's answer).
fn member_principal(req: &HttpRequest) -> Result<(Principal, AccountId, SessionId), ApiError> {
    match principal(req)? {
        Principal::ApiKey { .. } => Err(ApiError::from(salus_domain::DomainError::forbidden(
            "service_account_not_allowed",
            "A service account cannot do this: it is for a signed-in member only.",
        ))),
        token @ Principal::Session {
            account, session, ..
        } => Ok((token, account, session)),
    }
}

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(principal(req).map(|principal| Self {
            principal,
            resolved: resolved(req),
        }))
    }
}

impl FromRequest for Member {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            member_principal(req).map(|(principal, account, session)| Self {
                principal,
                account,
                session,
                resolved: resolved(req),
            }),
        )
    }
}

impl FromRequest for Enrolling {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(member_principal(req).map(|(principal, _, _)| Self {
            principal,
            resolved: resolved(req),
        }))
    }
}
