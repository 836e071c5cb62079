//! Cross-origin access for browser front ends on the origins in
//! `CORS_ALLOWED_ORIGINS`: what a page may send and what it may read.

use actix_cors::Cors;
use actix_web::http::Method;
use actix_web::http::header::{self, HeaderName};

use crate::middleware::rate_limits::{POLICY_HEADER, STATE_HEADER};
use crate::middleware::request_id::X_REQUEST_ID;
use crate::state::HttpSettings;

/// The methods a page may use.
pub const ALLOWED_METHODS: [Method; 5] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
];

/// `Idempotency-Key` (`crate::idempotency::key`), as a header name.
const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// `Idempotency-Replayed` (`crate::idempotency`), as a header name.
const IDEMPOTENCY_REPLAYED: HeaderName = HeaderName::from_static("idempotency-replayed");

/// The request headers a page may send.
pub const ALLOWED_HEADERS: [HeaderName; 6] = [
    header::AUTHORIZATION,
    header::CONTENT_TYPE,
    header::ACCEPT,
    header::IF_MATCH,
    X_REQUEST_ID,
    IDEMPOTENCY_KEY,
];

/// The response headers a page may read (beyond the CORS-safelisted ones).
pub const EXPOSED_HEADERS: [HeaderName; 7] = [
    header::ETAG,
    header::LOCATION,
    header::RETRY_AFTER,
    X_REQUEST_ID,
    IDEMPOTENCY_REPLAYED,
    POLICY_HEADER,
    STATE_HEADER,
];

/// How long a browser may keep a preflight's answer, in seconds.
const PREFLIGHT_MAX_AGE: usize = 600;

/// The CORS middleware for these settings (no origin at all when none is configured).
pub fn cors(settings: &HttpSettings) -> Cors {
    settings
        .cors_allowed_origins
        .iter()
        .fold(Cors::default(), |cors, origin| cors.allowed_origin(origin))
        .allowed_methods(ALLOWED_METHODS)
        .allowed_headers(ALLOWED_HEADERS)
        .expose_headers(EXPOSED_HEADERS)
        .max_age(PREFLIGHT_MAX_AGE)
}

/// What a refused cross-origin request may do instead, in words.
pub fn policy_in_words() -> String {
    let (methods, headers) = (ALLOWED_METHODS, ALLOWED_HEADERS);
    let methods: Vec<&str> = methods.iter().map(Method::as_str).collect();
    let headers: Vec<&str> = headers.iter().map(HeaderName::as_str).collect();
    format!(
        "The server allows the origins in CORS_ALLOWED_ORIGINS, the methods {}, and the \
         request headers {}.",
        methods.join(", "),
        headers.join(", ")
    )
}
