//! `ETag` and `If-Match`: the HTTP side of optimistic concurrency
//! ([`salus_domain::concurrency`]).
//!
//! A mutable resource's ETag is its version, `"v<n>"`. Changes (PUT, PATCH and
//! state changes) require `If-Match` with the ETag the client read, or `*`:
//! without it the answer is 428, with another version 412 (the detail names the
//! current one), with something that is not an entity tag 400.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{FromRequest, HttpRequest, HttpResponseBuilder};
use salus_domain::concurrency::Expected;

use crate::problem::ApiError;

/// The ETag of a version.
pub fn etag(version: i32) -> String {
    format!("\"v{version}\"")
}

/// Sets the `ETag` of a version on a response being built.
pub fn with_etag(builder: &mut HttpResponseBuilder, version: i32) -> &mut HttpResponseBuilder {
    if let Ok(value) = HeaderValue::from_str(&etag(version)) {
        builder.insert_header((header::ETAG, value));
    }
    builder
}

/// What `If-Match` says: a version, or any; `None` when the request has none (the
/// service refuses that with 428, after its permission check).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IfMatch(pub Option<Expected>);

/// Parses an `If-Match` value: `*`, or one entity tag `"v<n>"` (weak `W/` allowed,
/// compared weakly as RFC 9110 allows for If-Match on our versions).
pub fn parse_if_match(value: &str) -> Option<Expected> {
    let value = value.trim();
    if value == "*" {
        return Some(Expected::Any);
    }
    let tag = value.strip_prefix("W/").unwrap_or(value);
    let digits = tag.strip_prefix("\"v")?.strip_suffix('"')?;
    if digits.is_empty() || digits.len() > 9 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().map(Expected::Version)
}

/// The contract's pattern of an `If-Match` value, matching [`parse_if_match`].
pub const IF_MATCH_PATTERN: &str = r#"^(?:\*|(?:W/)?"v[0-9]{1,9}")$"#;

impl FromRequest for IfMatch {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let Some(raw) = req.headers().get(header::IF_MATCH) else {
            return ready(Ok(IfMatch(None)));
        };
        let parsed = raw.to_str().ok().and_then(parse_if_match);
        ready(
            parsed
                .map(|expected| IfMatch(Some(expected)))
                .ok_or(ApiError::MalformedPrecondition),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_takes_a_version_or_any_and_nothing_else_as_the_pattern_says() {
        let pattern = regex::Regex::new(IF_MATCH_PATTERN).unwrap();
        assert_eq!(parse_if_match("\"v3\""), Some(Expected::Version(3)));
        assert_eq!(parse_if_match("W/\"v12\""), Some(Expected::Version(12)));
        assert_eq!(parse_if_match("*"), Some(Expected::Any));
        for good in ["\"v3\"", "W/\"v12\"", "*", "\"v123456789\""] {
            assert!(
                pattern.is_match(good) && parse_if_match(good).is_some(),
                "{good}"
            );
        }
        for bad in [
            "",
            "v3",
            "\"3\"",
            "\"v\"",
            "\"v1\", \"v2\"",
            "\"v1234567890\"",
            "\"v-1\"",
            "**",
        ] {
            assert_eq!(parse_if_match(bad), None, "{bad}");
            assert!(!pattern.is_match(bad), "{bad}");
        }
    }
}
