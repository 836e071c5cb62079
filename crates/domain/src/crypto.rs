//! Hashing and sealing helpers over well-kept crates (sha2, aes-gcm).

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use sha2::{Digest, Sha256};
use zeroize::Zeroize;

use crate::DomainError;
use crate::random::{Random, bytes};

/// SHA-256 of a token or code, as stored instead of the value itself.
pub fn sha256(value: &[u8]) -> Vec<u8> {
    Sha256::digest(value).to_vec()
}

/// A master key: an id and 256 bits.
#[derive(Clone)]
pub struct MasterKey {
    /// Identifier stored in every envelope this key seals.
    pub id: String,
    /// The key material.
    pub key: [u8; 32],
}

impl Drop for MasterKey {
    fn drop(&mut self) {
        self.key.zeroize();
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterKey({}, [REDACTED])", self.id)
    }
}

/// The platform's master keys: the first seals, all open.
#[derive(Debug, Clone)]
pub struct MasterKeys {
    keys: Vec<MasterKey>,
}

const ENVELOPE_VERSION: u8 = 1;

impl MasterKeys {
    /// A ring with at least one key; the first is active.
    pub fn new(keys: Vec<MasterKey>) -> Option<Self> {
        (!keys.is_empty()).then_some(Self { keys })
    }

    /// Seals `plaintext` with AES-256-GCM under the active key, binding `aad`.
    /// Envelope: version (1 byte), key id length (1), key id, nonce (12), ciphertext.
    pub fn seal(
        &self,
        random: &dyn Random,
        plaintext: &[u8],
        aad: &[u8],
    ) -> Result<Vec<u8>, DomainError> {
        let key = &self.keys[0];
        let cipher = Aes256Gcm::new_from_slice(&key.key)
            .map_err(|_| DomainError::Internal("bad master key length".into()))?;
        let nonce_bytes = bytes(random, 12);
        let nonce = Nonce::try_from(nonce_bytes.as_slice())
            .map_err(|_| DomainError::Internal("bad nonce length".into()))?;
        let sealed = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| DomainError::Internal("encryption failed".into()))?;
        let id = key.id.as_bytes();
        let id_len =
            u8::try_from(id.len()).map_err(|_| DomainError::Internal("key id too long".into()))?;
        let mut out = Vec::with_capacity(2 + id.len() + 12 + sealed.len());
        out.push(ENVELOPE_VERSION);
        out.push(id_len);
        out.extend_from_slice(id);
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// The id of the active key, the one that seals.
    pub fn active_id(&self) -> &str {
        &self.keys[0].id
    }

    /// Whether `envelope` is sealed under the active key (read from its header only).
    pub fn is_current(&self, envelope: &[u8]) -> bool {
        split_envelope(envelope).is_some_and(|(id, _, _)| id == self.active_id().as_bytes())
    }

    /// Opens `envelope` with whichever key of the ring sealed it and seals the
    /// plaintext again under the active key, with the same `aad`.
    pub fn reseal(
        &self,
        random: &dyn Random,
        envelope: &[u8],
        aad: &[u8],
    ) -> Result<Vec<u8>, DomainError> {
        self.seal(random, &self.open(envelope, aad)?, aad)
    }

    /// Opens an envelope made by [`MasterKeys::seal`] with the same `aad`.
    pub fn open(&self, envelope: &[u8], aad: &[u8]) -> Result<Vec<u8>, DomainError> {
        let broken = || DomainError::Internal("sealed value cannot be opened".into());
        let (id, nonce, ciphertext) = split_envelope(envelope).ok_or_else(broken)?;
        let key = self
            .keys
            .iter()
            .find(|k| k.id.as_bytes() == id)
            .ok_or_else(broken)?;
        let cipher = Aes256Gcm::new_from_slice(&key.key).map_err(|_| broken())?;
        let nonce = Nonce::try_from(nonce).map_err(|_| broken())?;
        cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .map_err(|_| broken())
    }
}

/// An envelope's key id, nonce and ciphertext, when its header is well formed.
fn split_envelope(envelope: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let (&version, rest) = envelope.split_first()?;
    if version != ENVELOPE_VERSION {
        return None;
    }
    let (&id_len, rest) = rest.split_first()?;
    let id_len = usize::from(id_len);
    if rest.len() < id_len + 12 {
        return None;
    }
    let (id, rest) = rest.split_at(id_len);
    let (nonce, ciphertext) = rest.split_at(12);
    Some((id, nonce, ciphertext))
}

/// A clinic's keys, unwrapped for the length of one request.
#[derive(Clone)]
pub struct ClinicKeys {
    clinic: crate::ids::ClinicId,
    /// Data keys by version: the active one (it seals) first, then the retiring
    /// one while a rotation is under way (it only opens).
    data_keys: Vec<(i32, [u8; 32])>,
    index_key: [u8; 32],
}

impl std::fmt::Debug for ClinicKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ClinicKeys({}, [REDACTED])", self.clinic)
    }
}

/// Every column sealed under a clinic's data key, as `(table, column)`: what the
/// restore drill decrypts a sample of (the schema test holds it to the tables'
/// `bytea` columns).
pub const SEALED_COLUMNS: &[(&str, &str)] = &[
    ("patients", "national_id"),
    ("patients", "medical_history"),
    ("appointments", "reason"),
    ("clinical_notes", "body"),
];

/// A clinic's wrapped keys as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedKeys {
    /// The active data key (it seals), wrapped by a master key.
    pub data: Vec<u8>,
    /// Its version (field envelopes name it `dk<version>`).
    pub data_version: i32,
    /// The retiring data key, wrapped, and its version, while a rotation is
    /// under way (it only opens).
    pub retiring: Option<(Vec<u8>, i32)>,
    /// The index key (blind indexes), wrapped.
    pub index: Vec<u8>,
}

/// What identifies a clinic's stored keys: the SHA-256 of the wrapped data key
/// followed by the wrapped retiring one (none: nothing). Any rotation, re-wrap or
/// destruction changes it; the key cache uses keys only under the fingerprint
/// the store shows in the same transaction.
pub type KeysFingerprint = [u8; 32];

impl WrappedKeys {
    /// Their fingerprint (the database computes the same:
    /// `sha256(wrapped_data_key || coalesce(retiring_data_key, ''))`).
    pub fn fingerprint(&self) -> KeysFingerprint {
        let mut h = Sha256::new();
        h.update(&self.data);
        if let Some((retiring, _)) = &self.retiring {
            h.update(retiring);
        }
        h.finalize().into()
    }
}

/// A column whose values are sealed under a clinic's data key: what a data-key
/// rotation re-encrypts (`tests/api/data_key_rotation.rs` holds the list to
/// every `bytea` column of the schema).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealedColumn {
    /// The table (public schema; its rows have `clinic_id` and `id`).
    pub table: &'static str,
    /// The column as stored.
    pub column: &'static str,
    /// The column's name in the envelope's binding (what `seal_field` was given).
    pub bound_as: &'static str,
}

/// The columns a data-key rotation re-encrypts: the health data of
/// [`SEALED_COLUMNS`], the passphrases of pending clinic exports and the
/// answers kept for idempotent retries (`crate::idempotency`) and the webhook
/// endpoints' signing secrets.
pub const DATA_KEY_COLUMNS: &[SealedColumn] = &[
    SealedColumn {
        table: "patients",
        column: "national_id",
        bound_as: "national_id",
    },
    SealedColumn {
        table: "patients",
        column: "medical_history",
        bound_as: "medical_history",
    },
    SealedColumn {
        table: "appointments",
        column: "reason",
        bound_as: "reason",
    },
    SealedColumn {
        table: "clinical_notes",
        column: "body",
        bound_as: "body",
    },
    SealedColumn {
        table: "clinic_exports",
        column: "sealed_passphrase",
        bound_as: "passphrase",
    },
    SealedColumn {
        table: "idempotent_requests",
        column: "response_body",
        bound_as: "response_body",
    },
    SealedColumn {
        table: "webhook_endpoints",
        column: "sealed_secret",
        bound_as: "secret",
    },
    SealedColumn {
        table: "webhook_endpoints",
        column: "sealed_previous_secret",
        bound_as: "previous_secret",
    },
];

/// The identifier a clinic data key of `version` writes in its field envelopes
/// (`dk1`, `dk2`, ...).
pub fn data_key_id(version: i32) -> String {
    format!("dk{version}")
}

/// The key id in an envelope's header, when the header is well formed.
pub fn envelope_key_id(envelope: &[u8]) -> Option<&[u8]> {
    split_envelope(envelope).map(|(id, _, _)| id)
}

fn field_aad(clinic: crate::ids::ClinicId, table: &str, column: &str, row: uuid::Uuid) -> Vec<u8> {
    format!("salus/v1|{clinic}|{table}|{column}|{row}").into_bytes()
}

/// What a wrapped key is bound to: the clinic, which key, and (from version 2)
/// the data key's version, so versions cannot be swapped.
fn wrap_aad(clinic: crate::ids::ClinicId, which: &str, version: Option<i32>) -> Vec<u8> {
    match version {
        Some(v) if v > 1 => format!("salus/v1|clinic_keys|{which}|{clinic}|{}", data_key_id(v)),
        _ => format!("salus/v1|clinic_keys|{which}|{clinic}"),
    }
    .into_bytes()
}

fn to_key(v: Vec<u8>) -> Result<[u8; 32], DomainError> {
    v.as_slice()
        .try_into()
        .map_err(|_| DomainError::Internal("bad data key length".into()))
}

impl Drop for ClinicKeys {
    fn drop(&mut self) {
        for (_, key) in &mut self.data_keys {
            key.zeroize();
        }
        self.index_key.zeroize();
    }
}

impl ClinicKeys {
    /// New random keys for a clinic (data key version 1).
    pub fn generate(clinic: crate::ids::ClinicId, random: &dyn Random) -> Self {
        let mut data_key = [0u8; 32];
        let mut index_key = [0u8; 32];
        random.fill(&mut data_key);
        random.fill(&mut index_key);
        Self {
            clinic,
            data_keys: vec![(1, data_key)],
            index_key,
        }
    }

    /// The keys wrapped by the active master key.
    pub fn wrap(
        &self,
        master: &MasterKeys,
        random: &dyn Random,
    ) -> Result<WrappedKeys, DomainError> {
        let wrap_data = |(version, key): &(i32, [u8; 32])| {
            master
                .seal(random, key, &wrap_aad(self.clinic, "data", Some(*version)))
                .map(|wrapped| (wrapped, *version))
        };
        let (data, data_version) = wrap_data(&self.data_keys[0])?;
        Ok(WrappedKeys {
            data,
            data_version,
            retiring: self.data_keys.get(1).map(wrap_data).transpose()?,
            index: master.seal(
                random,
                &self.index_key,
                &wrap_aad(self.clinic, "index", None),
            )?,
        })
    }

    /// Stored keys re-wrapped under the active master key (opened with any key of
    /// the ring); `None` when all of them already are under the active key.
    pub fn rewrap(
        clinic: crate::ids::ClinicId,
        master: &MasterKeys,
        random: &dyn Random,
        wrapped: &WrappedKeys,
    ) -> Result<Option<WrappedKeys>, DomainError> {
        let retiring_current = wrapped
            .retiring
            .as_ref()
            .is_none_or(|(key, _)| master.is_current(key));
        if master.is_current(&wrapped.data) && master.is_current(&wrapped.index) && retiring_current
        {
            return Ok(None);
        }
        Self::unwrap(clinic, master, wrapped)?
            .wrap(master, random)
            .map(Some)
    }

    /// Unwraps a clinic's stored keys.
    pub fn unwrap(
        clinic: crate::ids::ClinicId,
        master: &MasterKeys,
        wrapped: &WrappedKeys,
    ) -> Result<Self, DomainError> {
        let open_data = |key: &[u8], version: i32| -> Result<(i32, [u8; 32]), DomainError> {
            Ok((
                version,
                to_key(master.open(key, &wrap_aad(clinic, "data", Some(version)))?)?,
            ))
        };
        let mut data_keys = vec![open_data(&wrapped.data, wrapped.data_version)?];
        if let Some((key, version)) = &wrapped.retiring {
            data_keys.push(open_data(key, *version)?);
        }
        Ok(Self {
            clinic,
            data_keys,
            index_key: to_key(master.open(&wrapped.index, &wrap_aad(clinic, "index", None))?)?,
        })
    }

    /// The keys with a new data key version as the active one and today's
    /// active key retiring (it still opens what it sealed). Refused while a
    /// rotation is under way.
    pub fn rotated(&self, random: &dyn Random) -> Result<Self, DomainError> {
        if self.data_keys.len() > 1 {
            return Err(DomainError::Conflict {
                code: "rotation_under_way",
                detail: "a data-key rotation of this clinic is already under way".into(),
            });
        }
        let mut key = [0u8; 32];
        random.fill(&mut key);
        let (version, old) = self.data_keys[0];
        Ok(Self {
            clinic: self.clinic,
            data_keys: vec![(version + 1, key), (version, old)],
            index_key: self.index_key,
        })
    }

    /// The version of the active data key.
    pub fn data_key_version(&self) -> i32 {
        self.data_keys[0].0
    }

    /// The envelope key id of the active data key.
    pub fn active_data_key_id(&self) -> String {
        data_key_id(self.data_key_version())
    }

    /// The envelope key id of the retiring data key, while a rotation is under way.
    pub fn retiring_data_key_id(&self) -> Option<String> {
        self.data_keys.get(1).map(|(v, _)| data_key_id(*v))
    }

    /// A field opened with whichever data key sealed it and sealed again under
    /// the active one, bound to the same clinic, table, column and row.
    pub fn reseal_field(
        &self,
        random: &dyn Random,
        table: &str,
        column: &str,
        row: impl Into<uuid::Uuid>,
        envelope: &[u8],
    ) -> Result<Vec<u8>, DomainError> {
        let row = row.into();
        let plain = self.open_field(table, column, row, envelope)?;
        self.seal_field(random, table, column, row, &plain)
    }

    fn ring(&self) -> MasterKeys {
        MasterKeys {
            keys: self
                .data_keys
                .iter()
                .map(|(version, key)| MasterKey {
                    id: data_key_id(*version),
                    key: *key,
                })
                .collect(),
        }
    }

    /// Encrypts a field, bound to this clinic, the table, the column and the row
    /// (the row's id, of whichever entity the table holds).
    pub fn seal_field(
        &self,
        random: &dyn Random,
        table: &str,
        column: &str,
        row: impl Into<uuid::Uuid>,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, DomainError> {
        self.ring().seal(
            random,
            plaintext,
            &field_aad(self.clinic, table, column, row.into()),
        )
    }

    /// Decrypts a field sealed for exactly this clinic, table, column and row.
    pub fn open_field(
        &self,
        table: &str,
        column: &str,
        row: impl Into<uuid::Uuid>,
        envelope: &[u8],
    ) -> Result<Vec<u8>, DomainError> {
        self.ring()
            .open(envelope, &field_aad(self.clinic, table, column, row.into()))
    }

    /// The keyed blind index of a value (HMAC-SHA-256 under the clinic's index key).
    pub fn blind_index(&self, column: &str, value: &str) -> Vec<u8> {
        use hmac::{KeyInit, Mac};
        let mut mac = match <hmac::Hmac<Sha256> as KeyInit>::new_from_slice(&self.index_key) {
            Ok(mac) => mac,
            Err(_) => return Vec::new(),
        };
        mac.update(column.as_bytes());
        mac.update(b"|");
        mac.update(value.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU8, Ordering};

    use super::*;

    /// Distinct bytes at every draw, so every nonce differs.
    #[derive(Default)]
    struct Counting(AtomicU8);

    impl Random for Counting {
        fn fill(&self, buf: &mut [u8]) {
            for b in buf {
                *b = self.0.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn ring(ids: &[&str]) -> MasterKeys {
        let key = |id: &str| {
            let mut key = [0u8; 32];
            key[..id.len()].copy_from_slice(id.as_bytes());
            MasterKey { id: id.into(), key }
        };
        MasterKeys::new(ids.iter().map(|id| key(id)).collect()).unwrap()
    }

    #[test]
    fn a_ring_seals_under_its_first_key_and_reseals_what_an_older_one_sealed() {
        let random = Counting::default();
        let old = ring(&["m1"]);
        let rotated = ring(&["m2", "m1"]);
        assert_eq!(rotated.active_id(), "m2");
        let sealed = old.seal(&random, b"secret", b"aad").unwrap();
        assert!(old.is_current(&sealed));
        assert!(!rotated.is_current(&sealed));
        assert!(!rotated.is_current(b"not an envelope"));
        let resealed = rotated.reseal(&random, &sealed, b"aad").unwrap();
        assert!(rotated.is_current(&resealed));
        assert_eq!(rotated.open(&resealed, b"aad").unwrap(), b"secret");
        assert!(
            old.open(&resealed, b"aad").is_err(),
            "under the new key only"
        );
        assert!(MasterKeys::new(Vec::new()).is_none(), "a ring has a key");
    }

    #[test]
    fn a_cut_envelope_is_refused_and_its_header_alone_still_names_its_key() {
        let master = ring(&["m1"]);
        let sealed = master
            .seal(&Counting::default(), b"secret", b"aad")
            .unwrap();
        for len in 0..sealed.len() {
            assert!(master.open(&sealed[..len], b"aad").is_err(), "{len} bytes");
        }
        let header = &sealed[..2 + 2 + 12];
        assert_eq!(envelope_key_id(header), Some(&b"m1"[..]));
        assert!(master.is_current(header));
        assert_eq!(envelope_key_id(&header[..header.len() - 1]), None);
    }

    #[test]
    fn keys_wrapped_before_data_key_versions_still_open_and_later_versions_are_bound() {
        let random = Counting::default();
        let clinic = crate::ids::ClinicId(uuid::Uuid::nil());
        let master = ring(&["m1"]);
        let keys = ClinicKeys::generate(clinic, &random);
        let legacy = |which: &str, key: &[u8; 32]| {
            let aad = format!("salus/v1|clinic_keys|{which}|{clinic}");
            master.seal(&random, key, aad.as_bytes()).unwrap()
        };
        let stored = WrappedKeys {
            data: legacy("data", &keys.data_keys[0].1),
            data_version: 1,
            retiring: None,
            index: legacy("index", &keys.index_key),
        };
        let opened = ClinicKeys::unwrap(clinic, &master, &stored).unwrap();
        assert_eq!(opened.data_keys, keys.data_keys);
        assert_eq!(opened.index_key, keys.index_key);
        let mut second = keys
            .rotated(&random)
            .unwrap()
            .wrap(&master, &random)
            .unwrap();
        assert_eq!(second.data_version, 2);
        assert!(ClinicKeys::unwrap(clinic, &master, &second).is_ok());
        second.data_version = 3;
        assert!(
            ClinicKeys::unwrap(clinic, &master, &second).is_err(),
            "a wrapped key opens only as its own version"
        );
    }

    #[test]
    fn rewrapping_moves_every_key_under_the_active_master_key_and_then_stops() {
        let random = Counting::default();
        let clinic = crate::ids::ClinicId(uuid::Uuid::nil());
        let (old, new) = (ring(&["m1"]), ring(&["m2", "m1"]));
        let keys = ClinicKeys::generate(clinic, &random);
        let under_old = keys.wrap(&old, &random).unwrap();
        let rewrapped = ClinicKeys::rewrap(clinic, &new, &random, &under_old)
            .unwrap()
            .expect("re-wrapped");
        assert!(new.is_current(&rewrapped.data) && new.is_current(&rewrapped.index));
        let opened = ClinicKeys::unwrap(clinic, &new, &rewrapped).unwrap();
        assert_eq!(opened.index_key, keys.index_key);
        assert_eq!(opened.data_keys, keys.data_keys);
        assert_eq!(
            ClinicKeys::rewrap(clinic, &new, &random, &rewrapped).unwrap(),
            None,
            "nothing left to move"
        );
        let index_left_behind = WrappedKeys {
            index: under_old.index.clone(),
            ..rewrapped.clone()
        };
        assert!(
            ClinicKeys::rewrap(clinic, &new, &random, &index_left_behind)
                .unwrap()
                .is_some(),
            "the index key moves too"
        );
    }

    #[test]
    fn a_blind_index_finds_the_same_value_and_tells_nothing_else() {
        let random = Counting::default();
        let clinic = crate::ids::ClinicId(uuid::Uuid::nil());
        let keys = ClinicKeys::generate(clinic, &random);
        let other_clinic = ClinicKeys::generate(clinic, &random);
        let index = keys.blind_index("national_id", "2671175123456");
        assert_eq!(index.len(), 32, "HMAC-SHA-256");
        assert_eq!(index, keys.blind_index("national_id", "2671175123456"));
        for different in [
            keys.blind_index("national_id", "2671175123457"),
            keys.blind_index("phone", "2671175123456"),
            other_clinic.blind_index("national_id", "2671175123456"),
        ] {
            assert_ne!(index, different);
        }
    }

    #[test]
    fn keys_never_show_in_debug_output() {
        let master = ring(&["m1"]);
        assert_eq!(format!("{:?}", master.keys[0]), "MasterKey(m1, [REDACTED])");
        let clinic = crate::ids::ClinicId(uuid::Uuid::nil());
        let keys = ClinicKeys::generate(clinic, &Counting::default());
        assert_eq!(
            format!("{keys:?}"),
            format!("ClinicKeys({clinic}, [REDACTED])")
        );
    }

    /// Stored token and code hashes are SHA-256 exactly (FIPS 180-2's
    /// examples): a stored hash must match the one computed at sign-in.
    #[test]
    fn sha256_is_sha256() {
        let hex = |v: Vec<u8>| v.iter().map(|b| format!("{b:02x}")).collect::<String>();
        assert_eq!(
            hex(super::sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hex(super::sha256(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
