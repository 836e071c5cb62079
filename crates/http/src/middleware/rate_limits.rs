//! Rate limits on every `/api/v1` operation (issue 19): each request counts
//! against its credential's bucket and its clinic's (per plan), or, without a
//! valid credential, against its client address's; past a limit it is refused
//! 429 `rate_limited` with `Retry-After`. Every answer of a counted request,
//! refusals and errors included, carries `RateLimit-Policy` (the policies that
//! apply) and `RateLimit` (the most constraining one), as the IETF httpapi
//! draft `draft-ietf-httpapi-ratelimit-headers-09` writes them.
//!
//! The decision is node-local and takes no database call: the token is
//! verified with the keys the node holds, and the counts are the node's view
//! (`salus_domain::rate_limits::counters`), synchronised with the other nodes
//! by the server's sync task.

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::InternalError;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpRequest, ResponseError, web};
use salus_domain::rate_limits::{Bucket, Decision};

use crate::auth::client::client_address;
use crate::auth::extractor::token_principal;
use crate::auth::principal::Principal;
use crate::problem::ApiError;
use crate::state::Ports;

/// The requests counted: every operation of the API, none of the probes.
pub const LIMITED_PREFIX: &str = "/api/v1/";

/// The header naming the policies that apply (`"name";q=quota;w=window`, ...).
pub const POLICY_HEADER: HeaderName = HeaderName::from_static("ratelimit-policy");

/// The header giving the most constraining policy's state (`"name";r=left;t=reset`).
pub const STATE_HEADER: HeaderName = HeaderName::from_static("ratelimit");

type Answered<B> = ServiceResponse<EitherBody<B, BoxBody>>;

/// The middleware function.
pub async fn enforce_rate_limits<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<Answered<B>, Error> {
    let ports = req.app_data::<web::Data<Ports>>().cloned();
    let (true, Some(ports)) = (req.path().starts_with(LIMITED_PREFIX), ports) else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    let decision = ports
        .rate_limits
        .hit(&buckets(req.request()), ports.clock.now());
    if decision.refused {
        let refusal = ApiError::RateLimited {
            retry_after_secs: decision.standing.reset_secs,
        };
        let mut answer = req
            .into_response(refusal.error_response())
            .map_into_right_body();
        stamp(answer.headers_mut(), &decision);
        return Ok(answer);
    }
    match next.call(req).await {
        Ok(mut answer) => {
            stamp(answer.headers_mut(), &decision);
            Ok(answer.map_into_left_body())
        }
        // An error left as an error (the framework makes its answer later):
        // its answer, made here, with the headers.
        Err(error) => {
            let mut answer = error.error_response();
            stamp(answer.headers_mut(), &decision);
            Err(InternalError::from_response(error.to_string(), answer).into())
        }
    }
}

/// The buckets a request counts against: its credential's and its clinic's
/// when it carries a valid credential, else its client address's (an IPv6
/// client's /64 network).
fn buckets(req: &HttpRequest) -> Vec<Bucket> {
    credential_buckets(req).unwrap_or_else(|| vec![Bucket::address(client_address(req).as_deref())])
}

/// The buckets of the request's credential, read without the database. A
/// member's access token (a JWT, its signature verified) counts against its
/// session (`sid`) and its clinic (`cid`). A service account's API key
/// (`Bearer salus_sk_...`) counts against its key's id and the caller's
/// address, not its clinic: its secret is checked only by the database, so a
/// key forged with a clinic's id in it would otherwise spend that clinic's
/// limit. Any other bearer (an operator's, an expired token) counts as
/// anonymous, against its address.
fn credential_buckets(req: &HttpRequest) -> Option<Vec<Bucket>> {
    Some(match token_principal(req)? {
        Principal::Session {
            session, clinic, ..
        } => vec![Bucket::Credential(session.0), Bucket::Clinic(clinic)],
        Principal::ApiKey { key, .. } => vec![
            Bucket::Credential(key.id.0),
            Bucket::address(client_address(req).as_deref()),
        ],
    })
}

/// Writes the two headers (and nothing else: `Retry-After` is the refusal's).
fn stamp(headers: &mut HeaderMap, decision: &Decision) {
    if let Ok(value) = HeaderValue::from_str(&policy_value(decision)) {
        headers.insert(POLICY_HEADER, value);
    }
    if let Ok(value) = HeaderValue::from_str(&state_value(decision)) {
        headers.insert(STATE_HEADER, value);
    }
}

/// `RateLimit-Policy`: every policy that applies, as a list of items.
pub fn policy_value(decision: &Decision) -> String {
    decision
        .policies
        .iter()
        .map(|p| format!("\"{}\";q={};w={}", p.name, p.quota, p.window_secs))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `RateLimit`: the most constraining policy, its requests left and the
/// seconds until its window resets.
pub fn state_value(decision: &Decision) -> String {
    let s = &decision.standing;
    format!("\"{}\";r={};t={}", s.name, s.remaining, s.reset_secs)
}

#[cfg(test)]
mod tests {
    use salus_domain::rate_limits::{Decision, Policy, Standing};

    use super::{policy_value, state_value};

    #[test]
    fn the_headers_are_written_as_the_draft_says() {
        let decision = Decision {
            policies: vec![
                Policy {
                    name: "credential",
                    quota: 600,
                    window_secs: 60,
                },
                Policy {
                    name: "clinic",
                    quota: 3000,
                    window_secs: 60,
                },
            ],
            standing: Standing {
                name: "credential",
                remaining: 42,
                reset_secs: 17,
            },
            refused: false,
        };
        assert_eq!(
            policy_value(&decision),
            "\"credential\";q=600;w=60, \"clinic\";q=3000;w=60"
        );
        assert_eq!(state_value(&decision), "\"credential\";r=42;t=17");
    }
}
