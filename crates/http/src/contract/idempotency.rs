//! Declares `Idempotency-Key` on the operations that honour it
//! ([`crate::idempotency::operations`]): the request header, the
//! `Idempotency-Replayed` header on their successes, and (through
//! [`super::responses::generic_statuses`]) the 400, 409 and 422 it can cause.

use serde_json::{Value, json};

use crate::idempotency::REPLAYED_HEADER;
use crate::idempotency::key::{HEADER, PATTERN};

/// The reference to the header's parameter component.
pub const PARAMETER: &str = "#/components/parameters/IdempotencyKey";

/// The request header's parameter component.
pub fn parameter() -> Value {
    json!({
        "name": HEADER,
        "in": "header",
        "required": false,
        "description": "A key of the client's choosing that makes retries of this request safe \
                        (the IETF httpapi draft \"The Idempotency-Key HTTP Header Field\"): a \
                        Structured Field string (`\"8e03978e-40d5-43e8-bc93-6894a57f9324\"`) or \
                        the same characters unquoted, 1 to 255 printable ASCII characters; a \
                        UUIDv4 per request is a good key. The first success is kept for 24 hours \
                        for this clinic and caller, and a retry with the same key and the same \
                        request (method, path, `If-Match`, JSON body) gets it again with \
                        `Idempotency-Replayed: true` instead of acting twice. The same key with \
                        another request is 422 `idempotency_key_reused`; while the first copy \
                        runs, a retry waits up to 5 seconds for its answer, then gets 409 \
                        `idempotency_request_in_flight` with `Retry-After`. Answers that are not \
                        successes are not kept: the key can be used again. A malformed key is \
                        400 `malformed_idempotency_key`.",
        "schema": { "type": "string", "pattern": PATTERN }
    })
}

/// The response header component that marks a replay.
pub fn replayed_header() -> Value {
    json!({
        "description": "`true` when this answer is the one kept for an earlier request with \
                        the same `Idempotency-Key` (nothing was done again); absent otherwise.",
        "schema": { "type": "string", "enum": ["true"] }
    })
}

/// Declares the header on `operation` and the replay marker on its successes.
pub fn declare(operation: &mut Value) {
    let Some(op) = operation.as_object_mut() else {
        return;
    };
    if let Some(parameters) = op
        .entry("parameters")
        .or_insert_with(|| json!([]))
        .as_array_mut()
    {
        parameters.push(json!({ "$ref": PARAMETER }));
    }
    let successes = op
        .get_mut("responses")
        .and_then(Value::as_object_mut)
        .into_iter()
        .flat_map(|r| r.iter_mut())
        .filter(|(status, _)| status.starts_with('2'))
        .filter_map(|(_, response)| response.as_object_mut());
    for response in successes {
        if let Some(headers) = response
            .entry("headers")
            .or_insert_with(|| json!({}))
            .as_object_mut()
        {
            headers.insert(
                REPLAYED_HEADER.to_owned(),
                json!({ "$ref": format!("#/components/headers/{REPLAYED_HEADER}") }),
            );
        }
    }
}

/// Whether `operation` declares the header.
pub fn declares(operation: &Value) -> bool {
    operation["parameters"]
        .as_array()
        .is_some_and(|ps| ps.iter().any(|p| p["$ref"] == PARAMETER))
}
