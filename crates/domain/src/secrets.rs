//! The age of every secret and key against its rotation period (promise E3):
//! the signing and master keys rotate every 30 days (critical), the other
//! secrets and each clinic's data key every 90 (standard); both periods are
//! configurable. A key's age runs from the first time the platform saw it in
//! use (`secret_inventory`), so a ring's age is its first key's: the one that
//! signs or seals, which a rotation replaces. A secret seen for the first time
//! is recorded in the platform audit chain.

use sha2::{Digest, Sha256};

use crate::DomainError;
use crate::audit::AuditRecord;
use crate::audit::actions;
use crate::identity::model::ClientInfo;
pub use crate::ports::secrets::{RotationPeriods, SecretAge, SecretInUse, SecretKind};
use crate::shared::{Core, transactions};
use crate::store::Scope;

/// A short, one-way name for a secret without an id: `sha256:` and the first
/// 12 hex digits of its SHA-256 (48 bits: enough to tell rotations apart,
/// nothing to recover it from).
pub fn fingerprint(secret: &[u8]) -> String {
    let digest = Sha256::digest(secret);
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
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

    /// The ages of the secrets the platform runs with (its settings) against
    /// their periods; see [`Secrets::ages_of`].
    pub fn ages(&self) -> Result<Vec<SecretAge>, DomainError> {
        let settings = self.core.settings();
        self.ages_of(&settings.secrets_in_use, settings.rotation_periods)
    }

    /// Records the secrets in use (a new one in the platform audit chain) and
    /// answers the age of each, and of every clinic's data key, against its
    /// period.
    pub fn ages_of(
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
