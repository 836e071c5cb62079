//! The largest body a request schema admits, in bytes, so the body limit of an
//! operation can be set to let through every request its contract calls valid.
//!
//! Counted as a client may send it: every character of a string escaped at worst
//! (`\uD83D\uDE00`, 12 bytes for one character beyond the BMP), compact JSON. A
//! schema with a string or a list that has no upper bound has no largest body.

use serde_json::Value;

/// Bytes of one character of a JSON string at worst.
const PER_CHAR: usize = 12;
/// Room for whitespace between tokens and other slack.
const SLACK: usize = 4096;

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => &doc["components"]["schemas"][r.trim_start_matches("#/components/schemas/")],
        None => schema,
    }
}

fn max_of(mut values: impl Iterator<Item = Option<usize>>) -> Option<usize> {
    values.try_fold(0, |acc, v| Some(acc.max(v?)))
}

fn as_usize(value: &Value) -> Option<usize> {
    value.as_u64().and_then(|v| usize::try_from(v).ok())
}

/// The largest JSON text of a value of `schema`, if there is one.
fn largest(doc: &Value, schema: &Value, depth: usize) -> Option<usize> {
    if depth > 16 {
        return None;
    }
    let schema = resolve(doc, schema);
    if let Some(values) = schema["enum"].as_array() {
        return max_of(values.iter().map(|v| Some(v.to_string().len() * PER_CHAR)));
    }
    if let Some(variants) = schema["oneOf"].as_array().or(schema["anyOf"].as_array())
        && schema.get("properties").is_none()
    {
        return max_of(variants.iter().map(|v| largest(doc, v, depth + 1)));
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => return None,
    };
    max_of(types.into_iter().map(|t| match t {
        "null" => Some(4),
        "boolean" => Some(5),
        "integer" | "number" => Some(32),
        "string" => {
            let chars = as_usize(&schema["maxLength"]).or(match schema["format"].as_str() {
                Some("uuid") => Some(36),
                Some("date") => Some(10),
                Some("date-time") => Some(64),
                _ => None,
            })?;
            Some(chars * PER_CHAR + 2)
        }
        "array" => {
            let items = as_usize(&schema["maxItems"])?;
            Some(2 + items * (largest(doc, &schema["items"], depth + 1)? + 1))
        }
        "object" => {
            let properties = schema["properties"].as_object()?;
            let mut total = 2;
            for (name, property) in properties {
                total += name.len() * PER_CHAR + 4 + largest(doc, property, depth + 1)?;
            }
            Some(total)
        }
        _ => None,
    }))
}

/// The body limit that admits every body of `schema`: its largest body with some
/// slack, and never below `floor`. A schema without a largest body gets `floor`.
pub fn body_limit(doc: &Value, schema: &Value, floor: usize) -> usize {
    largest(doc, schema, 0).map_or(floor, |bytes| (bytes + SLACK).max(floor))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::body_limit;

    #[test]
    fn a_bounded_schema_gets_room_for_its_largest_body_and_an_unbounded_one_the_floor() {
        let doc = json!({ "components": { "schemas": {
            "Note": { "type": "object", "properties": {
                "body": { "type": "string", "maxLength": 16000 },
                "tags": { "type": "array", "maxItems": 2, "items": { "type": "string", "maxLength": 10 } }
            } }
        } } });
        let limit = body_limit(&doc, &json!({"$ref": "#/components/schemas/Note"}), 65536);
        assert!(limit > 16000 * 12 && limit < 16000 * 12 + 8192, "{limit}");
        let unbounded = json!({ "type": "object", "properties": { "body": { "type": "string" } } });
        assert_eq!(body_limit(&doc, &unbounded, 65536), 65536);
    }
}
