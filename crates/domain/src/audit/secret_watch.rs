//! The secret watch: a secret or key past its rotation period raises one alert
//! (`secret_rotation_overdue`), once per key: rotating it puts a new key in use,
//! whose own period starts then.

use super::backup_watch::Due;
use super::rule::Rule;
use crate::audit::actions;
use crate::ports::alerts::SubjectKind;
use crate::ports::secrets::SecretAge;

/// A secret or key is past its rotation period.
pub const SECRET_OVERDUE: Rule = Rule {
    kind: "secret_rotation_overdue",
    description: "A secret or key is past its rotation period (`salus keys report` names it): rotate it (docs/operations.md, Keys).",
    actions: &[actions::SECRET_FIRST_SEEN],
    by: SubjectKind::Account,
    threshold: 1,
    window_minutes: 24 * 60,
};

/// The watch's rules.
pub const SECRET_RULES: &[Rule] = &[SECRET_OVERDUE];

/// The alert due for each overdue secret: one per key.
pub fn due(ages: &[SecretAge]) -> Vec<Due> {
    ages.iter()
        .filter(|a| a.overdue())
        .map(|a| {
            let subject = format!("{}:{}", a.kind.as_str(), a.key_id);
            Due {
                rule: &SECRET_OVERDUE,
                dedup_key: format!("{}:{subject}", SECRET_OVERDUE.kind),
                subject,
                triggered_at: a.since + a.period,
            }
        })
        .collect()
}
