//! Middleware applied to every request, outermost first: request metrics, request
//! id, tracing, security headers, problem bodies for framework errors, CORS, rate
//! limits, query strings as the contract declares them, JSON-only bodies,
//! idempotency keys, and (innermost) the audit record of refused requests.

pub mod audit_refusals;
pub mod idempotency;
pub mod problem_bodies;
pub mod query_policy;
pub mod rate_limits;
pub mod request_id;
pub mod request_metrics;
pub mod require_json;
pub mod security_headers;
pub mod tracing_span;
