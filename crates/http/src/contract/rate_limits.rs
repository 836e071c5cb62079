//! Declares the rate limits of every `/api/v1` operation
//! ([`crate::middleware::rate_limits`]): the 429 it can answer, and the
//! `RateLimit-Policy` and `RateLimit` headers on its answers (the successes
//! here; the problem answers through their shared components, see
//! [`super::responses::GenericResponse::component`]).

use serde_json::{Value, json};

use crate::middleware::rate_limits::LIMITED_PREFIX;

/// The name of the policies header in the document.
pub const POLICY: &str = "RateLimit-Policy";

/// The name of the state header in the document.
pub const STATE: &str = "RateLimit";

/// Whether the operations of `path` are rate limited.
pub fn is_limited(path: &str) -> bool {
    path.starts_with(LIMITED_PREFIX)
}

/// The two header components.
pub fn header_components() -> [(&'static str, Value); 2] {
    [
        (
            POLICY,
            json!({
                "description": "On every answer of an `/api/v1` operation: the rate-limit \
                                policies the request counted against (IETF httpapi \
                                draft-ietf-httpapi-ratelimit-headers-09), each its name, quota \
                                `q` and window `w` in seconds: `\"credential\"` (the access \
                                token's session) and `\"clinic\"` (its clinic, per plan) for a \
                                signed-in member, `\"address\"` (the client address) without a \
                                valid credential.",
                "schema": { "type": "string" },
                "examples": {
                    "member": { "value": "\"credential\";q=600;w=60, \"clinic\";q=3000;w=60" }
                }
            }),
        ),
        (
            STATE,
            json!({
                "description": "On every answer of an `/api/v1` operation: the most constraining \
                                policy of `RateLimit-Policy`, with `r` the requests left in its \
                                window (never negative) and `t` the seconds until the window \
                                resets.",
                "schema": { "type": "string" },
                "examples": { "member": { "value": "\"credential\";r=42;t=17" } }
            }),
        ),
    ]
}

/// The headers of an answer of a limited operation, as references.
pub fn header_refs() -> [(&'static str, Value); 2] {
    [POLICY, STATE].map(|name| {
        (
            name,
            json!({ "$ref": format!("#/components/headers/{name}") }),
        )
    })
}

/// Declares the 429 on a limited operation (with the authentication limit's
/// meaning too where `by_address` says it counts), and the headers on every
/// answer that is not a problem.
pub fn declare(operation: &mut Value, by_address: bool) {
    let Some(responses) = operation
        .get_mut("responses")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    for (status, response) in responses.iter_mut() {
        let is_problem = status.starts_with('4') || status.starts_with('5');
        if is_problem || response.get("$ref").is_some() {
            continue;
        }
        if let Some(headers) = response
            .as_object_mut()
            .map(|r| r.entry("headers").or_insert_with(|| json!({})))
            .and_then(Value::as_object_mut)
        {
            headers.extend(header_refs().map(|(name, value)| (name.to_owned(), value)));
        }
    }
    let description = if by_address {
        "Too many attempts from this address (the authentication limit), or too many \
         requests (the rate limits: see `RateLimit`)."
    } else {
        "Too many requests (`rate_limited`): a rate limit of `RateLimit-Policy` is spent; \
         wait the `Retry-After` seconds."
    };
    responses
        .entry("429")
        .or_insert_with(|| json!({ "description": description }));
}
