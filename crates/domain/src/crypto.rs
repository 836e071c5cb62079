//! Hashing and sealing helpers over well-kept crates (sha2, aes-gcm).

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use sha2::{Digest, Sha256};

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
    data_key: [u8; 32],
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

/// The identifier written in field envelopes sealed by a clinic data key.
const DATA_KEY_ID: &str = "dk1";

fn field_aad(clinic: crate::ids::ClinicId, table: &str, column: &str, row: uuid::Uuid) -> Vec<u8> {
    format!("salus/v1|{clinic}|{table}|{column}|{row}").into_bytes()
}

fn wrap_aad(clinic: crate::ids::ClinicId, which: &str) -> Vec<u8> {
    format!("salus/v1|clinic_keys|{which}|{clinic}").into_bytes()
}

impl ClinicKeys {
    /// New random keys for a clinic.
    pub fn generate(clinic: crate::ids::ClinicId, random: &dyn Random) -> Self {
        let mut data_key = [0u8; 32];
        let mut index_key = [0u8; 32];
        random.fill(&mut data_key);
        random.fill(&mut index_key);
        Self {
            clinic,
            data_key,
            index_key,
        }
    }

    /// The keys wrapped by the active master key: (data key, index key).
    pub fn wrap(
        &self,
        master: &MasterKeys,
        random: &dyn Random,
    ) -> Result<(Vec<u8>, Vec<u8>), DomainError> {
        Ok((
            master.seal(random, &self.data_key, &wrap_aad(self.clinic, "data"))?,
            master.seal(random, &self.index_key, &wrap_aad(self.clinic, "index"))?,
        ))
    }

    /// Stored keys re-wrapped under the active master key (opened with any key of
    /// the ring); `None` when both already are under the active key.
    pub fn rewrap(
        clinic: crate::ids::ClinicId,
        master: &MasterKeys,
        random: &dyn Random,
        wrapped_data: &[u8],
        wrapped_index: &[u8],
    ) -> Result<Option<crate::ports::keys::WrappedKeys>, DomainError> {
        if master.is_current(wrapped_data) && master.is_current(wrapped_index) {
            return Ok(None);
        }
        Self::unwrap(clinic, master, wrapped_data, wrapped_index)?
            .wrap(master, random)
            .map(Some)
    }

    /// Unwraps a clinic's stored keys.
    pub fn unwrap(
        clinic: crate::ids::ClinicId,
        master: &MasterKeys,
        wrapped_data: &[u8],
        wrapped_index: &[u8],
    ) -> Result<Self, DomainError> {
        let to_key = |v: Vec<u8>| -> Result<[u8; 32], DomainError> {
            v.as_slice()
                .try_into()
                .map_err(|_| DomainError::Internal("bad data key length".into()))
        };
        Ok(Self {
            clinic,
            data_key: to_key(master.open(wrapped_data, &wrap_aad(clinic, "data"))?)?,
            index_key: to_key(master.open(wrapped_index, &wrap_aad(clinic, "index"))?)?,
        })
    }

    fn ring(&self) -> MasterKeys {
        MasterKeys {
            keys: vec![MasterKey {
                id: DATA_KEY_ID.to_owned(),
                key: self.data_key,
            }],
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
