//! `If-Match`: any header value parses to a precondition or to none, and a
//! version it names round-trips through the ETag the server writes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use salus_http::preconditions::{etag, parse_if_match};

fuzz_target!(|value: &str| {
    if let Some(salus_domain::concurrency::Expected::Version(v)) = parse_if_match(value) {
        assert_eq!(
            parse_if_match(&etag(v)),
            Some(salus_domain::concurrency::Expected::Version(v))
        );
    }
});
