//! The incident watch: every deadline of an incident not closed that is past
//! due and not met raises one platform alert (a P1's clinics within 4 hours; a
//! confirmed breach's clinics and authority within 72 hours of awareness).

use chrono::DateTime;
use chrono::Utc;

use super::backup_watch::Due;
use super::rule::Rule;
use crate::audit::actions;
use crate::ports::alerts::SubjectKind;
use crate::ports::incidents::{IncidentStatus, WithClinics};

/// An incident's deadline is overdue.
pub const DEADLINE_OVERDUE: Rule = Rule {
    kind: "incident_deadline_overdue",
    description: "An incident's notification deadline passed unmet (a P1's clinics within 4 hours; a confirmed breach's clinics or the authority within 72 hours): see GET /api/v1/platform/incidents/{id}.",
    actions: &[
        actions::INCIDENT_DECLARED,
        actions::INCIDENT_BREACH_CONFIRMED,
    ],
    by: SubjectKind::Account,
    threshold: 1,
    window_minutes: 60,
};

/// The watch's rules.
pub const INCIDENT_RULES: &[Rule] = &[DEADLINE_OVERDUE];

/// The alerts due at `now`: one per incident and overdue deadline (each
/// deduplicated by its key when stored).
pub fn due(incidents: &[WithClinics], now: DateTime<Utc>) -> Vec<Due> {
    incidents
        .iter()
        .filter(|(i, _)| i.status != IncidentStatus::Closed)
        .flat_map(|(i, clinics)| {
            i.deadlines(clinics, now)
                .into_iter()
                .filter(|d| d.overdue)
                .map(move |d| Due {
                    rule: &DEADLINE_OVERDUE,
                    subject: format!("incident {} ({})", i.id, d.kind.as_str()),
                    dedup_key: format!("{}:{}:{}", DEADLINE_OVERDUE.kind, i.id, d.kind.as_str()),
                    triggered_at: d.due_at,
                })
        })
        .collect()
}
