//! Rules the server checks across fields, or against a catalogue, that JSON Schema
//! can state: each is written here into the schema of the request it governs, next
//! to a reference to the code that enforces it.

use salus_domain::formats::{line_pattern, network_pattern};
use salus_domain::identity::model::Role;
use serde_json::{Value, json};

/// Requests that take a second factor as exactly one of `code` and
/// `recovery_code` (`SecondFactorFields::factor`).
const SECOND_FACTOR_SCHEMAS: &[&str] = &["SecondFactorFields", "MfaRequest", "DisableMfaRequest"];

/// Requests that name a custom role (`roles::name_of` refuses built-in names).
const ROLE_NAME_SCHEMAS: &[&str] = &["CreateRoleRequest", "UpdateRoleRequest"];

/// Requests that subscribe a webhook endpoint to event types.
const WEBHOOK_ENDPOINT_SCHEMAS: &[&str] = &[
    "CreateWebhookEndpointRequest",
    "UpdateWebhookEndpointRequest",
];

/// A pattern that matches the built-in role names in any ASCII case, as
/// `roles::name_of` compares them.
fn built_in_role_names() -> String {
    let names: Vec<String> = Role::ALL
        .iter()
        .map(|role| {
            role.as_str()
                .chars()
                .map(|c| format!("[{}{}]", c.to_ascii_lowercase(), c.to_ascii_uppercase()))
                .collect()
        })
        .collect();
    format!("^(?:{})$", names.join("|"))
}

fn schema<'a>(doc: &'a mut Value, name: &str) -> Option<&'a mut serde_json::Map<String, Value>> {
    doc.pointer_mut(&format!("/components/schemas/{name}"))
        .and_then(Value::as_object_mut)
}

/// Writes the rules into the document's request schemas.
pub fn publish(doc: &mut Value) {
    for name in SECOND_FACTOR_SCHEMAS {
        if let Some(schema) = schema(doc, name) {
            schema.insert(
                "oneOf".to_owned(),
                json!([
                    { "required": ["code"], "properties": { "code": { "type": "string" } } },
                    { "required": ["recovery_code"], "properties": { "recovery_code": { "type": "string" } } }
                ]),
            );
        }
    }
    for name in ROLE_NAME_SCHEMAS {
        if let Some(property) = schema(doc, name)
            .and_then(|s| s.get_mut("properties"))
            .and_then(|p| p.get_mut("name"))
        {
            property["not"] = json!({ "pattern": built_in_role_names() });
        }
    }
    // An export names its recipient exactly when it is encrypted to one
    // (`export::Asked::checked`): an age X25519 recipient, bech32.
    if let Some(schema) = schema(doc, "ExportRequest") {
        schema.insert(
            "oneOf".to_owned(),
            json!([
                { "required": ["encryption", "recipient"], "properties": {
                    "encryption": { "const": "recipient" },
                    "recipient": { "type": "string", "pattern": "^age1[02-9ac-hj-np-z]{58}$" } } },
                { "required": ["encryption"], "properties": {
                    "encryption": { "const": "passphrase" },
                    "recipient": { "type": "null" } } }
            ]),
        );
    }
    // An endpoint names each event type once (`webhooks::event_types_of`).
    for name in WEBHOOK_ENDPOINT_SCHEMAS {
        if let Some(property) = schema(doc, name)
            .and_then(|s| s.get_mut("properties"))
            .and_then(|p| p.get_mut("event_types"))
        {
            property["uniqueItems"] = json!(true);
        }
    }
    // A service account names each permission and network text once, each
    // network as `integrations::networks` reads it.
    if let Some(properties) =
        schema(doc, "CreateServiceAccountRequest").and_then(|s| s.get_mut("properties"))
    {
        properties["permissions"]["uniqueItems"] = json!(true);
        let networks = &mut properties["allowed_networks"];
        networks["uniqueItems"] = json!(true);
        networks["items"] =
            json!({ "type": "string", "maxLength": 43, "pattern": network_pattern() });
    }
    // A cancellation needs a reason (`Services::change_status`).
    if let Some(schema) = schema(doc, "StatusRequest") {
        // The line pattern without its empty alternative: some text that shows.
        let visible = line_pattern().replace(")?$", ")$");
        schema.insert(
            "anyOf".to_owned(),
            json!([
                { "properties": { "status": { "not": { "const": "cancelled" } } } },
                { "required": ["reason"], "properties": { "reason": { "type": "string", "pattern": visible } } }
            ]),
        );
    }
}
