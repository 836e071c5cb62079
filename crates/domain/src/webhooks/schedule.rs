//! When deliveries are tried, retried and given up, and when an endpoint is
//! disabled: the rules, apart from storage and time.
//!
//! A failed attempt is retried after 1 minute, then 2, 4, 8, ... doubling up to
//! 12 hours between attempts, each delay shifted by up to 20% either way
//! (jitter, so receivers coming back are not met by every retry at once), for
//! 3 days after the event (the last attempt is made at the end of the window).
//! An endpoint that has failed every attempt for those 3 days is disabled.

use chrono::{DateTime, Duration, Utc};

/// How long an event is retried.
pub const RETRY_WINDOW: Duration = Duration::days(3);

/// How long an endpoint may fail every attempt before it is disabled.
pub const DISABLE_AFTER: Duration = RETRY_WINDOW;

/// The delay after the first failed attempt.
pub const FIRST_RETRY: Duration = Duration::minutes(1);

/// The longest delay between two attempts.
pub const LONGEST_DELAY: Duration = Duration::hours(12);

/// How far a delay may move either way, in percent.
pub const JITTER_PERCENT: i64 = 20;

/// How long the previous secret still signs after a rotation.
pub const PREVIOUS_SECRET_VALID: Duration = Duration::hours(24);

/// How long settled deliveries stay in the log.
pub const LOG_RETENTION: Duration = Duration::days(30);

/// How long a claimed delivery is leased to the worker that claimed it.
pub const LEASE: Duration = Duration::minutes(5);

/// The delay after the `attempts`-th failed attempt, before jitter.
pub fn base_delay(attempts: i32) -> Duration {
    let doublings = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(0);
    let seconds = FIRST_RETRY
        .num_seconds()
        .saturating_mul(1_i64.checked_shl(doublings).unwrap_or(i64::MAX));
    Duration::seconds(seconds).min(LONGEST_DELAY)
}

/// The delay after the `attempts`-th failed attempt, moved by `jitter` (a
/// random fraction, 0 to 1: 0 is 20% sooner, 1 is 20% later).
pub fn retry_delay(attempts: i32, jitter: f64) -> Duration {
    let base = base_delay(attempts).num_milliseconds();
    let spread = base * JITTER_PERCENT / 100;
    // Whole milliseconds of a bounded product: no precision is lost that matters.
    #[allow(clippy::cast_possible_truncation)]
    let shift = ((2.0 * jitter.clamp(0.0, 1.0) - 1.0) * spread as f64) as i64;
    Duration::milliseconds(base + shift)
}

/// When to try again after the `attempts`-th failed attempt at `now`, or
/// `None` to give up: the window has ended. The last retry is made at the end
/// of the window, however the delays fall.
pub fn next_attempt(
    now: DateTime<Utc>,
    give_up_at: DateTime<Utc>,
    attempts: i32,
    jitter: f64,
) -> Option<DateTime<Utc>> {
    (now < give_up_at).then(|| (now + retry_delay(attempts, jitter)).min(give_up_at))
}

/// Whether an endpoint failing every attempt since `failing_since` is to be
/// disabled at `now`.
pub fn disable_due(failing_since: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    now - failing_since >= DISABLE_AFTER
}

/// A jitter fraction from four random bytes.
pub fn jitter(bytes: [u8; 4]) -> f64 {
    f64::from(u32::from_be_bytes(bytes)) / f64::from(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_from_a_minute_up_to_twelve_hours() {
        let minutes: Vec<i64> = (1..=12).map(|a| base_delay(a).num_minutes()).collect();
        assert_eq!(minutes, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 720, 720]);
        assert_eq!(base_delay(1000), LONGEST_DELAY);
    }

    #[test]
    fn jitter_moves_a_delay_by_at_most_a_fifth() {
        let base = base_delay(5);
        assert_eq!(retry_delay(5, 0.0), base - base / 5);
        assert_eq!(retry_delay(5, 1.0), base + base / 5);
        assert_eq!(retry_delay(5, 0.5), base);
        assert_eq!(jitter([0, 0, 0, 0]), 0.0);
        assert_eq!(jitter([255; 4]), 1.0);
    }

    #[test]
    fn retries_last_three_days_and_end_on_the_window() {
        let start = DateTime::parse_from_rfc3339("2026-12-07T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let give_up = start + RETRY_WINDOW;
        let (mut now, mut attempts, mut tries) = (start, 1, vec![start]);
        while let Some(next) = next_attempt(now, give_up, attempts, 1.0) {
            assert!(next > now && next <= give_up);
            now = next;
            attempts += 1;
            tries.push(now);
        }
        assert_eq!(
            *tries.last().unwrap(),
            give_up,
            "the last try is at the end"
        );
        assert!(
            (10..=20).contains(&tries.len()),
            "{} attempts in 3 days",
            tries.len()
        );
        assert_eq!(next_attempt(give_up, give_up, attempts, 0.5), None);
    }

    #[test]
    fn an_endpoint_is_disabled_after_three_days_of_failures_and_not_before() {
        let since = DateTime::parse_from_rfc3339("2026-12-07T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert!(!disable_due(
            since,
            since + DISABLE_AFTER - Duration::seconds(1)
        ));
        assert!(disable_due(since, since + DISABLE_AFTER));
    }
}
