//! Properties of field encryption: round trips, and any flipped bit, other row,
//! other column or other clinic fails to decrypt.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use salus_domain::Random;
use salus_domain::crypto::{ClinicKeys, MasterKey, MasterKeys, WrappedKeys, envelope_key_id};
use salus_domain::ids::ClinicId;
use uuid::Uuid;

struct Os;
impl Random for Os {
    fn fill(&self, buf: &mut [u8]) {
        for b in buf.iter_mut() {
            *b = rand_byte();
        }
    }
}

fn rand_byte() -> u8 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static STATE: AtomicU64 = AtomicU64::new(0x9E37_79B9_7F4A_7C15);
    let mut x = STATE.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    (x & 0xff) as u8
}

fn master() -> MasterKeys {
    MasterKeys::new(vec![MasterKey {
        id: "m1".into(),
        key: [7u8; 32],
    }])
    .unwrap()
}

proptest! {
    #[test]
    fn round_trip_and_binding(plaintext in proptest::collection::vec(any::<u8>(), 0..512), flip in any::<usize>()) {
        let clinic = ClinicId(Uuid::from_u128(1));
        let keys = ClinicKeys::generate(clinic, &Os);
        let row = Uuid::from_u128(42);
        let sealed = keys.seal_field(&Os, "patients", "medical_history", row, &plaintext).unwrap();
        prop_assert_eq!(keys.open_field("patients", "medical_history", row, &sealed).unwrap(), plaintext.clone());

        let mut tampered = sealed.clone();
        let bit = flip % (tampered.len() * 8);
        tampered[bit / 8] ^= 1 << (bit % 8);
        prop_assert!(keys.open_field("patients", "medical_history", row, &tampered).is_err(), "a flipped bit decrypted");

        prop_assert!(keys.open_field("patients", "medical_history", Uuid::from_u128(43), &sealed).is_err(), "another row");
        prop_assert!(keys.open_field("patients", "national_id", row, &sealed).is_err(), "another column");

        // The same keys under another clinic's identity must not open it either.
        let wrapped = keys.wrap(&master(), &Os).unwrap();
        prop_assert!(ClinicKeys::unwrap(ClinicId(Uuid::from_u128(2)), &master(), &wrapped).is_err(), "wrapped keys moved to another clinic");
        let other = ClinicKeys::generate(ClinicId(Uuid::from_u128(2)), &Os);
        prop_assert!(other.open_field("patients", "medical_history", row, &sealed).is_err(), "another clinic");
    }
}

#[test]
fn keys_survive_wrapping_and_master_rotation() {
    let clinic = ClinicId(Uuid::from_u128(9));
    let keys = ClinicKeys::generate(clinic, &Os);
    let sealed = keys
        .seal_field(
            &Os,
            "patients",
            "national_id",
            Uuid::from_u128(1),
            b"185127512345678",
        )
        .unwrap();
    let wrapped = keys.wrap(&master(), &Os).unwrap();
    let rotated = MasterKeys::new(vec![
        MasterKey {
            id: "m2".into(),
            key: [9u8; 32],
        },
        MasterKey {
            id: "m1".into(),
            key: [7u8; 32],
        },
    ])
    .unwrap();
    let reopened = ClinicKeys::unwrap(clinic, &rotated, &wrapped).unwrap();
    assert_eq!(
        reopened
            .open_field("patients", "national_id", Uuid::from_u128(1), &sealed)
            .unwrap(),
        b"185127512345678"
    );
    assert_eq!(
        reopened.blind_index("national_id", "X"),
        keys.blind_index("national_id", "X")
    );
    let old_only = MasterKeys::new(vec![MasterKey {
        id: "m3".into(),
        key: [1u8; 32],
    }])
    .unwrap();
    assert!(
        ClinicKeys::unwrap(clinic, &old_only, &wrapped).is_err(),
        "a destroyed master key shreds the data"
    );
}

/// A data-key rotation: the new version seals, the retiring one still opens
/// what it sealed, re-sealing moves a field to the new version, and once the
/// retiring key is gone its fields are lost (which is why the rotation moves
/// every one first). Wrapped versions cannot be swapped.
#[test]
fn a_rotated_data_key_opens_both_versions_until_the_old_one_retires() {
    let clinic = ClinicId(Uuid::from_u128(5));
    let row = Uuid::from_u128(1);
    let keys = ClinicKeys::generate(clinic, &Os);
    let old = keys
        .seal_field(&Os, "patients", "national_id", row, b"185127512345678")
        .unwrap();
    assert_eq!(envelope_key_id(&old), Some(&b"dk1"[..]));

    let rotated = keys.rotated(&Os).unwrap();
    assert_eq!(rotated.active_data_key_id(), "dk2");
    assert_eq!(rotated.retiring_data_key_id().as_deref(), Some("dk1"));
    assert!(
        rotated.rotated(&Os).is_err(),
        "a second rotation while one is under way"
    );
    let new = rotated
        .seal_field(&Os, "patients", "national_id", row, b"new value")
        .unwrap();
    assert_eq!(envelope_key_id(&new), Some(&b"dk2"[..]));
    assert_eq!(
        rotated
            .open_field("patients", "national_id", row, &old)
            .unwrap(),
        b"185127512345678"
    );
    let moved = rotated
        .reseal_field(&Os, "patients", "national_id", row, &old)
        .unwrap();
    assert_eq!(envelope_key_id(&moved), Some(&b"dk2"[..]));
    assert!(
        rotated
            .reseal_field(&Os, "patients", "national_id", Uuid::from_u128(2), &old)
            .is_err(),
        "re-sealing keeps the row binding"
    );
    assert_eq!(
        rotated.blind_index("national_id", "X"),
        keys.blind_index("national_id", "X"),
        "the index key does not change"
    );

    // Stored and reopened, both versions open; with the retiring key gone,
    // only the new one does.
    let mut wrapped = rotated.wrap(&master(), &Os).unwrap();
    assert_eq!(wrapped.data_version, 2);
    let reopened = ClinicKeys::unwrap(clinic, &master(), &wrapped).unwrap();
    assert!(
        reopened
            .open_field("patients", "national_id", row, &old)
            .is_ok()
    );
    let retiring = wrapped.retiring.take().unwrap();
    let retired = ClinicKeys::unwrap(clinic, &master(), &wrapped).unwrap();
    assert_eq!(
        retired
            .open_field("patients", "national_id", row, &moved)
            .unwrap(),
        b"185127512345678"
    );
    assert!(
        retired
            .open_field("patients", "national_id", row, &old)
            .is_err(),
        "a destroyed data key version shreds what it sealed"
    );

    // The wrapped versions are bound to their number: swapped, they do not open.
    let swapped = WrappedKeys {
        data: retiring.0.clone(),
        data_version: 2,
        retiring: Some((wrapped.data.clone(), 1)),
        index: wrapped.index.clone(),
    };
    assert!(ClinicKeys::unwrap(clinic, &master(), &swapped).is_err());
}

/// The nonce of an envelope (version, key id length, key id, nonce, ciphertext).
fn nonce_of(envelope: &[u8]) -> Vec<u8> {
    let id_len = usize::from(envelope[1]);
    envelope[2 + id_len..2 + id_len + 12].to_vec()
}

/// AES-GCM under one key must never see a nonce twice: sealing the same value
/// again and again, under the master key and under a clinic's data key, gives a
/// fresh nonce (and so a different ciphertext) every time.
#[test]
fn every_seal_takes_a_fresh_nonce() {
    let master = master();
    let clinic = ClinicId(Uuid::from_u128(7));
    let keys = ClinicKeys::generate(clinic, &Os);
    let row = Uuid::from_u128(9);
    let mut master_nonces = std::collections::HashSet::new();
    let mut field_nonces = std::collections::HashSet::new();
    let mut ciphertexts = std::collections::HashSet::new();
    for _ in 0..2_000 {
        let sealed = master.seal(&Os, b"same secret", b"aad").unwrap();
        assert!(
            master_nonces.insert(nonce_of(&sealed)),
            "a master-key nonce came back"
        );
        let field = keys
            .seal_field(&Os, "patients", "national_id", row, b"same value")
            .unwrap();
        assert!(
            field_nonces.insert(nonce_of(&field)),
            "a field nonce came back"
        );
        assert!(ciphertexts.insert(field), "the same ciphertext came back");
    }
}
