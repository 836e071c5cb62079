//! Operator commands on closures and certificates: `salus clinic close ID --now`
//! and `salus certificate verify FILE` (offline: the signature and what the
//! certificate claims, checked with the platform's public key).

use std::path::Path;

use anyhow::Context;
use salus_domain::closure::certificate::{BACKUPS_EXPIRED, CLINIC_DESTROYED, Destruction, Signed};
use salus_domain::ids::ClinicId;

use crate::config::Config;
use crate::operator::operator_service;

/// Executes a clinic's closure now (an owner must have asked for it), as
/// `operator`: the certificate of destruction.
pub fn close_now(config: &Config, clinic: ClinicId, operator: &str) -> anyhow::Result<Signed> {
    anyhow::ensure!(
        salus_domain::formats::is_email(operator),
        "--operator must be the operator's email address (got '{operator}')"
    );
    operator_service(config)?
        .closures
        .close_now(clinic, operator)
        .map_err(|e| anyhow::anyhow!("{e}: {}", detail(&e)))
        .with_context(|| format!("clinic {clinic} was not closed"))
}

fn detail(e: &salus_domain::DomainError) -> String {
    match e {
        salus_domain::DomainError::Conflict { detail, .. } => detail.clone(),
        salus_domain::DomainError::Internal(cause) => cause.clone(),
        other => format!("{other:?}"),
    }
}

/// What a verified certificate says, one line each.
pub fn verify_file(path: &Path, trusted: &[(String, String)]) -> anyhow::Result<Vec<String>> {
    let signed = crate::register::read_signed(path)?;
    signed
        .verify(trusted)
        .map_err(|reason| anyhow::anyhow!("{} does NOT verify: {reason}", path.display()))?;
    let d = &signed.document;
    let mut lines = vec![format!(
        "{}: signature valid (key {})",
        path.display(),
        signed.key_id
    )];
    match signed.kind() {
        CLINIC_DESTROYED => {
            let c: Destruction = serde_json::from_value(d.clone())
                .context("the document is not a certificate of destruction")?;
            let rows: i64 = c.rows_deleted.iter().map(|r| r.rows).sum();
            anyhow::ensure!(
                c.rows_deleted
                    .iter()
                    .any(|r| r.table == "clinics" && r.rows == 1),
                "the certificate does not record the clinic's own row as deleted"
            );
            lines.push(format!(
                "certificate of destruction {} of clinic {} ({})",
                c.certificate_id, c.clinic_id, c.clinic_name
            ));
            lines.push(format!(
                "asked by {} at {}; executed by {} at {}",
                c.requested_by,
                c.requested_at.to_rfc3339(),
                c.executed_by,
                c.executed_at.to_rfc3339()
            ));
            lines.push(format!(
                "{rows} rows deleted in {} tables; keys destroyed: {}; audit head {} at {}",
                c.rows_deleted.len(),
                c.keys_destroyed.join(", "),
                c.audit_head.hash,
                c.audit_head.seq
            ));
            lines.push(match &c.last_backup {
                Some(b) => format!(
                    "still held by backup {} (taken {}) until at the latest {}",
                    b.label,
                    b.taken_at.to_rfc3339(),
                    b.expected_expiry.to_rfc3339()
                ),
                None => "no backup held the clinic".to_owned(),
            });
        }
        BACKUPS_EXPIRED => lines.push(format!(
            "no backup holds clinic {} any more (checked {}); completes certificate {}",
            d["clinic_id"].as_str().unwrap_or_default(),
            d["checked_at"].as_str().unwrap_or_default(),
            d["destruction_certificate_id"].as_str().unwrap_or_default()
        )),
        other => lines.push(format!("a signed document of kind '{other}'")),
    }
    Ok(lines)
}

/// The platform's public keys (`kid:base64`) from `--public-key` values, or from
/// `AUDIT_SIGNING_KEYS` when none is given.
pub fn trusted_keys(
    given: &[String],
    config: Option<&Config>,
) -> anyhow::Result<Vec<(String, String)>> {
    if !given.is_empty() {
        return given
            .iter()
            .map(|k| {
                k.split_once(':')
                    .map(|(id, key)| (id.to_owned(), key.to_owned()))
                    .with_context(|| format!("--public-key must be kid:base64 (got '{k}')"))
            })
            .collect();
    }
    let config = config
        .context("no --public-key given and no configuration to read AUDIT_SIGNING_KEYS from")?;
    Ok(crate::serve::audit_sealer(config)?.public_keys())
}
