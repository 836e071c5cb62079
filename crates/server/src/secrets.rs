//! The secrets and keys this configuration runs with, for their ages (the
//! domain's settings: `salus keys report`, `/metrics`, the audit job's alert):
//! each ring's first key by its id, the secrets without an id by their
//! fingerprint.

use salus_domain::secrets::{RotationPeriods, SecretInUse, SecretKind, fingerprint};
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
