//! The closure job every node runs beside the audit job (on its interval,
//! `AUDIT_JOB_SECONDS`): it forgets the sealed passphrases of expired clinic
//! exports and executes the closures whose grace period has ended. Each clinic's closure is locked with `FOR UPDATE SKIP LOCKED` in its
//! own transaction, so nodes share the work and none executes one twice.

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

/// Runs a round every `every` until the process ends.
pub fn spawn_closure_job(services: Arc<Services>, every: Duration) {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        loop {
            ticker.tick().await;
            let services = services.clone();
            match tokio::task::spawn_blocking(move || closure_round(&services)).await {
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
        }
    });
}
