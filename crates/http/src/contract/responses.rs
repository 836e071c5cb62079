//! The problem answers, declared once: one response component per status, and the
//! rule that says which statuses an operation can give by its shape.

use serde_json::{Value, json};

use crate::problem::PROBLEM_JSON;

/// One shared problem answer (`#/components/responses/{name}`).
#[derive(Debug, Clone, Copy)]
pub struct GenericResponse {
    /// The HTTP status.
    pub status: &'static str,
    /// The component's name.
    pub name: &'static str,
    /// What the answer means, with the `code`s it carries.
    pub description: &'static str,
    /// Whether it carries `Retry-After`.
    pub retry_after: bool,
}

impl GenericResponse {
    /// The response component: a problem body, `X-Request-Id`, the rate-limit
    /// headers (every `/api/v1` answer has them), and `Retry-After` where the
    /// answer asks to wait.
    pub fn component(&self) -> Value {
        let mut headers = json!({
            super::REQUEST_ID_HEADER: { "$ref": format!("#/components/headers/{}", super::REQUEST_ID_HEADER) }
        });
        for (name, reference) in super::rate_limits::header_refs() {
            headers[name] = reference;
        }
        if self.retry_after {
            headers["Retry-After"] = json!({
                "description": "Seconds to wait before trying again.",
                "schema": { "type": "integer", "minimum": 0 }
            });
        }
        if self.status == "401" {
            headers["WWW-Authenticate"] = json!({
                "description": "`Bearer`: the scheme to authenticate with.",
                "schema": { "type": "string" }
            });
        }
        json!({
            "description": self.description,
            "headers": headers,
            "content": { PROBLEM_JSON: { "schema": { "$ref": "#/components/schemas/Problem" } } }
        })
    }
}

/// Every shared problem answer, by status.
pub const GENERIC_RESPONSES: &[GenericResponse] = &[
    GenericResponse {
        status: "400",
        name: "MalformedJson",
        description: "The body is not well-formed JSON (`malformed_json`), or a header is \
                      malformed (`malformed_if_match`, `malformed_purpose_of_use`, \
                      `malformed_idempotency_key`).",
        retry_after: false,
    },
    GenericResponse {
        status: "401",
        name: "Unauthorized",
        description: "No valid access token or session (`unauthenticated`), or wrong \
                      credentials (`invalid_credentials`).",
        retry_after: false,
    },
    GenericResponse {
        status: "403",
        name: "Forbidden",
        description: "The caller may not do this; `code` says why: a missing permission \
                      (`permission_denied`, with the permission in the detail), \
                      `mfa_enrollment_required`, `step_up_required`, `plan_upgrade_required`, \
                      or a rule of the operation.",
        retry_after: false,
    },
    GenericResponse {
        status: "404",
        name: "NotFound",
        description: "No such resource, or one of another clinic (`not_found`: the same \
                      answer for both).",
        retry_after: false,
    },
    GenericResponse {
        status: "406",
        name: "NotAcceptable",
        description: "None of the formats in `Accept` can be produced (`not_acceptable`).",
        retry_after: false,
    },
    GenericResponse {
        status: "409",
        name: "Conflict",
        description: "The request conflicts with the resource's current state; `code` says how. \
                      `idempotency_request_in_flight`: a request with the same \
                      `Idempotency-Key` is still running; retry after `Retry-After` seconds.",
        retry_after: true,
    },
    GenericResponse {
        status: "412",
        name: "PreconditionFailed",
        description: "`If-Match` names a version that is no longer current \
                      (`precondition_failed`); read the resource again.",
        retry_after: false,
    },
    GenericResponse {
        status: "413",
        name: "PayloadTooLarge",
        description: "The body exceeds the size limit (`payload_too_large`): 64 KiB, or the \
                      operation's `x-max-body-bytes`, which admits every body its schema allows \
                      however it is escaped.",
        retry_after: false,
    },
    GenericResponse {
        status: "415",
        name: "UnsupportedMediaType",
        description: "The body is not sent as `application/json` (`unsupported_media_type`).",
        retry_after: false,
    },
    GenericResponse {
        status: "422",
        name: "ValidationFailed",
        description: "The request is well-formed but invalid (`validation_failed`); `errors` \
                      lists each invalid field with a stable `code`. \
                      `idempotency_key_reused`: the `Idempotency-Key` was used for another \
                      request within 24 hours.",
        retry_after: false,
    },
    GenericResponse {
        status: "428",
        name: "PreconditionRequired",
        description: "`If-Match` is required: send the `ETag` of the version read \
                      (`precondition_required`).",
        retry_after: false,
    },
    GenericResponse {
        status: "429",
        name: "TooManyRequests",
        description: "Too many requests (`rate_limited`): a rate limit (`RateLimit-Policy`, \
                      `RateLimit`) or the authentication limit per address is spent; wait the \
                      `Retry-After` seconds.",
        retry_after: true,
    },
    GenericResponse {
        status: "500",
        name: "InternalError",
        description: "An unexpected error (`internal_error`); the body says nothing more. \
                      Quote `X-Request-Id` when reporting it.",
        retry_after: false,
    },
    GenericResponse {
        status: "503",
        name: "ServiceUnavailable",
        description: "A dependency (the database) is unavailable (`service_unavailable`); \
                      retry after `Retry-After` seconds.",
        retry_after: true,
    },
];

/// The component name of a status's shared answer.
pub fn response_name(status: &str) -> Option<&'static str> {
    GENERIC_RESPONSES
        .iter()
        .find(|r| r.status == status)
        .map(|r| r.name)
}

fn is_public(operation: &Value) -> bool {
    operation["security"].as_array().is_some_and(|s| {
        s.iter()
            .any(|r| r.as_object().is_some_and(|o| o.is_empty()))
    })
}

fn has_parameter(operation: &Value, place: &str, name: Option<&str>) -> bool {
    operation["parameters"].as_array().is_some_and(|params| {
        params.iter().any(|p| {
            p["in"].as_str() == Some(place)
                && name.is_none_or(|n| {
                    p["name"]
                        .as_str()
                        .is_some_and(|pn| pn.eq_ignore_ascii_case(n))
                })
        })
    })
}

/// The statuses an operation can give because of its shape, whatever it does:
/// every operation can fail (500) or lose its database (503); one that needs a
/// caller can refuse an anonymous (401) or unentitled one (403); one that takes a
/// JSON body can meet malformed (400), oversized (413), non-JSON (415) or invalid
/// (422) bodies; the query string can be invalid or hold a parameter the operation
/// does not take (422, for every operation); a path or a body that names a
/// resource can name none (404); `If-Match` can be missing (428) or stale (412);
/// `If-Match` or `X-Purpose-Of-Use` can be malformed (400); `Idempotency-Key`
/// can be malformed (400), reused for another request (422) or held by a copy
/// of the request still running (409).
pub fn generic_statuses(
    operation: &Value,
    referencing: &std::collections::BTreeSet<String>,
) -> Vec<&'static str> {
    let mut statuses = vec!["422", "500", "503"];
    if !is_public(operation) {
        statuses.extend(["401", "403"]);
    }
    if operation.get("requestBody").is_some() {
        statuses.extend(["400", "413", "415", "422"]);
    }
    let body = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        .as_str()
        .map(|r| r.trim_start_matches("#/components/schemas/"));
    if has_parameter(operation, "path", None) || body.is_some_and(|b| referencing.contains(b)) {
        statuses.push("404");
    }
    if has_parameter(operation, "header", Some("If-Match")) {
        statuses.extend(["400", "412", "428"]);
    }
    let declares_purpose = operation["parameters"].as_array().is_some_and(|ps| {
        ps.iter()
            .any(|p| p["$ref"] == "#/components/parameters/PurposeOfUse")
    });
    if declares_purpose {
        statuses.push("400");
    }
    if super::idempotency::declares(operation) {
        statuses.extend(["400", "409", "422"]);
    }
    statuses.sort_unstable();
    statuses.dedup();
    statuses
}

/// The request schemas with a field that names a resource by id (a `uuid`, or a
/// list of them): an id that names nothing in the clinic is answered 404.
pub fn schemas_naming_ids(doc: &Value) -> std::collections::BTreeSet<String> {
    let is_id = |schema: &Value| {
        let uuid = |s: &Value| s["format"] == "uuid";
        uuid(schema)
            || uuid(&schema["items"])
            || schema["oneOf"]
                .as_array()
                .is_some_and(|v| v.iter().any(uuid))
    };
    doc["components"]["schemas"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, schema)| {
            schema["properties"]
                .as_object()
                .is_some_and(|p| p.values().any(is_id))
        })
        .map(|(name, _)| name.clone())
        .collect()
}
