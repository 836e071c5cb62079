//! `salus audit verify|purge|public-keys`: the operator's side of the audit
//! trail. They connect with the owner role (`MIGRATION_DATABASE_URL`) and act as
//! `salus_audit`, the role that owns the audit schema and alone sees every chain.

use anyhow::Context;
use chrono::{DateTime, Utc};
use diesel::{Connection, PgConnection, RunQueryDsl};
use salus_domain::DomainError;
use salus_domain::audit::retention::retire_expired;
use salus_domain::audit::seal::AuditSealer;
use salus_domain::audit::verify::{ChainReport, verify_chain};
use salus_domain::ids::ClinicId;
use salus_domain::ports::audit::{AuditRepo, ChainHead};
use salus_persistence::store::PgTx;
use secrecy::{ExposeSecret, SecretString};

fn audit_connection(owner_url: &SecretString) -> anyhow::Result<PgConnection> {
    let mut conn = PgConnection::establish(owner_url.expose_secret())
        .context("cannot connect with MIGRATION_DATABASE_URL")?;
    diesel::sql_query("SET ROLE salus_audit")
        .execute(&mut conn)
        .context("the owner role cannot act as salus_audit (GRANT salus_audit TO <owner>)")?;
    Ok(conn)
}

fn in_audit_tx<T>(
    conn: &mut PgConnection,
    work: impl FnOnce(&mut PgTx<'_>) -> Result<T, DomainError>,
) -> anyhow::Result<T> {
    conn.transaction::<T, anyhow::Error, _>(|conn| {
        let mut tx = PgTx::new(conn);
        work(&mut tx).map_err(|e| anyhow::anyhow!("{e:?}"))
    })
}

fn heads(conn: &mut PgConnection, clinic: Option<ClinicId>) -> anyhow::Result<Vec<ChainHead>> {
    in_audit_tx(conn, |tx| tx.chain_heads(clinic))
}

/// Recomputes every chain (or one clinic's) and reports each; `progress` is told
/// after each chain.
pub fn verify(
    owner_url: &SecretString,
    sealer: &AuditSealer,
    clinic: Option<ClinicId>,
    progress: &mut dyn FnMut(usize, usize, &ChainReport),
) -> anyhow::Result<Vec<ChainReport>> {
    let mut conn = audit_connection(owner_url)?;
    let heads = heads(&mut conn, clinic)?;
    let mut reports = Vec::with_capacity(heads.len());
    for (i, head) in heads.iter().enumerate() {
        let report = in_audit_tx(&mut conn, |tx| verify_chain(tx, sealer, head))?;
        progress(i + 1, heads.len(), &report);
        reports.push(report);
    }
    Ok(reports)
}

/// Removes, chain by chain, the events older than the retention period (each
/// chain in its own transaction, after sealing its last removed event); returns
/// the count removed.
pub fn purge(
    owner_url: &SecretString,
    sealer: &AuditSealer,
    now: DateTime<Utc>,
    progress: &mut dyn FnMut(usize, usize, i64),
) -> anyhow::Result<i64> {
    let mut conn = audit_connection(owner_url)?;
    let heads = heads(&mut conn, None)?;
    let mut total = 0;
    for (i, head) in heads.iter().enumerate() {
        let removed = in_audit_tx(&mut conn, |tx| retire_expired(tx, sealer, head, now))
            .with_context(|| format!("purging chain {}", head.chain_id))?;
        progress(i + 1, heads.len(), removed);
        total += removed;
    }
    Ok(total)
}

/// The public halves of the signing keys, `kid:base64`, for offline verification.
pub fn public_keys(sealer: &AuditSealer) -> Vec<String> {
    sealer
        .public_keys()
        .into_iter()
        .map(|(id, key)| format!("{id}:{key}"))
        .collect()
}
