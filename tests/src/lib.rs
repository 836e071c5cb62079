//! The black-box test harness: a real server on port 0 against its own PostgreSQL
//! database, cloned from a migrated template, reached over real HTTP.

// Test code: a failed set-up or assertion should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod access;
pub mod app;
pub mod catalogue;
pub mod clock;
pub mod cluster;
pub mod contract;
pub mod db;
pub mod fixtures;
pub mod identity;
pub mod logs;
pub mod operators;
pub mod outbox;
pub mod recording;
pub mod statements;
pub mod tls;
pub mod webhooks;

pub use app::TestApp;
pub use clock::ManualClock;
pub use db::TestDb;

/// The value of one series in a scrape's text, written `name{label="value",...}`
/// as in the text format.
pub fn metric_value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Waits for `found` to find something, polling every 50 ms for up to 20 s (a
/// background job's work, a delivery), and answers it; panics naming `what`.
pub async fn eventually<T>(what: &str, mut found: impl FnMut() -> Option<T>) -> T {
    for _ in 0..400 {
        if let Some(value) = found() {
            return value;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}
