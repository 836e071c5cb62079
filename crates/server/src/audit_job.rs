//! The audit job every node runs: seal each chain's head in a signed checkpoint,
//! purge what is past retention, and (see `alerts`) look for threats. Work is
//! claimed with `FOR UPDATE SKIP LOCKED`, so nodes share it without coordinating.

use std::sync::Arc;
use std::time::Duration;

use salus_domain::DomainError;
use salus_domain::identity::service::Identity;

/// What one round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoundReport {
    /// Chains sealed or purged.
    pub chains: usize,
    /// Events removed by retention.
    pub purged: i64,
}

/// One round of the job (also what tests drive, with a hand-moved clock).
pub fn audit_round(identity: &Identity) -> Result<RoundReport, DomainError> {
    let turns = identity.maintain_audit_chains()?;
    Ok(RoundReport {
        chains: turns.len(),
        purged: turns.iter().map(|t| t.purged).sum(),
    })
}

/// Runs a round every `every` until the process ends.
pub fn spawn_audit_job(identity: Arc<Identity>, every: Duration) {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        loop {
            ticker.tick().await;
            let identity = identity.clone();
            match tokio::task::spawn_blocking(move || audit_round(&identity)).await {
                Ok(Ok(r)) if r.chains == 0 => {}
                Ok(Ok(r)) => {
                    tracing::info!(chains = r.chains, purged = r.purged, "audit job round");
                }
                Ok(Err(e)) => tracing::warn!(error = %e, "audit job round failed"),
                Err(e) => tracing::error!(error = %e, "audit job round panicked"),
            }
        }
    });
}
