//! The secret inventory's rows (what kind of secret, its id, its age against
//! its rotation period) and its storage: when each secret or key in use was
//! first seen, and when each clinic's data key was made.

use chrono::{DateTime, Duration, Utc};

use crate::DomainError;
use crate::ids::ClinicId;

/// What kind of secret or key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    /// `TOKEN_SIGNING_KEYS`' signing key.
    TokenSigning,
    /// `MASTER_KEYS`' sealing key.
    Master,
    /// `AUDIT_SIGNING_KEYS`' signing key (checkpoints, certificates, exports).
    AuditSigning,
    /// The backup repository's passphrase.
    BackupCipher,
    /// The SMS gateway's HMAC secret.
    SmsGateway,
    /// The security webhook's HMAC secret.
    SecurityWebhook,
    /// A clinic's data key.
    ClinicDataKey,
}

impl SecretKind {
    /// The name in reports and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TokenSigning => "token_signing_key",
            Self::Master => "master_key",
            Self::AuditSigning => "audit_signing_key",
            Self::BackupCipher => "backup_passphrase",
            Self::SmsGateway => "sms_gateway_secret",
            Self::SecurityWebhook => "security_webhook_secret",
            Self::ClinicDataKey => "clinic_data_key",
        }
    }

    /// Whether it rotates on the critical period: the keys that sign what
    /// Salus asserts or seal what every other key opens.
    pub fn critical(self) -> bool {
        matches!(self, Self::TokenSigning | Self::Master | Self::AuditSigning)
    }
}

/// A secret or key the platform runs with: its kind and id (a key's `kid`, or
/// [`fingerprint`] of a secret that has none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretInUse {
    /// Its kind.
    pub kind: SecretKind,
    /// Its id.
    pub key_id: String,
}

/// The rotation periods (`KEY_ROTATION_CRITICAL_DAYS`, 30 by default;
/// `KEY_ROTATION_STANDARD_DAYS`, 90).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationPeriods {
    /// For the critical keys.
    pub critical: Duration,
    /// For everything else.
    pub standard: Duration,
}

/// One secret's age against its period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretAge {
    /// Its kind.
    pub kind: SecretKind,
    /// Its id (a clinic's id for a clinic's data key).
    pub key_id: String,
    /// In use since.
    pub since: DateTime<Utc>,
    /// Its age now.
    pub age: Duration,
    /// Its rotation period.
    pub period: Duration,
}

impl SecretAge {
    /// Whether its rotation is overdue (its age past its period).
    pub fn overdue(&self) -> bool {
        self.age > self.period
    }
}

/// Storage of the secret inventory.
pub trait SecretsRepo {
    /// Records that `(kind, key_id)` is in use at `now`; true when it was seen
    /// for the first time.
    fn note_secret(
        &mut self,
        kind: &str,
        key_id: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, DomainError>;
    /// When `(kind, key_id)` was first seen.
    fn secret_first_seen(
        &mut self,
        kind: &str,
        key_id: &str,
    ) -> Result<Option<DateTime<Utc>>, DomainError>;
    /// When each clinic's data key was made.
    fn clinic_key_ages(&mut self) -> Result<Vec<(ClinicId, DateTime<Utc>)>, DomainError>;
}
