//! The webhook delivery worker every node runs: each round claims due
//! deliveries of every clinic (`FOR UPDATE SKIP LOCKED`, leased, so nodes share
//! them), sends them a few at a time ([`client::WebhookClient`]), and settles
//! each as it ends; then the delivery log's settled lines past 30 days go.

pub mod client;
pub mod resolver;

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use salus_domain::DomainError;
use salus_domain::services::Services;
use salus_domain::webhooks::delivery::{Attempt, Outcome};

use client::WebhookClient;

/// Deliveries claimed per round.
pub const BATCH: i64 = 32;

/// Deliveries in flight at once.
pub const IN_FLIGHT: usize = 8;

/// What one round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoundReport {
    /// Attempts answered 2xx.
    pub delivered: usize,
    /// Attempts that failed (to be retried or given up).
    pub failed: usize,
    /// Settled deliveries removed from the log.
    pub purged: usize,
}

/// Runs blocking service work on the blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, DomainError> + Send + 'static,
) -> Result<T, DomainError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| DomainError::Internal(format!("webhook round: {e}")))?
}

/// Sends one attempt and settles it.
async fn deliver(
    services: Arc<Services>,
    client: WebhookClient,
    attempt: Attempt,
) -> Result<bool, DomainError> {
    let outcome = client.send(&attempt, services.now().timestamp()).await;
    if let Outcome::Failed { status, error, .. } = &outcome {
        tracing::warn!(
            endpoint_id = %attempt.endpoint(),
            event_id = %attempt.event(),
            status = ?status,
            error = %error,
            "webhook delivery failed"
        );
    }
    let delivered = matches!(outcome, Outcome::Delivered { .. });
    blocking(move || services.webhooks.settle(&attempt, &outcome)).await?;
    Ok(delivered)
}

/// One round of the worker (also what tests drive, with a hand-moved clock).
pub async fn webhook_round(
    services: &Arc<Services>,
    client: &WebhookClient,
) -> Result<RoundReport, DomainError> {
    let claimer = services.clone();
    let claim = blocking(move || claimer.webhooks.claim_due(BATCH)).await?;
    for error in &claim.errors {
        tracing::warn!(error = %error, "webhook deliveries of a clinic could not be prepared");
    }
    let settled: Vec<Result<bool, DomainError>> = futures_util::stream::iter(claim.attempts)
        .map(|attempt| deliver(services.clone(), client.clone(), attempt))
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;
    let mut report = RoundReport::default();
    for outcome in settled {
        match outcome? {
            true => report.delivered += 1,
            false => report.failed += 1,
        }
    }
    let purger = services.clone();
    report.purged = blocking(move || purger.webhooks.purge_delivery_log()).await?;
    Ok(report)
}

/// Runs a round every `every` until the process ends.
pub fn spawn_webhook_worker(services: Arc<Services>, client: WebhookClient, every: Duration) {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        loop {
            ticker.tick().await;
            match webhook_round(&services, &client).await {
                Ok(r) if r == RoundReport::default() => {}
                Ok(r) => tracing::info!(
                    delivered = r.delivered,
                    failed = r.failed,
                    purged = r.purged,
                    "webhook round"
                ),
                Err(e) => tracing::warn!(error = %e, "webhook round failed"),
            }
        }
    });
}
