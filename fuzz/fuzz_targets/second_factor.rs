//! The second-factor and password inputs: any recovery code a caller types is
//! reduced to letters and digits, any password is normalised and measured, and
//! the purpose-of-use header parses to a code or to none; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use salus_domain::identity::mfa::normalise_recovery;
use salus_domain::identity::password::{length_refusal, normalise};
use salus_domain::purpose::PurposeOfUse;

fuzz_target!(|input: &str| {
    let reduced = normalise_recovery(input);
    assert!(reduced.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(reduced, reduced.to_lowercase());
    let _ = length_refusal(&normalise(input));
    if let Some(purpose) = PurposeOfUse::from_code(input) {
        assert_eq!(purpose.code(), input);
    }
});
