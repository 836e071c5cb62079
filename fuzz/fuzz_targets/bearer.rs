//! Access-token verification: any bearer string verifies or is refused, never a
//! panic (malformed headers, unknown `kid`s, other algorithms, huge claims).
#![no_main]

use libfuzzer_sys::fuzz_target;
use salus_http::auth::jwt::{SigningKey, TokenKeys};

fuzz_target!(|token: &str| {
    let keys = TokenKeys::new(
        vec![SigningKey {
            id: "k1".into(),
            secret: b"k1-secret-0123456789abcdef0123456789".to_vec(),
        }],
        "https://api.fuzz".into(),
        "salus".into(),
        chrono::Duration::minutes(15),
    )
    .expect("a ring");
    let _ = keys.verify(token, chrono::Utc::now());
});
