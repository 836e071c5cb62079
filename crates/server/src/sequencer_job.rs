//! The audit sequencer every node runs (`AUDIT_SEQUENCE_MILLIS`): each round
//! gives the waiting events of every chain their positions
//! (`salus_domain::audit::sequencer`), heads another node holds skipped, so
//! nodes share the chains and an event waits about one interval.

use std::sync::Arc;
use std::time::Duration;

use salus_domain::services::Services;

/// Runs a round every `every` until the process ends; after a failed round
/// (the database is down) the pause doubles, up to [`MAX_PAUSE`], so an outage
/// is not hammered nor logged four times a second.
pub fn spawn_sequencer(services: Arc<Services>, every: Duration) {
    tokio::spawn(async move {
        let mut pause = every;
        loop {
            tokio::time::sleep(pause).await;
            let services = services.clone();
            pause = match tokio::task::spawn_blocking(move || services.audit.sequence_waiting())
                .await
            {
                Ok(Ok(round)) => {
                    if round.sequenced > 0 {
                        tracing::debug!(
                            chains = round.chains,
                            sequenced = round.sequenced,
                            skipped = round.skipped,
                            "audit events sequenced"
                        );
                    }
                    every
                }
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "audit sequencer round failed");
                    (pause * 2).min(MAX_PAUSE)
                }
                Err(e) => {
                    tracing::error!(error = %e, "audit sequencer round panicked");
                    (pause * 2).min(MAX_PAUSE)
                }
            };
        }
    });
}

/// The longest pause between rounds while they fail.
pub const MAX_PAUSE: Duration = Duration::from_secs(10);
