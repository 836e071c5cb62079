//! Checkpoint seals: Ed25519 signatures by a key from the secret store
//! (`AUDIT_SIGNING_KEYS`; the first signs, all verify), so a clinic holding the
//! public key can check an exported history offline.

use crate::ids::{ChainId, ClinicId};
use chrono::{DateTime, Utc};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier};

use crate::ports::audit::Checkpoint;

/// The audit signing keys.
pub struct AuditSealer {
    keys: Vec<(String, SigningKey)>,
}

impl std::fmt::Debug for AuditSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        write!(f, "AuditSealer({ids:?}, [REDACTED])")
    }
}

/// The signed message: a domain tag, the chain, the position, the hash and the time.
pub fn message(chain_id: ChainId, seq: i64, hash: &[u8], sealed_at: DateTime<Utc>) -> Vec<u8> {
    let mut m = b"salus-audit-checkpoint-v1".to_vec();
    m.extend_from_slice(chain_id.0.as_bytes());
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(hash);
    m.extend_from_slice(&sealed_at.timestamp_micros().to_be_bytes());
    m
}

impl AuditSealer {
    /// A ring of `(key id, 32-byte seed)`; the first signs. None when empty.
    pub fn new(seeds: Vec<(String, [u8; 32])>) -> Option<Self> {
        let keys: Vec<_> = seeds
            .into_iter()
            .map(|(id, seed)| (id, SigningKey::from_bytes(&seed)))
            .collect();
        (!keys.is_empty()).then_some(Self { keys })
    }

    /// Signs a checkpoint of `chain_id` at `seq` whose event hashes to `hash`.
    pub fn seal(
        &self,
        chain_id: ChainId,
        clinic_id: Option<ClinicId>,
        seq: i64,
        hash: &[u8],
        sealed_at: DateTime<Utc>,
    ) -> Checkpoint {
        let (key_id, key) = &self.keys[0];
        let signature = key.sign(&message(chain_id, seq, hash, sealed_at));
        Checkpoint {
            chain_id,
            seq,
            clinic_id,
            hash: hash.to_vec(),
            sealed_at,
            key_id: key_id.clone(),
            signature: signature.to_bytes().to_vec(),
        }
    }

    /// Whether a checkpoint carries a valid signature by one of the ring's keys.
    pub fn verify(&self, c: &Checkpoint) -> bool {
        let Some((_, key)) = self.keys.iter().find(|(id, _)| *id == c.key_id) else {
            return false;
        };
        let Ok(signature) = Signature::from_slice(&c.signature) else {
            return false;
        };
        key.verifying_key()
            .verify(
                &message(c.chain_id, c.seq, &c.hash, c.sealed_at),
                &signature,
            )
            .is_ok()
    }

    /// Signs `message` with the signing key: (key id, public key, signature).
    pub fn sign_bytes(&self, message: &[u8]) -> (String, [u8; 32], [u8; 64]) {
        let (key_id, key) = &self.keys[0];
        (
            key_id.clone(),
            key.verifying_key().to_bytes(),
            key.sign(message).to_bytes(),
        )
    }

    /// The public keys, by id and in standard base64, for offline verification.
    pub fn public_keys(&self) -> Vec<(String, String)> {
        use base64::Engine;
        self.keys
            .iter()
            .map(|(id, k)| {
                let key = k.verifying_key();
                (
                    id.clone(),
                    base64::engine::general_purpose::STANDARD.encode(key.as_bytes()),
                )
            })
            .collect()
    }
}

/// Whether `signature` is a valid Ed25519 signature of `message` by `public_key`.
pub fn verify_bytes(public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    let Ok(key) = <[u8; 32]>::try_from(public_key) else {
        return false;
    };
    let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(&key) else {
        return false;
    };
    let Ok(signature) = Signature::from_slice(signature) else {
        return false;
    };
    key.verify(message, &signature).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seal_verifies_and_any_change_breaks_it() {
        let sealer = AuditSealer::new(vec![("a".into(), [7; 32])]).unwrap();
        let at = DateTime::from_timestamp(1_700_000_000, 0).unwrap();
        let c = sealer.seal(
            ChainId(uuid::Uuid::from_bytes([1; 16])),
            None,
            4,
            &[9; 32],
            at,
        );
        assert!(sealer.verify(&c));
        let mut moved = c.clone();
        moved.seq = 5;
        assert!(!sealer.verify(&moved));
        let mut other_hash = c.clone();
        other_hash.hash[0] ^= 1;
        assert!(!sealer.verify(&other_hash));
        let stranger = AuditSealer::new(vec![("a".into(), [8; 32])]).unwrap();
        assert!(!stranger.verify(&c));
    }
}
