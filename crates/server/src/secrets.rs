//! The secrets and keys this configuration runs with, for their ages
//! (`salus keys report`, `/metrics`): each ring's first key by its id, the
//! secrets without an id by their fingerprint.

use std::sync::Arc;

use salus_domain::secrets::{RotationPeriods, SecretAge, SecretInUse, SecretKind, fingerprint};
use salus_domain::services::Services;
use secrecy::ExposeSecret;

use crate::config::{Config, SmsDelivery};

/// What the configuration holds in use: the signing or sealing key of each
/// ring, and the fingerprints of the other secrets that are configured.
pub fn in_use(config: &Config) -> Vec<SecretInUse> {
    let mut out = Vec::new();
    for (kind, ring) in [
        (SecretKind::TokenSigning, &config.token_signing_keys),
        (SecretKind::Master, &config.master_keys),
        (SecretKind::AuditSigning, &config.audit_signing_keys),
    ] {
        if let Some((id, _)) = ring.first() {
            out.push(SecretInUse {
                kind,
                key_id: id.clone(),
            });
        }
    }
    let mut by_fingerprint = |kind, secret: &str| {
        out.push(SecretInUse {
            kind,
            key_id: fingerprint(secret.as_bytes()),
        });
    };
    if let Some(backup) = &config.backup {
        by_fingerprint(SecretKind::BackupCipher, backup.cipher_pass.expose_secret());
    }
    if let SmsDelivery::Gateway { secret, .. } = &config.sms_delivery {
        by_fingerprint(SecretKind::SmsGateway, secret.expose_secret());
    }
    if let Some((_, secret)) = &config.security_webhook {
        by_fingerprint(SecretKind::SecurityWebhook, secret.expose_secret());
    }
    out
}

/// The configured rotation periods.
pub fn periods(config: &Config) -> RotationPeriods {
    RotationPeriods {
        critical: chrono::Duration::days(config.key_rotation_critical_days),
        standard: chrono::Duration::days(config.key_rotation_standard_days),
    }
}

/// The secrets' ages as the metrics read them: the services, what is in use
/// and the periods.
#[derive(Clone)]
pub struct SecretWatch {
    /// The services (the inventory is read and kept through them).
    pub services: Arc<Services>,
    /// What the configuration runs with.
    pub in_use: Vec<SecretInUse>,
    /// The rotation periods.
    pub periods: RotationPeriods,
}

impl SecretWatch {
    /// The watch of this configuration's secrets.
    pub fn new(services: Arc<Services>, config: &Config) -> Self {
        Self {
            services,
            in_use: in_use(config),
            periods: periods(config),
        }
    }

    /// Every secret's age now (and a new one recorded).
    pub fn ages(&self) -> Result<Vec<SecretAge>, salus_domain::DomainError> {
        self.services.secrets.ages(&self.in_use, self.periods)
    }
}
