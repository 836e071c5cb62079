//! The rate limiter's sync task every node runs (`RATE_LIMIT_SYNC_MILLIS`):
//! each round adds the hits the node counted since the last round to the totals
//! all nodes share (`request_rate_limits`) and reads them back, with the plans
//! of the clinics the node has seen (`salus_persistence::rate_limits_repo`).
//! Kong's rate-limiting plugin shares its counters the same way (`sync_rate`).
//!
//! A failed round (the database is out of reach) gives its hits back to be sent
//! with the next: the node keeps counting and deciding alone meanwhile, so no
//! request fails because of the limiter.

use std::sync::Arc;
use std::time::Duration;

use salus_domain::Clock;
use salus_domain::rate_limits::counters::Limiter;
use salus_persistence::DbPool;
use salus_persistence::rate_limits_repo::sync;

/// The longest pause between rounds while they fail.
pub const MAX_PAUSE: Duration = Duration::from_secs(5);

/// Runs a round every `every` until the process ends; after a failed round the
/// pause doubles, up to [`MAX_PAUSE`], so an outage is not hammered.
pub fn spawn_rate_limit_sync(
    pool: DbPool,
    limiter: Arc<Limiter>,
    clock: Arc<dyn Clock>,
    every: Duration,
) {
    tokio::spawn(async move {
        let mut pause = every;
        loop {
            tokio::time::sleep(pause).await;
            let batch = limiter.take(clock.now());
            if batch.is_empty() {
                pause = every;
                continue;
            }
            let (pool, sent) = (pool.clone(), batch.clone());
            pause = match tokio::task::spawn_blocking(move || sync(&pool, &sent)).await {
                Ok(Ok(synced)) => {
                    limiter.settle(&batch, synced);
                    every
                }
                Ok(Err(e)) => {
                    limiter.give_back(&batch);
                    tracing::warn!(error = %e, "rate limit sync failed; counting locally");
                    (pause * 2).min(MAX_PAUSE)
                }
                Err(e) => {
                    limiter.give_back(&batch);
                    tracing::error!(error = %e, "rate limit sync panicked; counting locally");
                    (pause * 2).min(MAX_PAUSE)
                }
            };
        }
    });
}
