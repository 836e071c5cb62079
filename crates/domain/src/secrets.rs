//! The age of every secret and key against its rotation period (promise E3):
//! the signing and master keys rotate every 30 days (critical), the other
//! secrets and each clinic's data key every 90 (standard); both periods are
//! configurable. A key's age runs from the first time the platform saw it in
//! use (`secret_inventory`), so a ring's age is its first key's: the one that
//! signs or seals, which a rotation replaces. A secret seen for the first time
//! is recorded in the platform audit chain.

use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};

use crate::DomainError;
use crate::audit::AuditRecord;
use crate::audit::actions;
use crate::identity::model::ClientInfo;
use crate::shared::{Core, transactions};
use crate::store::Scope;

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

/// A short, one-way name for a secret without an id: `sha256:` and the first
/// 12 hex digits of its SHA-256 (48 bits: enough to tell rotations apart,
/// nothing to recover it from).
pub fn fingerprint(secret: &[u8]) -> String {
    let digest = Sha256::digest(secret);
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
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

/// The secret inventory's service.
#[derive(Clone)]
pub struct Secrets {
    core: Core,
}

impl Secrets {
    /// The service over `core`.
    pub fn new(core: Core) -> Self {
        Self { core }
    }

    transactions!(SecretsTx);

    /// Records the secrets in use (a new one in the platform audit chain) and
    /// answers the age of each, and of every clinic's data key, against its
    /// period.
    pub fn ages(
        &self,
        in_use: &[SecretInUse],
        periods: RotationPeriods,
    ) -> Result<Vec<SecretAge>, DomainError> {
        let now = self.core.now();
        let period = |kind: SecretKind| {
            if kind.critical() {
                periods.critical
            } else {
                periods.standard
            }
        };
        self.tx(Scope::Platform, |tx| {
            let mut ages = Vec::new();
            for secret in in_use {
                let kind = secret.kind.as_str();
                if tx.note_secret(kind, &secret.key_id, now)? {
                    self.core.audit(
                        tx,
                        AuditRecord::account(actions::SECRET_FIRST_SEEN, None)
                            .detail("kind", kind)
                            .detail("key_id", secret.key_id.as_str()),
                        &ClientInfo::default(),
                    )?;
                }
                let since = tx.secret_first_seen(kind, &secret.key_id)?.unwrap_or(now);
                ages.push(SecretAge {
                    kind: secret.kind,
                    key_id: secret.key_id.clone(),
                    since,
                    age: now - since,
                    period: period(secret.kind),
                });
            }
            for (clinic, since) in tx.clinic_key_ages()? {
                ages.push(SecretAge {
                    kind: SecretKind::ClinicDataKey,
                    key_id: clinic.to_string(),
                    since,
                    age: now - since,
                    period: period(SecretKind::ClinicDataKey),
                });
            }
            Ok(ages)
        })
    }
}
