//! Certificates of destruction and the entries of the destruction register:
//! JSON documents signed with Ed25519 by the platform's audit signing key, so a
//! clinic holding the public key verifies them offline (`salus certificate
//! verify`).
//!
//! A signed file is `{"document": {...}, "key_id", "public_key", "signature"}`;
//! the signature covers a domain tag and the document's compact JSON, exactly as
//! it is written (reading and writing a `serde_json::Value` keeps its bytes).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::DomainError;
use crate::audit::seal::AuditSealer;
use crate::ports::closure::{BackupHolding, TableRows};

/// The domain tag of every signed document.
pub const DOCUMENT_TAG: &[u8] = b"salus-signed-document-v1";

/// The kind of a clinic's certificate of destruction.
pub const CLINIC_DESTROYED: &str = "clinic_destroyed";
/// The kind of the certificate that no backup holds a destroyed clinic any more.
pub const BACKUPS_EXPIRED: &str = "backups_expired";
/// The kind of the register's entry of a patient's erasure (GDPR article 17).
pub const PATIENT_ERASED: &str = "patient_erased";

/// The audit chain's last event, sealed before the chain was deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditHead {
    /// Its position.
    pub seq: i64,
    /// Its hash, hex.
    pub hash: String,
}

/// A clinic's certificate of destruction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Destruction {
    /// Always [`CLINIC_DESTROYED`].
    pub kind: String,
    /// The certificate's id.
    pub certificate_id: uuid::Uuid,
    /// The clinic destroyed.
    pub clinic_id: uuid::Uuid,
    /// The clinic's name when it was destroyed.
    pub clinic_name: String,
    /// Who asked for the closure (their address then).
    pub requested_by: String,
    /// When they asked.
    pub requested_at: DateTime<Utc>,
    /// Who executed it: `grace period ended` or the operator's command.
    pub executed_by: String,
    /// When the rows were deleted.
    pub executed_at: DateTime<Utc>,
    /// Rows deleted, per table of every schema.
    pub rows_deleted: Vec<TableRows>,
    /// The clinic keys destroyed (`data:`/`index:` and a SHA-256 prefix of the
    /// wrapped key): every sealed field of the clinic, in any copy, is unreadable.
    pub keys_destroyed: Vec<String>,
    /// The audit chain's sealed head.
    pub audit_head: AuditHead,
    /// The newest backup that still holds the clinic (none: no backup does).
    pub last_backup: Option<BackupHolding>,
    /// The owners' addresses it was emailed to (the second certificate goes
    /// there too).
    pub sent_to: Vec<String>,
}

/// A patient's erasure, as the destruction register keeps it: ids only, no
/// identity (no name, birth date, national id), so the register can say what a
/// restore must erase again without holding what was erased.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatientErasure {
    /// Always [`PATIENT_ERASED`].
    pub kind: String,
    /// The entry's id.
    pub certificate_id: uuid::Uuid,
    /// The clinic.
    pub clinic_id: uuid::Uuid,
    /// The patient erased.
    pub patient_id: uuid::Uuid,
    /// The erasure request it answered.
    pub request_id: uuid::Uuid,
    /// The membership that recorded the request.
    pub requested_by: uuid::Uuid,
    /// When.
    pub requested_at: DateTime<Utc>,
    /// The membership that decided the erasure.
    pub decided_by: uuid::Uuid,
    /// When the rows were deleted.
    pub executed_at: DateTime<Utc>,
    /// Rows deleted, per table.
    pub rows_deleted: Vec<TableRows>,
}

/// The certificate that no backup in the repository holds a destroyed clinic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupsExpired {
    /// Always [`BACKUPS_EXPIRED`].
    pub kind: String,
    /// The certificate's id.
    pub certificate_id: uuid::Uuid,
    /// The certificate of destruction it completes.
    pub destruction_certificate_id: uuid::Uuid,
    /// The clinic.
    pub clinic_id: uuid::Uuid,
    /// The backup the first certificate named, now gone.
    pub last_backup: Option<BackupHolding>,
    /// When the repository was checked and held no backup older than the
    /// destruction.
    pub checked_at: DateTime<Utc>,
    /// How many backups the repository held then (all newer than the destruction).
    pub backups_in_repository: usize,
}

/// A signed document, as written to a file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signed {
    /// The document.
    pub document: serde_json::Value,
    /// The signing key's id.
    pub key_id: String,
    /// Its Ed25519 public key, standard base64.
    pub public_key: String,
    /// The signature over [`DOCUMENT_TAG`] and the document's compact JSON.
    pub signature: String,
}

fn message(document: &serde_json::Value) -> Result<Vec<u8>, DomainError> {
    let mut m = DOCUMENT_TAG.to_vec();
    m.extend(
        serde_json::to_vec(document)
            .map_err(|e| DomainError::Internal(format!("signed document: {e}")))?,
    );
    Ok(m)
}

impl Signed {
    /// `document` signed by the sealer's signing key.
    pub fn sign(sealer: &AuditSealer, document: &impl Serialize) -> Result<Self, DomainError> {
        let document = serde_json::to_value(document)
            .map_err(|e| DomainError::Internal(format!("signed document: {e}")))?;
        let (key_id, public_key, signature) = sealer.sign_bytes(&message(&document)?);
        Ok(Self {
            document,
            key_id,
            public_key: STANDARD.encode(public_key),
            signature: STANDARD.encode(signature),
        })
    }

    /// Checks the signature with the document's own public key, and that the
    /// key is one of `trusted` (`(key id, base64 public key)`, the platform's
    /// published keys). The reason when it does not verify.
    pub fn verify(&self, trusted: &[(String, String)]) -> Result<(), String> {
        if !trusted
            .iter()
            .any(|(id, key)| *id == self.key_id && *key == self.public_key)
        {
            return Err(format!(
                "the signing key {} ({}) is not one of the trusted keys",
                self.key_id, self.public_key
            ));
        }
        let key = STANDARD
            .decode(&self.public_key)
            .map_err(|_| "the public key is not base64".to_owned())?;
        let signature = STANDARD
            .decode(&self.signature)
            .map_err(|_| "the signature is not base64".to_owned())?;
        let message = message(&self.document).map_err(|e| e.to_string())?;
        if crate::audit::seal::verify_bytes(&key, &message, &signature) {
            Ok(())
        } else {
            Err("the signature does not match the document".to_owned())
        }
    }

    /// The document's `kind`.
    pub fn kind(&self) -> &str {
        self.document["kind"].as_str().unwrap_or_default()
    }

    /// The file's bytes (pretty JSON, newline-terminated).
    pub fn to_file(&self) -> Result<Vec<u8>, DomainError> {
        let mut bytes = serde_json::to_vec_pretty(self)
            .map_err(|e| DomainError::Internal(format!("signed document: {e}")))?;
        bytes.push(b'\n');
        Ok(bytes)
    }
}

/// The register's file name of an entry: its time first, so the names sort in
/// the order the destructions happened.
pub fn entry_name(at: DateTime<Utc>, kind: &str, id: uuid::Uuid) -> String {
    format!("{}-{kind}-{id}.json", at.format("%Y%m%dT%H%M%S%6fZ"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_document_verifies_and_any_change_breaks_it() {
        let sealer = AuditSealer::new(vec![("k1".into(), [3; 32])]).unwrap();
        let trusted = sealer.public_keys();
        let signed = Signed::sign(&sealer, &serde_json::json!({"kind": "x", "n": 1})).unwrap();
        let read: Signed = serde_json::from_slice(&signed.to_file().unwrap()).unwrap();
        assert_eq!(read.verify(&trusted), Ok(()));
        let mut changed = read.clone();
        changed.document["n"] = 2.into();
        assert!(changed.verify(&trusted).is_err());
        let stranger = AuditSealer::new(vec![("k1".into(), [4; 32])]).unwrap();
        let forged = Signed::sign(&stranger, &read.document).unwrap();
        assert!(forged.verify(&trusted).is_err(), "an untrusted key");
        assert!(forged.verify(&stranger.public_keys()).is_ok());
    }
}
