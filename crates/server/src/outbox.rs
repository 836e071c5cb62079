//! The outbox delivery worker and its providers.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use salus_domain::Clock;
use salus_domain::outbox::{Channel, Deliver, PendingMessage};
use salus_persistence::DbPool;
use salus_persistence::outbox_repo::deliver_due;

/// Development provider: writes each message to a file a developer can read
/// (codes included), one file per message.
#[derive(Debug, Clone)]
pub struct FileProvider {
    /// Directory for the files.
    pub dir: PathBuf,
}

impl Deliver for FileProvider {
    fn deliver(&self, m: &PendingMessage) -> Result<(), String> {
        std::fs::create_dir_all(&self.dir).map_err(|e| e.to_string())?;
        let channel = match m.channel {
            Channel::Email => "email",
            Channel::Sms => "sms",
        };
        let text = format!(
            "channel: {channel}\nto: {}\nsubject: {}\n\n{}",
            m.recipient, m.subject, m.body
        );
        std::fs::write(self.dir.join(format!("{}-{channel}.txt", m.id)), text)
            .map_err(|e| e.to_string())
    }
}

/// Messages claimed per round.
const BATCH: i64 = 50;

/// Runs the delivery worker until the process ends: every `every`, claim due
/// messages (`FOR UPDATE SKIP LOCKED`, safe on every node) and deliver them.
pub fn spawn_worker(
    pool: DbPool,
    clock: Arc<dyn Clock>,
    provider: Arc<dyn Deliver>,
    every: Duration,
) {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        loop {
            ticker.tick().await;
            let (pool, clock, provider) = (pool.clone(), clock.clone(), provider.clone());
            let round = tokio::task::spawn_blocking(move || {
                deliver_due(&pool, clock.now(), BATCH, &|m| provider.deliver(m))
            })
            .await;
            match round {
                Ok(Ok(0)) => {}
                Ok(Ok(n)) => tracing::info!(delivered = n, "outbox delivered messages"),
                Ok(Err(e)) => tracing::warn!(error = %e, "outbox round failed"),
                Err(e) => tracing::error!(error = %e, "outbox round panicked"),
            }
        }
    });
}
