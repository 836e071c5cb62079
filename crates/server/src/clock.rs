//! The production clock, and how the commands write a length of time.

use chrono::{DateTime, Utc};
use salus_domain::Clock;

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A length of time as the commands print it: `12m`, `5h07m`, `3d02h` (nothing
/// below a minute; a negative one as zero).
pub fn short(length: chrono::Duration) -> String {
    let minutes = length.num_minutes().max(0);
    match (minutes / (24 * 60), minutes / 60 % 24, minutes % 60) {
        (0, 0, m) => format!("{m}m"),
        (0, h, m) => format!("{h}h{m:02}m"),
        (d, h, _) => format!("{d}d{h:02}h"),
    }
}
