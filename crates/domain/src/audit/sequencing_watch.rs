//! The sequencing watch: an audit event still without its chain position
//! [`LATE_AFTER`] after it was recorded means the sequencer is not running or
//! keeps failing, and events that are not chained are not tamper-evident yet.
//! One alert per chain and stuck event (the oldest waiting).

use chrono::{DateTime, Utc};

use super::backup_watch::Due;
use super::rule::Rule;
use super::sequencer::LATE_AFTER;
use crate::ports::alerts::SubjectKind;
use crate::ports::audit::Waiting;

/// Audit events wait for their chain position past the bound.
pub const SEQUENCING_LATE: Rule = Rule {
    kind: "audit_sequencing_late",
    description: "Audit events have waited more than 30 seconds for their chain position: the sequencer is not running or fails (docs/operations.md, Audit trail). Until chained, they are not tamper-evident.",
    actions: &[],
    by: SubjectKind::Account,
    threshold: 1,
    window_minutes: 5,
};

/// The watch's rules.
pub const SEQUENCING_RULES: &[Rule] = &[SEQUENCING_LATE];

/// The alert due for each chain whose oldest waiting event is late at `now`.
pub fn due(waiting: &[Waiting], now: DateTime<Utc>) -> Vec<Due> {
    waiting
        .iter()
        .filter(|w| now - w.oldest > LATE_AFTER)
        .map(|w| {
            let subject = format!("chain {} ({} events waiting)", w.chain, w.events);
            Due {
                rule: &SEQUENCING_LATE,
                dedup_key: format!(
                    "{}:{}:{}",
                    SEQUENCING_LATE.kind,
                    w.chain,
                    w.oldest.timestamp_micros()
                ),
                subject,
                triggered_at: w.oldest + LATE_AFTER,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::ids::ChainId;

    #[test]
    fn an_event_is_late_past_the_bound_and_not_before() {
        let now = Utc::now();
        let waiting = |age: Duration| Waiting {
            chain: ChainId(uuid::Uuid::nil()),
            clinic: None,
            events: 3,
            oldest: now - age,
        };
        assert!(due(&[waiting(LATE_AFTER)], now).is_empty());
        let late = due(&[waiting(LATE_AFTER + Duration::seconds(1))], now);
        assert_eq!(late.len(), 1);
        assert_eq!(late[0].rule.kind, "audit_sequencing_late");
        assert_eq!(
            late[0].dedup_key,
            due(&[waiting(LATE_AFTER + Duration::seconds(1))], now)[0].dedup_key,
            "the same stuck event raises one alert"
        );
    }
}
