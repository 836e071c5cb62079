//! The page cursor decoder: any string a caller sends as `cursor` opens to a
//! key or is refused (422), never a panic.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use salus_domain::Random;
use salus_domain::crypto::{MasterKey, MasterKeys};
use salus_domain::ids::ClinicId;
use salus_http::paging::{Cursors, ListScope};

struct Fixed;

impl Random for Fixed {
    fn fill(&self, buf: &mut [u8]) {
        buf.fill(7);
    }
}

fuzz_target!(|cursor: &str| {
    let ring = MasterKeys::new(vec![MasterKey {
        id: "fuzz".into(),
        key: [9; 32],
    }])
    .expect("one key");
    let cursors = Cursors::new(ring, Arc::new(Fixed));
    let scope = ListScope::of("patients", ClinicId(uuid::Uuid::nil()));
    let _ = cursors.open::<(String, uuid::Uuid)>(&scope, Some(cursor));
});
