//! One policy for every string a client sends, in bodies and in query strings.
//!
//! - NUL is refused everywhere (PostgreSQL cannot store it; in a sealed field it
//!   would be stored silently).
//! - Control characters are refused, except line breaks and tabs in the fields
//!   that hold free text over several lines ([`MULTILINE_FIELDS`]); bidirectional
//!   embedding, override and isolate controls are refused everywhere (they make
//!   text display otherwise than it reads).
//! - Text is normalised to Unicode NFC (unless that would lengthen it) and trimmed.
//! - Text that is not empty must show something: a string of spaces and invisible
//!   characters (zero-width spaces, fillers) is refused as `blank`.
//!
//! The character classes are those of [`salus_domain::formats`], which the
//! contract publishes as each string field's `pattern`.
//! - Secrets (passwords, tokens, codes: [`SECRET_FIELDS`]) are checked for NUL and
//!   control characters only and otherwise passed on unchanged, byte for byte.
//!
//! Numbers are left as they are, except that a whole number written with a
//! fraction (`24.0`) is read as the integer it is, as JSON Schema does.
//!
//! The rule a string follows is chosen by the name of the field that holds it (for
//! an array, the array's field), so it applies to every operation at once; a
//! contract-walking test sends the refused kinds of text to every string field.

use salus_domain::formats::{is_bidi_control, is_invisible, is_refused_control};
use serde_json::Value;
use unicode_normalization::UnicodeNormalization;

use crate::problem::FieldError;

/// Fields whose text may span lines (line breaks and tabs allowed).
pub const MULTILINE_FIELDS: &[&str] = &["body", "notes"];

/// Fields that hold secrets: never normalised or trimmed.
pub const SECRET_FIELDS: &[&str] = &[
    "password",
    "current_password",
    "new_password",
    "token",
    "mfa_token",
    "refresh_token",
    "code",
    "recovery_code",
];

/// How a field's text is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextKind {
    /// One line of text: names, labels, filters.
    Line,
    /// Free text over several lines.
    Multiline,
    /// A secret, passed on unchanged.
    Secret,
}

impl TextKind {
    /// The kind of the field named `name`.
    pub fn of(name: &str) -> Self {
        if SECRET_FIELDS.contains(&name) {
            Self::Secret
        } else if MULTILINE_FIELDS.contains(&name) {
            Self::Multiline
        } else {
            Self::Line
        }
    }
}

fn refusal(field: &str, code: &str, message: &str) -> FieldError {
    FieldError {
        field: field.to_owned(),
        code: code.to_owned(),
        message: message.to_owned(),
    }
}

/// Checks one string and returns it as it is to be used (normalised and trimmed,
/// secrets untouched), or why it is refused.
pub fn clean(field: &str, kind: TextKind, text: &str) -> Result<String, FieldError> {
    if text.contains('\0') {
        return Err(refusal(field, "nul", "must not contain NUL characters"));
    }
    let multiline = kind == TextKind::Multiline;
    let refused_control = |c: char| is_refused_control(c, multiline && kind != TextKind::Secret);
    if text.chars().any(refused_control) {
        return Err(refusal(
            field,
            "control_character",
            if kind == TextKind::Multiline {
                "must not contain control characters other than line breaks and tabs"
            } else {
                "must not contain control characters or line breaks"
            },
        ));
    }
    if kind == TextKind::Secret {
        return Ok(text.to_owned());
    }
    if text.chars().any(is_bidi_control) {
        return Err(refusal(
            field,
            "bidi_control",
            "must not contain bidirectional override or isolate characters",
        ));
    }
    // NFC, unless it would make the text longer (a few characters decompose), which
    // could push a text the contract admits past its maxLength.
    let normalised: String = text.nfc().collect();
    let normalised = if normalised.chars().count() > text.chars().count() {
        text.to_owned()
    } else {
        normalised
    };
    let trimmed = normalised.trim();
    if !text.is_empty() && trimmed.chars().all(is_invisible) {
        return Err(refusal(
            field,
            "blank",
            "must contain at least one visible character",
        ));
    }
    Ok(trimmed.to_owned())
}

/// Applies the policy to every string in a JSON body, in place; returns every
/// refused field, with its JSON path (`address.lines[1]`).
pub fn clean_json(value: &mut Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    walk(value, "", TextKind::Line, &mut errors);
    errors
}

fn walk(value: &mut Value, path: &str, kind: TextKind, errors: &mut Vec<FieldError>) {
    match value {
        Value::String(text) => match clean(path, kind, text) {
            Ok(cleaned) => *text = cleaned,
            Err(error) => errors.push(error),
        },
        Value::Array(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                walk(item, &format!("{path}[{index}]"), kind, errors);
            }
        }
        Value::Object(fields) => {
            for (name, field) in fields.iter_mut() {
                let path = if path.is_empty() {
                    name.clone()
                } else {
                    format!("{path}.{name}")
                };
                walk(field, &path, TextKind::of(name), errors);
            }
        }
        Value::Number(number) => {
            // JSON has one number type: 24.0 is the integer 24 (as JSON Schema's
            // `integer` says), so integer fields take it.
            if let Some(float) = number.as_f64().filter(|_| number.is_f64())
                && float.fract() == 0.0
                && float.abs() < 9.0e15
            {
                #[allow(clippy::cast_possible_truncation)]
                let integer = float as i64;
                *value = Value::from(integer);
            }
        }
        Value::Null | Value::Bool(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn lines_are_normalised_trimmed_and_must_show_something() {
        assert_eq!(clean("n", TextKind::Line, "  Zoë  ").unwrap(), "Zoë");
        assert_eq!(clean("n", TextKind::Line, "Zoe\u{308}").unwrap(), "Zoë");
        for (bad, code) in [
            ("a\0b", "nul"),
            ("a\u{7}b", "control_character"),
            ("\u{1b}[31mred", "control_character"),
            ("two\nlines", "control_character"),
            ("\u{200b}\u{200b}", "blank"),
            ("\u{3164}", "blank"),
            ("   ", "blank"),
            ("abc\u{202e}fed", "bidi_control"),
        ] {
            assert_eq!(
                clean("n", TextKind::Line, bad).unwrap_err().code,
                code,
                "{bad:?}"
            );
        }
        assert_eq!(clean("n", TextKind::Line, "").unwrap(), "");
    }

    #[test]
    fn multiline_text_keeps_its_breaks_and_secrets_are_untouched() {
        assert_eq!(
            clean("body", TextKind::Multiline, "line 1\n\tline 2\r\n").unwrap(),
            "line 1\n\tline 2"
        );
        assert!(clean("body", TextKind::Multiline, "bell\u{7}").is_err());
        assert_eq!(
            clean("password", TextKind::Secret, "  Zoe\u{308} ").unwrap(),
            "  Zoe\u{308} "
        );
        assert!(clean("password", TextKind::Secret, "a\0").is_err());
    }

    #[test]
    fn bodies_are_walked_with_each_field_s_rule() {
        let mut body = json!({
            "family_name": " Curie ",
            "address": {"lines": ["ok", "bad\u{0}"]},
            "medical_history": {"notes": "a\nb"},
            "password": " p ",
        });
        let errors = clean_json(&mut body);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "address.lines[1]");
        assert_eq!(body["family_name"], "Curie");
        assert_eq!(body["medical_history"]["notes"], "a\nb");
        assert_eq!(body["password"], " p ");
    }
}
