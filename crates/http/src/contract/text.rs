//! The text policy and the text formats, published: every string a request can
//! carry gets the `pattern` of the rule the server applies to it (see
//! [`crate::text_policy`] and [`salus_domain::formats`]), so a schema-valid string
//! is one the server takes and a string the server refuses is schema-invalid.

use std::collections::BTreeSet;

use salus_domain::formats::{
    PHONE_PATTERN, TIME_OF_DAY_PATTERN, email_pattern, line_pattern, multiline_pattern,
    secret_pattern,
};
use serde_json::{Value, json};

use crate::text_policy::TextKind;

/// Fields holding an email address the server checks as one (elsewhere, an email
/// is only a sign-in name, and any text is taken and answered alike).
const EMAIL_FIELDS: &[(&str, &str)] = &[
    ("SignUpRequest", "email"),
    ("InvitationRequest", "email"),
    ("ChangeEmailRequest", "new_email"),
    ("PatientRequest", "email"),
];

/// Fields holding a phone number.
const PHONE_FIELDS: &[(&str, &str)] = &[
    ("PatientRequest", "phone"),
    ("EmergencyContactDto", "phone"),
    ("PhoneRequest", "phone"),
];

/// Fields holding a time of day.
const TIME_FIELDS: &[(&str, &str)] = &[("HoursDto", "starts"), ("HoursDto", "ends")];

/// Fields holding an IANA time zone name.
const TIME_ZONE_FIELDS: &[(&str, &str)] = &[("UpdateClinicRequest", "time_zone")];

/// The pattern of a text field of a request schema.
fn pattern_for(schema: &str, field: &str) -> String {
    let is = |list: &[(&str, &str)]| list.contains(&(schema, field));
    if is(EMAIL_FIELDS) {
        return email_pattern();
    }
    if is(PHONE_FIELDS) {
        return PHONE_PATTERN.to_owned();
    }
    if is(TIME_FIELDS) {
        return TIME_OF_DAY_PATTERN.to_owned();
    }
    match TextKind::of(field) {
        TextKind::Secret => secret_pattern(),
        TextKind::Multiline => multiline_pattern(),
        TextKind::Line => line_pattern(),
    }
}

fn is_string(schema: &Value) -> bool {
    schema["type"] == "string"
        || schema["type"]
            .as_array()
            .is_some_and(|t| t.contains(&Value::from("string")))
}

fn is_free_text(schema: &Value) -> bool {
    is_string(schema)
        && schema.get("enum").is_none()
        && schema.get("format").is_none()
        && schema.get("pattern").is_none()
}

/// The names of the schemas a request body can hold, nested ones included.
fn request_schemas(doc: &Value) -> BTreeSet<String> {
    fn refs(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(r) = map.get("$ref").and_then(Value::as_str) {
                    out.push(r.trim_start_matches("#/components/schemas/").to_owned());
                }
                map.values().for_each(|v| refs(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let mut pending = Vec::new();
    for item in doc["paths"]
        .as_object()
        .into_iter()
        .flat_map(|p| p.values())
    {
        for operation in item.as_object().into_iter().flat_map(|o| o.values()) {
            refs(&operation["requestBody"], &mut pending);
        }
    }
    let mut seen = BTreeSet::new();
    while let Some(name) = pending.pop() {
        if seen.insert(name.clone()) {
            refs(&doc["components"]["schemas"][&name], &mut pending);
        }
    }
    seen
}

/// Gives one property schema (or its `oneOf` string branch, or its items) the
/// pattern or set of its field.
fn constrain(schema_name: &str, field: &str, property: &mut Value, time_zones: &[&'static str]) {
    if let Some(variants) = property.get_mut("oneOf").and_then(Value::as_array_mut) {
        for variant in variants {
            constrain(schema_name, field, variant, time_zones);
        }
        return;
    }
    if property["type"] == "array" {
        if let Some(items) = property.get_mut("items") {
            if is_free_text(items) && items.get("maxLength").is_none() {
                items["maxLength"] = json!(crate::routes::patients::SHORT_ITEM_CHARS);
            }
            constrain(schema_name, field, items, time_zones);
        }
        return;
    }
    if !is_free_text(property) {
        return;
    }
    if TIME_ZONE_FIELDS.contains(&(schema_name, field)) {
        let mut names: Vec<Value> = time_zones.iter().map(|z| Value::from(*z)).collect();
        if property["type"]
            .as_array()
            .is_some_and(|t| t.contains(&Value::from("null")))
        {
            names.push(Value::Null);
        }
        property["enum"] = Value::Array(names);
        return;
    }
    property["pattern"] = json!(pattern_for(schema_name, field));
}

/// Adds the patterns to every text field of every request schema and to every
/// free-text query parameter.
pub fn publish(doc: &mut Value) {
    let time_zones = salus_domain::schedule::time_zone_names();
    let time_zones = time_zones.as_slice();
    for name in request_schemas(doc) {
        let properties = doc
            .pointer_mut(&format!("/components/schemas/{name}/properties"))
            .and_then(Value::as_object_mut);
        for (field, property) in properties.into_iter().flatten() {
            constrain(&name, field, property, time_zones);
        }
    }
    let operations = doc
        .get_mut("paths")
        .and_then(Value::as_object_mut)
        .into_iter()
        .flat_map(|p| p.values_mut())
        .filter_map(Value::as_object_mut)
        .flat_map(|item| item.values_mut());
    for operation in operations {
        let parameters = operation
            .get_mut("parameters")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "query");
        for parameter in parameters {
            if let Some(schema) = parameter.get_mut("schema")
                && is_free_text(schema)
            {
                schema["pattern"] = json!(line_pattern());
            }
        }
    }
}
