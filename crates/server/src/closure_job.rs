//! The closure job every node runs beside the audit job (on its interval,
//! `AUDIT_JOB_SECONDS`): it forgets the sealed passphrases of expired clinic
//! exports, executes the closures whose grace period has ended, moves
//! inactive patients to the records archive, and deletes the answers kept for
//! idempotent retries once their 24 hours are over. Each clinic's work is
//! locked with `FOR UPDATE SKIP LOCKED` in its own transaction, so nodes share
//! it and none does it twice.

use std::sync::Arc;
use std::time::Duration;

use salus_domain::DomainError;
use salus_domain::closure::certificate::Signed;
use salus_domain::services::Services;

/// One round: forgets the passphrases of expired exports, then executes the
/// due closures; the certificates of the clinics destroyed (also what tests
/// drive, with a hand-moved clock).
pub fn closure_round(services: &Services) -> Result<Vec<Signed>, DomainError> {
    services.exports.forget_expired_exports()?;
    services.closures.execute_due_closures()
}

/// One round of the archive job: patients without an encounter for their
/// clinic's `archive_after_years` moved to the records archive (each clinic in
/// its own transaction, its row locked `SKIP LOCKED`): how many.
pub fn archive_round(services: &Services) -> Result<usize, DomainError> {
    services.rights.archive_inactive_patients()
}

/// One round of the idempotency purge: the expired requests and their kept
/// answers deleted, clinic by clinic (rows locked `SKIP LOCKED`): how many.
pub fn idempotency_round(services: &Services) -> Result<usize, DomainError> {
    services.idempotency.purge_expired()
}

/// Runs a round every `every` until the process ends: closures, the records
/// archive, then the idempotency purge.
pub fn spawn_closure_job(services: Arc<Services>, every: Duration) {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        loop {
            ticker.tick().await;
            let closing = services.clone();
            match tokio::task::spawn_blocking(move || closure_round(&closing)).await {
                Ok(Ok(issued)) => {
                    for c in &issued {
                        tracing::info!(
                            certificate_id = %c.document["certificate_id"],
                            clinic_id = %c.document["clinic_id"],
                            "clinic destroyed at the end of its closure's grace period"
                        );
                    }
                }
                Ok(Err(e)) => tracing::warn!(error = %e, "closure job round failed"),
                Err(e) => tracing::error!(error = %e, "closure job round panicked"),
            }
            let archiving = services.clone();
            match tokio::task::spawn_blocking(move || archive_round(&archiving)).await {
                Ok(Ok(0)) => {}
                Ok(Ok(moved)) => tracing::info!(moved, "patients moved to the records archive"),
                Ok(Err(e)) => tracing::warn!(error = %e, "archive job round failed"),
                Err(e) => tracing::error!(error = %e, "archive job round panicked"),
            }
            let purging = services.clone();
            match tokio::task::spawn_blocking(move || idempotency_round(&purging)).await {
                Ok(Ok(0)) => {}
                Ok(Ok(purged)) => tracing::info!(purged, "expired idempotent requests deleted"),
                Ok(Err(e)) => tracing::warn!(error = %e, "idempotency purge round failed"),
                Err(e) => tracing::error!(error = %e, "idempotency purge round panicked"),
            }
        }
    });
}
