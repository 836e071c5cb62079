//! Cursor pagination shared by the list routes: a page size checked against its
//! cap, and opaque cursors (base64url of the JSON of the last item's sort key).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::problem::{ApiError, FieldError};

/// Largest page any list serves.
pub const MAX_LIMIT: i64 = 100;

fn invalid(field: &str, code: &str, message: &str) -> ApiError {
    ApiError::Validation(vec![FieldError {
        field: field.into(),
        code: code.into(),
        message: message.into(),
    }])
}

/// The page size asked for (or `default`), refused (422) outside 1 to 100.
pub fn page_limit(limit: Option<i64>, default: i64) -> Result<i64, ApiError> {
    let limit = limit.unwrap_or(default);
    if (1..=MAX_LIMIT).contains(&limit) {
        Ok(limit)
    } else {
        Err(invalid("limit", "range", "must be between 1 and 100"))
    }
}

/// The cursor of a sort key.
pub fn encode_cursor<K: Serialize>(key: &K) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(key).unwrap_or_default())
}

/// The sort key of a cursor this list issued; 422 for anything else.
pub fn decode_cursor<K: DeserializeOwned>(cursor: Option<&str>) -> Result<Option<K>, ApiError> {
    cursor
        .map(|c| {
            URL_SAFE_NO_PAD
                .decode(c)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .ok_or_else(|| invalid("cursor", "invalid", "is not a cursor of this list"))
        })
        .transpose()
}

/// The next page's cursor: the last item's key when the page is full.
pub fn next_cursor<T, K: Serialize>(
    items: &[T],
    limit: i64,
    key: impl Fn(&T) -> K,
) -> Option<String> {
    (i64::try_from(items.len()).unwrap_or(0) == limit)
        .then(|| items.last().map(|item| encode_cursor(&key(item))))
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_and_a_foreign_one_is_refused() {
        let key = (String::from("lovelace"), 7i64);
        let cursor = encode_cursor(&key);
        assert_eq!(
            decode_cursor::<(String, i64)>(Some(&cursor)).ok(),
            Some(Some(key))
        );
        assert!(decode_cursor::<(String, i64)>(Some("not-a-cursor")).is_err());
        assert_eq!(next_cursor(&[1, 2], 3, |n| *n), None);
        assert!(next_cursor(&[1, 2, 3], 3, |n| *n).is_some());
        assert!(page_limit(Some(0), 20).is_err() && page_limit(None, 20).ok() == Some(20));
    }
}
