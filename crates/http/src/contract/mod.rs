//! The finishing pass over the generated OpenAPI document: what is true of every
//! operation is declared here once, not by hand on each route.
//!
//! Routes state only what is their own (their success bodies, `ETag`/`Location`
//! headers, and the problem answers with a route-specific meaning, such as "No such
//! patient." or "The slot is taken."). This pass then, for every operation:
//!
//! - adds the problem answers the server gives by the operation's shape (see
//!   [`responses::generic_statuses`]): 401/403 when it needs a caller, 400/413/415/422
//!   when it takes a body, 404 when its path names a resource, 412/428 when it
//!   takes `If-Match`, and 500/503 everywhere; 429 on every `/api/v1`
//!   operation (the rate limits, [`rate_limits`]; the authentication limit's
//!   operations, [`crate::rate_limited`], say so in its description);
//! - declares `RateLimit-Policy` and `RateLimit` on every answer of an
//!   `/api/v1` operation ([`rate_limits`]);
//! - turns every problem answer into a reference to one shared response component
//!   (`#/components/responses/NotFound`, ...), keeping the route's own sentence;
//! - declares the `X-Purpose-Of-Use` request header on the operations that
//!   read clinical data ([`crate::clinical_reads`]);
//! - declares the `Idempotency-Key` request header, and `Idempotency-Replayed`
//!   on the successes, of the operations that honour it ([`idempotency`]);
//! - names the audit events a success records (`x-audit-actions`, from
//!   [`crate::audited`]);
//! - declares the `X-Request-Id` header on every response and as an optional
//!   request header, and `ETag` on every success of an operation that takes
//!   `If-Match` (with the `If-Match` pattern);
//! - writes the schemas' examples the JSON Schema 2020-12 way (`examples`);
//! - gives every text a request can carry the `pattern` the server holds it to,
//!   and states the cross-field rules JSON Schema can (see [`rules`]).

pub mod enums;
pub mod idempotency;
pub mod rate_limits;
pub mod responses;
pub mod rules;
pub mod size;
pub mod text;

use serde_json::{Map, Value, json};
use utoipa::openapi::OpenApi;

use self::responses::{GENERIC_RESPONSES, generic_statuses, response_name};
use crate::idempotency::REPLAYED_HEADER;

/// The name of the request-id header, in requests and responses.
pub const REQUEST_ID_HEADER: &str = "X-Request-Id";

/// Applies the finishing pass to a generated document. The result is JSON, not
/// utoipa's model, which cannot hold everything 3.1 allows (a `$ref` with its own
/// `description`, for one).
pub fn finish(doc: &OpenApi) -> Value {
    let mut value = serde_json::to_value(doc).unwrap_or(Value::Null);
    finish_value(&mut value);
    value
}

/// The document as a server serves it: its one server is this server's public URL.
pub fn served(doc: &Value, public_url: &str) -> Value {
    let mut served = doc.clone();
    served["servers"] = json!([{ "url": public_url, "description": "This server." }]);
    served
}

fn finish_value(doc: &mut Value) {
    add_components(doc);
    examples_as_json_schema(doc);
    text::publish(doc);
    rules::publish(doc);
    let referencing = responses::schemas_naming_ids(doc);
    declare_body_limits(doc);
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, operation) in item.iter_mut() {
            if rate_limits::is_limited(path) {
                rate_limits::declare(
                    operation,
                    crate::rate_limited::is_rate_limited(method, path),
                );
            }
            if crate::clinical_reads::is_clinical_read(method, path)
                && let Some(parameters) = operation
                    .as_object_mut()
                    .map(|o| o.entry("parameters").or_insert_with(|| json!([])))
                    .and_then(Value::as_array_mut)
            {
                parameters.push(json!({ "$ref": "#/components/parameters/PurposeOfUse" }));
            }
            if crate::idempotency::operations::takes_idempotency_key(method, path) {
                idempotency::declare(operation);
            }
            if let Some(audited) = crate::audited::audited(method, path) {
                operation["x-audit-actions"] = json!(audited.actions().collect::<Vec<_>>());
            }
            finish_operation(operation, &referencing);
        }
    }
}

/// OpenAPI 3.1 schemas are JSON Schema 2020-12, where a schema's examples are the
/// array `examples` (the single `example` utoipa writes is deprecated there).
fn examples_as_json_schema(doc: &mut Value) {
    let schemas = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut);
    for schema in schemas.into_iter().flat_map(|s| s.values_mut()) {
        if let Some(schema) = schema.as_object_mut()
            && let Some(example) = schema.remove("example")
        {
            schema.insert("examples".to_owned(), json!([example]));
        }
    }
}

/// Names, on each operation whose contract admits bodies larger than the default
/// limit, the limit it reads up to (`x-max-body-bytes`; the server uses the same
/// figure, see [`size`]).
fn declare_body_limits(doc: &mut Value) {
    let default = crate::json::DEFAULT_JSON_LIMIT;
    let mut limits = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for (method, operation) in item.as_object().into_iter().flatten() {
            if let Some(schema) =
                operation["requestBody"]["content"]["application/json"].get("schema")
            {
                let limit = size::body_limit(doc, schema, default);
                if limit > default {
                    limits.push((path.clone(), method.clone(), limit));
                }
            }
        }
    }
    for (path, method, limit) in limits {
        if let Some(operation) = doc["paths"][&path].get_mut(&method) {
            operation["x-max-body-bytes"] = json!(limit);
        }
    }
}

fn add_components(doc: &mut Value) {
    let components = doc
        .as_object_mut()
        .map(|d| d.entry("components").or_insert_with(|| json!({})));
    let Some(components) = components.and_then(Value::as_object_mut) else {
        return;
    };
    let mut responses = Map::new();
    for generic in GENERIC_RESPONSES {
        responses.insert(generic.name.to_owned(), generic.component());
    }
    components.insert("responses".to_owned(), Value::Object(responses));
    let mut headers = json!({
            "ETag": {
                "description": "The resource's version after this answer (`\"v3\"`): send it in \
                                `If-Match` to change the resource.",
                "schema": { "type": "string" }
            },
            REPLAYED_HEADER: idempotency::replayed_header(),
            REQUEST_ID_HEADER: {
                "description": "The request's id: the one the client sent when it is a sane token \
                                (1 to 128 of `A-Z a-z 0-9 . _ : -`), else one the server made. \
                                Quote it when reporting a problem.",
                "schema": { "type": "string", "maxLength": 128 }
            }
    });
    if let Some(headers) = headers.as_object_mut() {
        headers
            .extend(rate_limits::header_components().map(|(name, value)| (name.to_owned(), value)));
    }
    components.insert("headers".to_owned(), headers);
    components.insert(
        "parameters".to_owned(),
        json!({
            "PurposeOfUse": {
                "name": salus_domain::purpose::HEADER,
                "in": "header",
                "required": false,
                "description": "Why the caller reads clinical data: a code of HL7 v3 \
                                PurposeOfUse (`TREAT` treatment, `ETREAT` emergency \
                                treatment, `CAREMGT` care management, `COC` coordination of \
                                care, `PATRQT` the patient asked, `HOPERAT` operations, \
                                `HPAYMT` payment, `HQUALIMP` quality improvement, `HRESCH` \
                                research, `PUBHLTH` public health, `LEGAL` legal). Kept in the \
                                read's audit event. Required where the clinic sets \
                                `purpose_of_use_required` (403 `purpose_of_use_required` \
                                without it); any other value is 400 `malformed_purpose_of_use`.",
                "schema": {
                    "type": "string",
                    "enum": salus_domain::purpose::PurposeOfUse::ALL
                        .iter()
                        .map(|p| p.code())
                        .collect::<Vec<_>>()
                }
            },
            "IdempotencyKey": idempotency::parameter(),
            "RequestId": {
                "name": REQUEST_ID_HEADER,
                "in": "header",
                "required": false,
                "description": "An id of the client's choosing for this request, echoed in the \
                                response and in problem bodies when it is 1 to 128 of \
                                `A-Z a-z 0-9 . _ : -`; any other value is replaced by an id the \
                                server makes (never refused).",
                "schema": { "type": "string" }
            }
        }),
    );
}

fn finish_operation(operation: &mut Value, referencing: &std::collections::BTreeSet<String>) {
    let statuses = generic_statuses(operation, referencing);
    let Some(op) = operation.as_object_mut() else {
        return;
    };
    let if_match = op
        .get_mut("parameters")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
        .filter(|p| p["in"] == "header" && p["name"] == "If-Match");
    let mut takes_if_match = false;
    for parameter in if_match {
        takes_if_match = true;
        parameter["schema"] =
            json!({ "type": "string", "pattern": crate::preconditions::IF_MATCH_PATTERN });
        parameter["description"] = json!(
            "The `ETag` of the version read (`\"v3\"`), or `*` for whatever version is \
             current. Required: without it the answer is 428, with another version 412."
        );
    }
    let parameters = op
        .entry("parameters")
        .or_insert_with(|| json!([]))
        .as_array_mut();
    if let Some(parameters) = parameters {
        parameters.push(json!({ "$ref": "#/components/parameters/RequestId" }));
    }
    let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
        return;
    };
    for status in statuses {
        if let Some(name) = response_name(status) {
            responses
                .entry(status.to_owned())
                .or_insert_with(|| json!({ "$ref": format!("#/components/responses/{name}") }));
        }
    }
    if takes_if_match {
        for (_, response) in responses.iter_mut().filter(|(s, _)| s.starts_with('2')) {
            if let Some(response) = response.as_object_mut() {
                let headers = response.entry("headers").or_insert_with(|| json!({}));
                if let Some(headers) = headers.as_object_mut() {
                    headers
                        .entry("ETag")
                        .or_insert_with(|| json!({ "$ref": "#/components/headers/ETag" }));
                }
            }
        }
    }
    for (status, response) in responses.iter_mut() {
        let is_problem = status.starts_with('4') || status.starts_with('5');
        match (is_problem, response_name(status)) {
            (true, Some(name)) => refer(response, name),
            _ => add_request_id_header(response),
        }
    }
}

/// Replaces an inline problem answer by a reference to its shared component,
/// keeping the route's own description when it has one.
fn refer(response: &mut Value, name: &str) {
    let description = response
        .get("description")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let mut reference = Map::new();
    reference.insert(
        "$ref".to_owned(),
        json!(format!("#/components/responses/{name}")),
    );
    if let Some(description) = description {
        reference.insert("description".to_owned(), json!(description));
    }
    *response = Value::Object(reference);
}

fn add_request_id_header(response: &mut Value) {
    if response.get("$ref").is_some() {
        return;
    }
    if let Some(response) = response.as_object_mut() {
        let headers = response.entry("headers").or_insert_with(|| json!({}));
        if let Some(headers) = headers.as_object_mut() {
            headers.insert(
                REQUEST_ID_HEADER.to_owned(),
                json!({ "$ref": format!("#/components/headers/{REQUEST_ID_HEADER}") }),
            );
        }
    }
}
