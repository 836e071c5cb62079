//! The request fingerprint the draft asks for: what makes two requests the
//! same request, hashed (SHA-256). It covers the method, the path with its
//! query, `If-Match` (a precondition changes what a request asks) and the
//! body, JSON in a canonical form (object keys sorted, no insignificant
//! whitespace) so a client that re-serialises the same value is not refused;
//! a body that is not JSON counts byte for byte.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// The parts of a request its fingerprint covers.
#[derive(Debug, Clone, Copy)]
pub struct RequestParts<'a> {
    /// The method.
    pub method: &'a str,
    /// The path and query, as sent.
    pub target: &'a str,
    /// The `If-Match` header, when sent.
    pub if_match: Option<&'a [u8]>,
    /// The body.
    pub body: &'a [u8],
}

/// The SHA-256 fingerprint of a request.
pub fn fingerprint(parts: RequestParts<'_>) -> [u8; 32] {
    let mut hash = Sha256::new();
    for field in [
        parts.method.as_bytes(),
        parts.target.as_bytes(),
        parts.if_match.unwrap_or_default(),
    ] {
        hash.update(u64::try_from(field.len()).unwrap_or(u64::MAX).to_be_bytes());
        hash.update(field);
    }
    hash.update([u8::from(parts.if_match.is_some())]);
    match serde_json::from_slice::<Value>(parts.body) {
        Ok(value) => {
            hash.update(b"json:");
            canonical(&value, &mut hash);
        }
        Err(_) => {
            hash.update(b"raw:");
            hash.update(parts.body);
        }
    }
    hash.finalize().into()
}

/// Feeds `value` to the hash with object keys in sorted order, whatever order
/// the map keeps them in.
fn canonical(value: &Value, hash: &mut Sha256) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            hash.update(b"{");
            for key in keys {
                hash.update(Value::String(key.clone()).to_string().as_bytes());
                hash.update(b":");
                canonical(&map[key], hash);
                hash.update(b",");
            }
            hash.update(b"}");
        }
        Value::Array(items) => {
            hash.update(b"[");
            for item in items {
                canonical(item, hash);
                hash.update(b",");
            }
            hash.update(b"]");
        }
        scalar => hash.update(scalar.to_string().as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(target: &str, if_match: Option<&str>, body: &str) -> [u8; 32] {
        fingerprint(RequestParts {
            method: "POST",
            target,
            if_match: if_match.map(str::as_bytes),
            body: body.as_bytes(),
        })
    }

    #[test]
    fn the_same_json_value_is_the_same_request_however_it_is_written() {
        assert_eq!(
            of(
                "/p",
                None,
                r#"{"a": 1, "b": [true, {"c": null, "d": "x"}]}"#
            ),
            of("/p", None, r#"{"b":[true,{"d":"x","c":null}],"a":1}"#)
        );
    }

    #[test]
    fn another_body_path_or_precondition_is_another_request() {
        let base = of("/p", None, r#"{"a":1}"#);
        for other in [
            of("/p", None, r#"{"a":2}"#),
            of("/p", None, r#"{"a":"1"}"#),
            of("/q", None, r#"{"a":1}"#),
            of("/p?x=1", None, r#"{"a":1}"#),
            of("/p", Some("\"v1\""), r#"{"a":1}"#),
            of("/p", Some(""), r#"{"a":1}"#),
            of("/p", None, r#"{"a":1,"b":null}"#),
            of("/p", None, r#"[{"a":1}]"#),
        ] {
            assert_ne!(base, other);
        }
        assert_ne!(of("/p", None, "not json"), of("/p", None, "not  json"));
    }
}
