//! The `Idempotency-Key` request header: a Structured Field string, as the
//! draft defines it (`"8e03978e-40d5-43e8-bc93-6894a57f9324"`), or the same
//! characters unquoted as many clients send them; both name the same key.

/// The header's name.
pub const HEADER: &str = "Idempotency-Key";

/// The longest key, in characters (after unquoting).
pub const MAX_LEN: usize = 255;

/// The pattern the contract declares for the header: a quoted string of
/// printable ASCII (`\"` and `\\` escaped), or a bare one without spaces,
/// quotes or backslashes; 1 to 255 characters either way.
pub const PATTERN: &str =
    r#"^("([\x20-\x21\x23-\x5B\x5D-\x7E]|\\["\\]){1,255}"|[\x21\x23-\x5B\x5D-\x7E]{1,255})$"#;

/// A well-formed key: its characters, unquoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Reads the header's value; `None` when it is not a key of
    /// [`PATTERN`]'s shape.
    pub fn parse(value: &[u8]) -> Option<Self> {
        let key = match value {
            [b'"', inner @ .., b'"'] => unquote(inner)?,
            bare => bare
                .iter()
                .all(|b| b.is_ascii_graphic() && *b != b'"' && *b != b'\\')
                .then(|| String::from_utf8_lossy(bare).into_owned())?,
        };
        (1..=MAX_LEN).contains(&key.len()).then_some(Self(key))
    }

    /// The key's characters.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The content of a Structured Field string (RFC 8941 §3.3.3): printable
/// ASCII, with `"` and `\` escaped by a backslash.
fn unquote(inner: &[u8]) -> Option<String> {
    let mut out = String::with_capacity(inner.len());
    let mut bytes = inner.iter();
    while let Some(&b) = bytes.next() {
        match b {
            b'\\' => match bytes.next() {
                Some(&escaped @ (b'"' | b'\\')) => out.push(char::from(escaped)),
                _ => return None,
            },
            b'"' => return None,
            b' '..=b'~' => out.push(char::from(b)),
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(value: &str) -> Option<String> {
        IdempotencyKey::parse(value.as_bytes()).map(|k| k.as_str().to_owned())
    }

    #[test]
    fn quoted_and_bare_forms_name_the_same_key() {
        assert_eq!(key(r#""8e03978e-40d5""#).as_deref(), Some("8e03978e-40d5"));
        assert_eq!(key("8e03978e-40d5").as_deref(), Some("8e03978e-40d5"));
        assert_eq!(key(r#""a \"b\" \\c""#).as_deref(), Some(r#"a "b" \c"#));
    }

    #[test]
    fn empty_long_unprintable_or_badly_quoted_keys_are_refused() {
        for bad in [
            "",
            r#""""#,
            "a b",
            "\"open",
            "close\"",
            r#""a"b""#,
            r#""a\x""#,
            "tab\there",
            "caf\u{e9}",
            "\"\u{7f}\"",
        ] {
            assert_eq!(key(bad), None, "{bad:?}");
        }
        assert!(key(&"k".repeat(MAX_LEN)).is_some());
        assert_eq!(key(&"k".repeat(MAX_LEN + 1)), None);
        assert_eq!(key(&format!("\"{}\"", "k".repeat(MAX_LEN + 1))), None);
    }

    #[test]
    fn the_contracts_pattern_admits_what_the_parser_admits() {
        let pattern = regex::Regex::new(PATTERN).unwrap();
        for value in [
            "abc",
            r#""a b""#,
            r#""a \"b\" \\c""#,
            "",
            "a b",
            r#""a"b""#,
            "\"open",
        ] {
            assert_eq!(pattern.is_match(value), key(value).is_some(), "{value:?}");
        }
    }
}
