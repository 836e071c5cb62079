//! The principal as an extractor: no handler runs authenticated without it.
//!
//! It verifies the access token, then checks the session row (revoked, idle or
//! expired sessions are refused on the very next request) and yields the `Actor`.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use salus_domain::Actor;
use salus_domain::ids::{ClinicId, SessionId};

use crate::problem::ApiError;
use crate::state::Ports;

/// A signed-in member whose MFA obligations are met.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Actor);

/// A signed-in member who may still have to enrol MFA: only the enrolment and
/// sign-out routes take this.
#[derive(Debug, Clone)]
pub struct Enrolling(pub Actor);

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
/// extractors do: token, then session), whatever else is wrong; anyone else gets
/// `refusal`.
pub async fn anonymous_first(req: &HttpRequest, protected: bool, refusal: ApiError) -> ApiError {
    if !protected {
        return refusal;
    }
    match actor(req.clone()).await {
        Ok(_) => refusal,
        Err(unauthenticated) => unauthenticated,
    }
}

async fn actor(req: HttpRequest) -> Result<Actor, ApiError> {
    // Verified already for this very request (by a middleware that needed the
    // caller before the handler, such as the idempotency keys').
    if let Some(actor) = req.extensions().get::<Actor>().cloned() {
        return Ok(actor);
    }
    let ports = req
        .app_data::<web::Data<Ports>>()
        .cloned()
        .ok_or_else(|| ApiError::internal("ports missing"))?;
    let token = bearer(&req).ok_or(ApiError::Unauthenticated)?;
    let claims = ports
        .tokens
        .verify(&token, ports.clock.now())
        .map_err(|reason| {
            tracing::info!(%reason, "access token refused");
            ApiError::Unauthenticated
        })?;
    let actor = ports
        .call(move |services| {
            services
                .auth
                .authenticate(ClinicId(claims.cid), SessionId(claims.sid))
        })
        .await?;
    if actor.account_id.uuid() != claims.sub {
        return Err(ApiError::Unauthenticated);
    }
    // Left for the middleware that records refused requests in the audit trail.
    req.extensions_mut().insert(actor.clone());
    Ok(actor)
}

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let actor = actor(req).await?;
            actor.require_mfa_settled()?;
            Ok(Self(actor))
        })
    }
}

impl FromRequest for Enrolling {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { actor(req).await.map(Self) })
    }
}
