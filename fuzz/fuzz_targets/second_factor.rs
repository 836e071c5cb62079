//! The second-factor and password inputs: any TOTP code a caller types matches
//! a step only when it is six digits, any recovery code is reduced to letters
//! and digits, any password is normalised and measured, and the purpose-of-use
//! header parses to a code or to none; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use salus_domain::identity::mfa::{code_step, normalise_recovery, totp};
use salus_domain::identity::password::{length_refusal, normalise};
use salus_domain::purpose::PurposeOfUse;

fuzz_target!(|input: &str| {
    let authenticator = totp(vec![7; 20], "Salus", "fuzz@clinic.test").expect("a TOTP");
    if code_step(&authenticator, input, chrono::Utc::now()).is_some() {
        let code = input.trim();
        assert!(code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()), "{input:?}");
    }
    let reduced = normalise_recovery(input);
    assert!(reduced.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(reduced, reduced.to_lowercase());
    let _ = length_refusal(&normalise(input));
    if let Some(purpose) = PurposeOfUse::from_code(input) {
        assert_eq!(purpose.code(), input);
    }
});
