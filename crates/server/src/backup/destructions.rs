//! The backups' side of the destruction register (`crate::register`): every
//! restored copy gets every destruction of the register re-applied before it is
//! used (`salus backup restore` and the restore drill), and once no backup in
//! the repository holds a destroyed clinic any more, the second certificate is
//! issued (`certify_expired_backups`, run after each scheduled backup and by
//! `salus certificate check-backups`), checked against the repository's list.

use std::collections::HashSet;

use anyhow::Context;
use chrono::Utc;
use salus_domain::closure::certificate::{
    BACKUPS_EXPIRED, BackupsExpired, CLINIC_DESTROYED, Destruction, PATIENT_ERASED, PatientErasure,
    Signed, entry_name,
};
use salus_domain::ports::closure::DestructionRegister;
use salus_persistence::PoolSettings;

use super::configured;
use super::pgbackrest::Pgbackrest;
use super::psql::Psql;
use crate::config::Config;
use crate::operator::command_service;
use crate::register::{FileRegister, Reapplied, of_kind, reapply};

/// Re-applies every destruction of the register to the copy `psql` reaches.
pub(super) fn reapply_to(
    config: &Config,
    psql: &Psql,
    database: &str,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<Reapplied> {
    let trusted = crate::serve::audit_sealer(config)?.public_keys();
    let register = FileRegister::new(&config.destruction_register_dir);
    let unreadable = || {
        format!(
            "the destruction register ({}) cannot be read: the copy must not be used before every destruction is re-applied",
            register.dir().display()
        )
    };
    let entries = register.entries(&trusted).with_context(unreadable)?;
    let destructions: Vec<Destruction> = of_kind(&entries, CLINIC_DESTROYED)?;
    let erasures: Vec<PatientErasure> = of_kind(&entries, PATIENT_ERASED)?;
    progress(&format!(
        "re-applying the destruction register ({} destructions and {} erasures in {})",
        destructions.len(),
        erasures.len(),
        register.dir().display()
    ));
    reapply(
        &destructions,
        &erasures,
        &mut |sql| psql.run(database, sql),
        progress,
    )
}

/// Issues the second certificate for every destroyed clinic that no backup of
/// the repository holds any more (every backup in it started after the
/// destruction), keeps it in the register and emails it to the owners the
/// first went to. The certificates issued.
pub fn certify_expired_backups(
    config: &Config,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<Vec<Signed>> {
    let backup = configured(config)?;
    let tool = Pgbackrest::prepare(backup)?;
    let backups = tool.backups()?;
    let sealer = crate::serve::audit_sealer(config)?;
    let trusted = sealer.public_keys();
    let register = FileRegister::new(&config.destruction_register_dir);
    let entries = register.entries(&trusted)?;
    let completed: HashSet<String> = entries
        .iter()
        .filter(|(_, s)| s.kind() == BACKUPS_EXPIRED)
        .filter_map(|(_, s)| {
            s.document["destruction_certificate_id"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    let mut issued = Vec::new();
    for d in of_kind::<Destruction>(&entries, CLINIC_DESTROYED)? {
        if completed.contains(&d.certificate_id.to_string()) {
            continue;
        }
        if let Some(holding) = backups.iter().find(|b| b.started <= d.executed_at) {
            progress(&format!(
                "clinic {} is still held by backup {} (started {})",
                d.clinic_id,
                holding.label,
                holding.started.to_rfc3339()
            ));
            continue;
        }
        let now = Utc::now();
        let certificate = BackupsExpired {
            kind: BACKUPS_EXPIRED.to_owned(),
            certificate_id: uuid::Uuid::now_v7(),
            destruction_certificate_id: d.certificate_id,
            clinic_id: d.clinic_id,
            last_backup: d.last_backup.clone(),
            checked_at: now,
            backups_in_repository: backups.len(),
        };
        let signed = Signed::sign(&sealer, &certificate)?;
        register
            .keep(
                &entry_name(now, BACKUPS_EXPIRED, certificate.certificate_id),
                &signed.to_file()?,
            )
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let services = command_service(
            config,
            PoolSettings {
                max_size: 1,
                statement_timeout_ms: config.db_statement_timeout_ms,
                checkout_timeout: std::time::Duration::from_millis(config.db_checkout_timeout_ms),
            },
        )?;
        services
            .closures
            .deliver_backups_expired(&signed, &d.sent_to)
            .map_err(|e| anyhow::anyhow!("{e:?}"))
            .context("the second certificate is in the register, but it could not be recorded and emailed")?;
        progress(&format!(
            "no backup holds clinic {} any more: certificate {} issued",
            d.clinic_id, certificate.certificate_id
        ));
        issued.push(signed);
    }
    Ok(issued)
}
