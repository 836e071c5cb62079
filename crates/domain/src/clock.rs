//! Time as an injected port, so tests can move the clock instead of sleeping.

use chrono::{DateTime, Utc};

/// A source of the current time (UTC).
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}
