//! Honours `Idempotency-Key` on the operations whose contract declares it
//! (`crate::idempotency::operations`): the first answer to a request sent with
//! a key is kept for 24 hours per clinic and caller; a retry with the same key
//! and the same request gets it again, marked `Idempotency-Replayed: true`;
//! the same key with another request is 422 `idempotency_key_reused`; a retry
//! while the first copy runs waits up to [`WAIT`] for its answer, then gets 409
//! `idempotency_request_in_flight` with `Retry-After`.
//!
//! A request without the header, or to another operation, passes through
//! untouched: no database work, no body read. An anonymous caller passes
//! through too and gets its 401 from the handler, as without the header.
//!
//! Only successes (2xx) are kept. Every other answer means the action's
//! transaction did not commit (a refusal, a conflict, a failure), so the key
//! is given back and a retry runs afresh. The handler runs in a task of its
//! own, so a client that hangs up mid-request cannot stop its answer from
//! being kept or its key from being given back.

use std::time::{Duration, Instant};

use actix_web::body::{BodyStream, BoxBody, EitherBody, MessageBody, to_bytes, to_bytes_limited};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpResponse, ResponseError, web};
use salus_domain::Actor;
use salus_domain::idempotency::{Answer, Claim, Ticket};
use salus_domain::ids::PatientId;
use tracing::Instrument;

use crate::auth::extractor::checked_actor;
use crate::idempotency::REPLAYED_HEADER;
use crate::idempotency::fingerprint::{RequestParts, fingerprint};
use crate::idempotency::key::{HEADER, IdempotencyKey};
use crate::idempotency::subject::patient_named;
use crate::problem::ApiError;
use crate::route_table::RouteTable;
use crate::state::Ports;

/// How long a retry waits for the copy in flight to be answered before 409.
pub const WAIT: Duration = Duration::from_secs(5);

/// The longest pause between two looks at a request in flight.
const LONGEST_PAUSE: Duration = Duration::from_millis(250);

/// What a 409 asks the client to wait, in seconds.
const RETRY_AFTER_SECS: u64 = 1;

/// The response headers kept and replayed with a body (the rest, such as the
/// request id and the security headers, belong to each answer).
const KEPT_HEADERS: [HeaderName; 3] = [header::CONTENT_TYPE, header::LOCATION, header::ETAG];

type Answered<B> = ServiceResponse<EitherBody<B, BoxBody>>;

/// The middleware function.
pub async fn honour_idempotency_keys<B: MessageBody + 'static>(
    mut req: ServiceRequest,
    next: Next<B>,
) -> Result<Answered<B>, Error> {
    let Some(value) = req.headers().get(HEADER).cloned() else {
        return pass(req, next).await;
    };
    let declared = req
        .app_data::<web::Data<RouteTable>>()
        .and_then(|table| table.operation(req.method().as_str(), req.path()))
        .is_some_and(|operation| operation.idempotent);
    let ports = req.app_data::<web::Data<Ports>>().cloned();
    let (true, Some(ports)) = (declared, ports) else {
        return pass(req, next).await;
    };
    let Ok(actor) = checked_actor(req.request()).await else {
        return pass(req, next).await;
    };
    let Some(key) = IdempotencyKey::parse(value.as_bytes()) else {
        return refuse(req, &ApiError::MalformedIdempotencyKey);
    };
    let body = match read_body(&mut req).await {
        Ok(body) => body,
        Err(refusal) => return refuse(req, &refusal),
    };
    let print = fingerprint(RequestParts {
        method: req.method().as_str(),
        target: req.uri().path_and_query().map_or("", |p| p.as_str()),
        if_match: req
            .headers()
            .get(header::IF_MATCH)
            .map(HeaderValue::as_bytes),
        body: &body,
    });
    req.set_payload(Payload::from(body));
    match claim(&ports, &actor, &key, print).await {
        Err(error) => refuse(req, &error),
        Ok(Claim::Mismatch) => refuse(req, &ApiError::IdempotencyKeyReused),
        Ok(Claim::InFlight) => refuse(
            req,
            &ApiError::IdempotentRequestInFlight {
                retry_after_secs: RETRY_AFTER_SECS,
            },
        ),
        Ok(Claim::Replay(answer)) => Ok(replay(req, answer)),
        Ok(Claim::Run(ticket)) => run(req, next, ports, actor, ticket).await,
    }
}

async fn pass<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<Answered<B>, Error> {
    Ok(next.call(req).await?.map_into_left_body())
}

fn refuse<B>(req: ServiceRequest, error: &ApiError) -> Result<Answered<B>, Error> {
    Ok(req
        .into_response(error.error_response())
        .map_into_boxed_body()
        .map_into_right_body())
}

/// Reads the body (up to the operation's limit, as the handler would) so it
/// can be fingerprinted; the handler is given the same bytes.
async fn read_body(req: &mut ServiceRequest) -> Result<web::Bytes, ApiError> {
    let limit = crate::json::body_limit(req.request());
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    to_bytes_limited(BodyStream::new(req.take_payload()), limit)
        .await
        .map_err(|_| ApiError::PayloadTooLarge { limit })?
        .map_err(|e| ApiError::MalformedJson(e.to_string()))
}

/// Claims the key, waiting while a copy of the request is in flight (up to
/// [`WAIT`], looking again after pauses that double up to a quarter second).
async fn claim(
    ports: &Ports,
    actor: &Actor,
    key: &IdempotencyKey,
    print: [u8; 32],
) -> Result<Claim, ApiError> {
    let started = Instant::now();
    let mut pause = Duration::from_millis(20);
    loop {
        let (actor, key) = (actor.clone(), key.clone());
        let claim = ports
            .call(move |services| services.idempotency.claim(&actor, key.as_str(), &print))
            .await?;
        if !matches!(claim, Claim::InFlight) || started.elapsed() + pause > WAIT {
            return Ok(claim);
        }
        actix_web::rt::time::sleep(pause).await;
        pause = (pause * 2).min(LONGEST_PAUSE);
    }
}

/// The kept answer again, with `Idempotency-Replayed: true`.
fn replay<B>(req: ServiceRequest, answer: Answer) -> Answered<B> {
    let status = actix_web::http::StatusCode::from_u16(answer.status)
        .unwrap_or(actix_web::http::StatusCode::OK);
    let mut response = HttpResponse::build(status);
    for (name, value) in &answer.headers {
        response.insert_header((name.as_str(), value.as_str()));
    }
    response.insert_header((REPLAYED_HEADER, "true"));
    req.into_response(response.body(answer.body))
        .map_into_right_body()
}

/// Runs the claimed request in a task of its own and keeps its answer when it
/// is a success, or gives the key back.
async fn run<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
    ports: web::Data<Ports>,
    actor: Actor,
    ticket: Ticket,
) -> Result<Answered<B>, Error> {
    let work = async move {
        let res = match next.call(req).await {
            Ok(res) => res,
            Err(error) => {
                release(&ports, actor, ticket).await;
                return Err(error);
            }
        };
        if !res.status().is_success() {
            release(&ports, actor, ticket).await;
            return Ok(res.map_into_left_body());
        }
        let (req, res) = res.into_parts();
        let (res, body) = res.into_parts();
        let body = match to_bytes(body).await {
            Ok(body) => body,
            Err(error) => {
                release(&ports, actor, ticket).await;
                return Err(ApiError::internal(error.into()).into());
            }
        };
        let answer = Answer {
            status: res.status().as_u16(),
            headers: kept_headers(res.headers()),
            body: body.to_vec(),
        };
        let location = res
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok());
        let patient = patient_named(req.path(), location, &body).map(PatientId);
        let stored = ports
            .call(move |services| services.idempotency.store(&actor, ticket, &answer, patient))
            .await;
        if let Err(error) = stored {
            // The answer goes out all the same: the action is done. The claim
            // lapses after its lease, and a retry after that runs again.
            tracing::error!(%error, "could not keep the answer of an idempotent request");
        }
        let res = res.set_body(BoxBody::new(body));
        Ok(ServiceResponse::new(req, res).map_into_right_body())
    };
    actix_web::rt::spawn(work.instrument(tracing::Span::current()))
        .await
        .map_err(|e| Error::from(ApiError::internal(e)))?
}

async fn release(ports: &Ports, actor: Actor, ticket: Ticket) {
    let released = ports
        .call(move |services| services.idempotency.release(&actor, ticket))
        .await;
    if let Err(error) = released {
        tracing::warn!(%error, "could not give back the key of an idempotent request");
    }
}

fn kept_headers(headers: &header::HeaderMap) -> Vec<(String, String)> {
    KEPT_HEADERS
        .iter()
        .filter_map(|name| {
            let value = headers.get(name)?.to_str().ok()?;
            Some((name.as_str().to_owned(), value.to_owned()))
        })
        .collect()
}
