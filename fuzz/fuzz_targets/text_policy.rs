//! The JSON text policy: any text is cleaned or refused with a field error, and
//! any JSON document is walked, never a panic; a cleaned line holds no control
//! character.
#![no_main]

use libfuzzer_sys::fuzz_target;
use salus_http::text_policy::{TextKind, clean, clean_json};

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        for kind in [TextKind::Line, TextKind::Multiline, TextKind::Secret] {
            if let Ok(cleaned) = clean("field", kind, text)
                && matches!(kind, TextKind::Line)
            {
                assert!(!cleaned.chars().any(char::is_control), "{cleaned:?}");
            }
        }
    }
    if let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = clean_json(&mut value);
    }
});
