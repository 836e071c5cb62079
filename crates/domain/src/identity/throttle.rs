//! Brute-force policy: per-account delays and lock-out, per-address rate limits.

use chrono::{DateTime, Duration, Utc};

/// Per-account lock-out policy.
#[derive(Debug, Clone, Copy)]
pub struct LockoutPolicy {
    /// Failures after which each new attempt must wait (doubling: 1 s, 2 s, 4 s...).
    pub delay_after: i32,
    /// Failures after which the account locks.
    pub lock_after: i32,
    /// How long a lock lasts.
    pub lock_for: Duration,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        Self {
            delay_after: 5,
            lock_after: 10,
            lock_for: Duration::minutes(15),
        }
    }
}

/// Whether an account may try a password now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Yes.
    Open,
    /// Not yet: wait after recent failures.
    Delayed,
    /// No: locked.
    Locked,
}

impl LockoutPolicy {
    /// The wait required after `failures` consecutive failures.
    pub fn delay(&self, failures: i32) -> Duration {
        if failures < self.delay_after {
            return Duration::zero();
        }
        let exponent = u32::try_from((failures - self.delay_after).min(8)).unwrap_or(8);
        Duration::seconds(1 << exponent)
    }

    /// Whether an attempt is allowed at `now`.
    pub fn gate(
        &self,
        failures: i32,
        last_failure: Option<DateTime<Utc>>,
        locked_until: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Gate {
        if locked_until.is_some_and(|until| now < until) {
            return Gate::Locked;
        }
        match last_failure {
            Some(at) if now < at + self.delay(failures) => Gate::Delayed,
            _ => Gate::Open,
        }
    }

    /// After one more failure: the new count and a lock if it is due.
    pub fn after_failure(&self, failures: i32, now: DateTime<Utc>) -> (i32, Option<DateTime<Utc>>) {
        let failures = failures.saturating_add(1);
        let lock = (failures >= self.lock_after).then(|| now + self.lock_for);
        (failures, lock)
    }
}

/// A fixed-window rate limit per client address and endpoint.
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    /// Requests allowed per window.
    pub max_hits: i32,
    /// Window length in seconds.
    pub window_secs: i64,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            max_hits: 30,
            window_secs: 60,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn delays_grow_after_five_failures_and_ten_lock() {
        let policy = LockoutPolicy::default();
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        assert_eq!(policy.gate(4, Some(now), None, now), Gate::Open);
        assert_eq!(policy.gate(5, Some(now), None, now), Gate::Delayed);
        assert_eq!(
            policy.gate(5, Some(now), None, now + Duration::seconds(1)),
            Gate::Open
        );
        assert_eq!(policy.delay(7), Duration::seconds(4));
        assert_eq!(policy.after_failure(8, now), (9, None));
        assert_eq!(
            policy.after_failure(9, now),
            (10, Some(now + Duration::minutes(15)))
        );
        let locked_until = Some(now + Duration::minutes(15));
        assert_eq!(
            policy.gate(10, Some(now), locked_until, now + Duration::minutes(14)),
            Gate::Locked
        );
        assert_eq!(
            policy.gate(10, Some(now), locked_until, now + Duration::minutes(16)),
            Gate::Open
        );
    }
}
