//! The text formats the API checks, each declared once as a regular expression:
//! the server checks with it, and the contract publishes the same expression as
//! the field's `pattern`, so what a schema admits is what the server takes.
//!
//! The expressions use only what ECMA-262 (JSON Schema), Python and Rust's `regex`
//! read alike: `\uXXXX` escapes, classes, groups and counted repetition.

use std::sync::OnceLock;

use regex::Regex;

/// Control characters (C0, DEL, C1).
const CONTROLS: &str = r"\u0000-\u001f\u007f-\u009f";
/// The characters Unicode calls white space (what Rust's `char::is_whitespace`
/// and `str::trim` go by), controls among them aside.
const SPACES: &str = r"\u0020\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";
/// Bidirectional embedding, override and isolate controls.
const BIDI: &str = r"\u202a-\u202e\u2066-\u2069";
/// Characters that show nothing although they are not spaces: the soft hyphen,
/// joiners, zero-width spaces, marks and fillers.
const INVISIBLE: &str = r"\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u2060-\u2065\u206a-\u206f\u2800\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff9-\ufffb";

/// One line of text: no control or bidi character, and, when not empty, at least
/// one character that shows.
pub fn line_pattern() -> String {
    let allowed = format!("[^{CONTROLS}{BIDI}]");
    let visible = format!("[^{CONTROLS}{BIDI}{SPACES}{INVISIBLE}]");
    format!("^(?:{allowed}*{visible}{allowed}*)?$")
}

/// Free text over several lines: as [`line_pattern`], with line breaks and tabs.
pub fn multiline_pattern() -> String {
    let allowed = format!(r"[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f{BIDI}]");
    let visible = format!("[^{CONTROLS}{BIDI}{SPACES}{INVISIBLE}]");
    format!("^(?:{allowed}*{visible}{allowed}*)?$")
}

/// A secret (password, token, code): no control character; anything else goes.
pub fn secret_pattern() -> String {
    format!("^[^{CONTROLS}]*$")
}

/// An email address: a local part of 1 to 64 characters, `@`, and a domain of at
/// least two dot-separated labels; no spaces, controls or bidi characters, one
/// `@`. (At most 254 characters in all, as the field's `maxLength` says.)
pub fn email_pattern() -> String {
    let part = format!("[^@{CONTROLS}{SPACES}{BIDI}");
    format!("^{part}]{{1,64}}@{part}.]+(?:\\.{part}.]+)+$")
}

/// An E.164 phone number: `+`, then 8 to 15 digits, the first not zero; spaces,
/// hyphens and parentheses between them are allowed (and removed).
pub const PHONE_PATTERN: &str = r"^[ ()\-]*\+[ ()\-]*[1-9](?:[ ()\-]*[0-9]){7,14}[ ()\-]*$";

/// A time of day, `HH:MM`, 00:00 to 23:59.
pub const TIME_OF_DAY_PATTERN: &str = "^(?:[01][0-9]|2[0-3]):[0-5][0-9]$";

/// A network a service account may call from: an IPv4 or IPv6 address,
/// optionally with a prefix length (`192.0.2.0/24`, `2001:db8::/32`), written
/// as `ipnet` reads it (no zone, no IPv4 inside IPv6).
pub fn network_pattern() -> String {
    let octet = "(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])";
    let v4 = format!("(?:{octet}\\.){{3}}{octet}(?:/(?:3[0-2]|[12]?[0-9]))?");
    let h = "[0-9a-fA-F]{1,4}";
    let v6 = [
        format!("(?:{h}:){{7}}{h}"),
        format!("(?:{h}:){{1,7}}:"),
        format!("(?:{h}:){{1,6}}:{h}"),
        format!("(?:{h}:){{1,5}}(?::{h}){{1,2}}"),
        format!("(?:{h}:){{1,4}}(?::{h}){{1,3}}"),
        format!("(?:{h}:){{1,3}}(?::{h}){{1,4}}"),
        format!("(?:{h}:){{1,2}}(?::{h}){{1,5}}"),
        format!("{h}:(?::{h}){{1,6}}"),
        format!(":(?:(?::{h}){{1,7}}|:)"),
    ]
    .join("|");
    format!("^(?:{v4}|(?:{v6})(?:/(?:12[0-8]|1[01][0-9]|[1-9]?[0-9]))?)$")
}

/// Whether `text` is a network of [`network_pattern`].
pub fn is_network(text: &str) -> bool {
    static NETWORK: OnceLock<Option<Regex>> = OnceLock::new();
    compiled(&NETWORK, network_pattern).is_some_and(|r| r.is_match(text))
}

fn compiled(
    cell: &'static OnceLock<Option<Regex>>,
    pattern: impl FnOnce() -> String,
) -> Option<&'static Regex> {
    cell.get_or_init(|| Regex::new(&pattern()).ok()).as_ref()
}

/// Whether `text` is an email address of [`email_pattern`] and at most 254 characters.
pub fn is_email(text: &str) -> bool {
    static EMAIL: OnceLock<Option<Regex>> = OnceLock::new();
    text.chars().count() <= 254 && compiled(&EMAIL, email_pattern).is_some_and(|r| r.is_match(text))
}

/// Whether `text` is a phone number of [`PHONE_PATTERN`].
pub fn is_phone(text: &str) -> bool {
    static PHONE: OnceLock<Option<Regex>> = OnceLock::new();
    compiled(&PHONE, || PHONE_PATTERN.to_owned()).is_some_and(|r| r.is_match(text))
}

/// Whether `text` is a time of day of [`TIME_OF_DAY_PATTERN`].
pub fn is_time_of_day(text: &str) -> bool {
    static TIME: OnceLock<Option<Regex>> = OnceLock::new();
    compiled(&TIME, || TIME_OF_DAY_PATTERN.to_owned()).is_some_and(|r| r.is_match(text))
}

/// Whether `c` is a control character the given kind of text refuses.
pub fn is_refused_control(c: char, multiline: bool) -> bool {
    c.is_control() && !(multiline && matches!(c, '\n' | '\r' | '\t'))
}

/// Whether `c` is a bidirectional embedding, override or isolate control.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Whether `c` shows nothing: a control, a space, a bidi control or one of the
/// invisible characters.
pub fn is_invisible(c: char) -> bool {
    static SHOWS: OnceLock<Option<Regex>> = OnceLock::new();
    let shows = compiled(&SHOWS, || {
        format!("^[^{CONTROLS}{BIDI}{SPACES}{INVISIBLE}]$")
    });
    !shows.is_some_and(|r| r.is_match(c.encode_utf8(&mut [0; 4])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_space_set_is_rust_s_white_space_and_the_classes_agree_with_char_tests() {
        let line = Regex::new(&line_pattern()).unwrap();
        let multiline = Regex::new(&multiline_pattern()).unwrap();
        for code in 0..=0x2ffffu32 {
            let Some(c) = char::from_u32(code) else {
                continue;
            };
            let text = format!("a{c}");
            let bad_line = is_refused_control(c, false) || is_bidi_control(c);
            let bad_multi = is_refused_control(c, true) || is_bidi_control(c);
            assert_eq!(line.is_match(&text), !bad_line, "{code:04x} in a line");
            assert_eq!(
                multiline.is_match(&text),
                !bad_multi,
                "{code:04x} in free text"
            );
            if c.is_whitespace() {
                assert!(is_invisible(c), "{code:04x} is white space");
            }
            if !c.is_control() && !c.is_whitespace() && !is_bidi_control(c) {
                // A single character shows exactly when the pattern takes it alone.
                assert_eq!(
                    line.is_match(&c.to_string()),
                    !is_invisible(c),
                    "{code:04x} alone"
                );
            }
        }
        assert!(!line.is_match(" \u{200b} "), "only invisible");
        assert!(line.is_match(""), "empty");
    }

    #[test]
    fn formats_take_what_they_say() {
        for ok in ["ada@clinic.test", "a.b+c@x.y.z", "zoë@café.example"] {
            assert!(is_email(ok), "{ok}");
        }
        for bad in [
            "",
            "ada",
            "ada@",
            "@clinic.test",
            "ada@clinic",
            "a b@clinic.test",
            "a@b@c.test",
            "ada@.test",
            "ada@c..test",
            "ada@c.test.",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
        assert!(!is_email(&format!("{}@c.test", "a".repeat(65))));
        for ok in ["+33612345678", "+33 6 12 34 56 78", "(+1) 555-0100-12"] {
            assert!(is_phone(ok), "{ok}");
        }
        for bad in [
            "0612345678",
            "+0612345678",
            "+123",
            "+1234567890123456",
            "+33a612345678",
        ] {
            assert!(!is_phone(bad), "{bad}");
        }
        for ok in ["00:00", "09:30", "23:59"] {
            assert!(is_time_of_day(ok), "{ok}");
        }
        for bad in ["24:00", "9:30", "09:60", "09:30:00", "+9:30"] {
            assert!(!is_time_of_day(bad), "{bad}");
        }
    }
}
