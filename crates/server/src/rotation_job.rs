//! The data-key rotation job every node runs beside the audit job (on its
//! interval, `AUDIT_JOB_SECONDS`): each clinic whose data-key rotation is under
//! way (`salus keys rotate-clinic`) is advanced one pass, its fields moved in
//! batches locked `FOR UPDATE SKIP LOCKED`, so nodes share the work and an
//! interrupted rotation goes on by itself.

use std::sync::Arc;
use std::time::Duration;

use salus_domain::DomainError;
use salus_domain::ids::ClinicId;
use salus_domain::keyring::data_key::Advance;
use salus_domain::services::Services;

/// One round: every rotation under way advanced once (also what tests drive).
pub fn rotation_round(services: &Services) -> Result<Vec<(ClinicId, Advance)>, DomainError> {
    services.data_keys.advance_all()
}

/// Runs a round every `every` until the process ends.
pub fn spawn_rotation_job(services: Arc<Services>, every: Duration) {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        loop {
            ticker.tick().await;
            let services = services.clone();
            match tokio::task::spawn_blocking(move || rotation_round(&services)).await {
                Ok(Ok(steps)) => {
                    for (clinic, step) in steps {
                        match step {
                            Advance::Finished { resealed, version } => tracing::info!(
                                %clinic, resealed, version,
                                "data-key rotation finished: the old key is destroyed"
                            ),
                            Advance::Moving {
                                resealed,
                                remaining,
                            } => tracing::info!(
                                %clinic, resealed, remaining, "data-key rotation under way"
                            ),
                            Advance::Idle => {}
                        }
                    }
                }
                Ok(Err(e)) => tracing::warn!(error = %e, "data-key rotation round failed"),
                Err(e) => tracing::error!(error = %e, "data-key rotation round panicked"),
            }
        }
    });
}
