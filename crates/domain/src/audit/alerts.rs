//! Threat detectors over the audit trail. Each chain's new events are read once
//! (the chain is claimed with `FOR UPDATE SKIP LOCKED`); for each rule an event
//! matches, the events of the same subject in the rule's window are counted and,
//! at the threshold, an alert is stored (once per subject and window), emailed to
//! the clinic's owners and administrators, and sent to the platform's webhook.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use super::model::AuditEvent;
use crate::access::Permission;
use crate::identity::model::Role;
use crate::outbox::{Channel, NewMessage};
use crate::paging::{MAX_PAGE, Page};
use crate::ports::alerts::{AlertKey, SecurityAlert, SubjectKind};
use crate::ports::audit::ChainHead;
use crate::shared::{Core, transactions};
use crate::store::{AlertsTx, Scope};
use crate::{Actor, DomainError};

pub use super::rule::Rule;

const SIGN_IN_FAILURES: &[&str] = &[
    crate::audit::actions::AUTH_LOGIN_FAILED,
    crate::audit::actions::MFA_FAILED,
];
const CLINICAL_READS: &[&str] = &[
    crate::audit::actions::PATIENT_CLINICAL_READ,
    crate::audit::actions::PATIENT_LIST_CLINICAL_READ,
    crate::audit::actions::NOTE_LIST_READ,
    crate::audit::actions::APPOINTMENT_CLINICAL_READ,
    crate::audit::actions::APPOINTMENT_LIST_CLINICAL_READ,
];

/// The detectors.
pub const RULES: &[Rule] = &[
    Rule {
        kind: "brute_force_account",
        description: "Repeated failed sign-ins or MFA checks for one account.",
        actions: SIGN_IN_FAILURES,
        by: SubjectKind::Account,
        threshold: 5,
        window_minutes: 15,
    },
    Rule {
        kind: "brute_force_address",
        description: "Repeated failed sign-ins or MFA checks from one client address.",
        actions: SIGN_IN_FAILURES,
        by: SubjectKind::ClientIp,
        threshold: 20,
        window_minutes: 15,
    },
    Rule {
        kind: "refresh_token_reuse",
        description: "A refresh token was used twice: it may have been stolen; the session was revoked.",
        actions: &[crate::audit::actions::AUTH_REFRESH_TOKEN_REUSE],
        by: SubjectKind::Account,
        threshold: 1,
        window_minutes: 60,
    },
    Rule {
        kind: "clinical_read_volume",
        description: "Unusually many reads of clinical data by one member.",
        actions: CLINICAL_READS,
        by: SubjectKind::Account,
        threshold: 200,
        window_minutes: 60,
    },
    Rule {
        kind: "export_volume",
        description: "Unusually many exports of the audit trail by one member.",
        actions: &[crate::audit::actions::AUDIT_EXPORTED],
        by: SubjectKind::Account,
        threshold: 3,
        window_minutes: 24 * 60,
    },
    Rule {
        kind: "sealed_data_integrity",
        description: "Sealed data failed its integrity check: a ciphertext was altered or moved at rest.",
        actions: &[crate::audit::actions::SEALED_DATA_INTEGRITY_FAILED],
        by: SubjectKind::Account,
        threshold: 1,
        window_minutes: 60,
    },
    Rule {
        kind: "id_probing",
        description: "Repeated requests for records that do not exist in the clinic (ids of other clinics, or guessed ones).",
        actions: &[crate::audit::actions::ACCESS_NOT_FOUND],
        by: SubjectKind::Account,
        threshold: 20,
        window_minutes: 10,
    },
];

/// Events read per chain per turn.
const SCAN_BATCH: i64 = 1_000;

fn subject_of(rule: &Rule, e: &AuditEvent) -> Option<String> {
    match rule.by {
        SubjectKind::Account => e.event.account_id.map(|a| a.to_string()),
        SubjectKind::ClientIp => e.event.client_ip.clone(),
    }
}

fn window_key(rule: &Rule, subject: &str, at: DateTime<Utc>) -> String {
    let bucket = at.timestamp() / (rule.window_minutes * 60);
    format!("{}:{subject}:{bucket}", rule.kind)
}

/// The threat detectors over the audit trail, and the alerts they raise.
#[derive(Clone)]
pub struct Alerts {
    core: Core,
}

impl Alerts {
    /// The service over the shared core.
    pub fn new(core: Core) -> Self {
        Self { core }
    }

    transactions!(AlertsTx);

    /// Reads every chain's new events and raises what the rules find; returns the
    /// alerts raised. Each chain is its own transaction.
    pub fn detect_threats(&self) -> Result<Vec<SecurityAlert>, DomainError> {
        let chains = self.tx(Scope::Platform, |tx| tx.chains_to_scan(500))?;
        let mut raised = Vec::new();
        for chain in chains {
            let scope = chain.clinic_id.map_or(Scope::Platform, Scope::Clinic);
            let found = self.tx(scope, |tx| {
                let Some(read) = tx.claim_chain_scan(chain.chain_id)? else {
                    return Ok(Vec::new());
                };
                let events = tx.chain_events(chain.chain_id, read, SCAN_BATCH)?;
                let Some(last) = events.last().map(|e| e.seq) else {
                    return Ok(Vec::new());
                };
                let alerts = self.apply_rules(tx, &chain, &events)?;
                tx.set_chain_scanned(chain.chain_id, last)?;
                Ok(alerts)
            })?;
            raised.extend(found);
        }
        Ok(raised)
    }

    /// Raises the backup watch's due alerts (`backup_watch`): a failed restore
    /// drill, or no verified backup for 26 hours. Platform alerts: stored and
    /// sent to the platform's webhook.
    pub fn watch_backups(&self) -> Result<Vec<SecurityAlert>, DomainError> {
        let now = self.core.now();
        self.tx(Scope::Platform, |tx| {
            let status = tx.backup_status()?;
            self.raise_platform(tx, super::backup_watch::due(&status, now))
        })
    }

    /// The secret watch's round: the ages of the secrets in use recorded, and
    /// an alert for each one past its rotation period (once per key).
    pub fn watch_secrets(&self) -> Result<Vec<SecurityAlert>, DomainError> {
        let ages = crate::secrets::Secrets::new(self.core.clone()).ages()?;
        self.tx(Scope::Platform, |tx| {
            self.raise_platform(tx, super::secret_watch::due(&ages))
        })
    }

    /// The sequencing watch's round: an alert for each chain whose events have
    /// waited past the bound for their positions (`audit_sequencing_late`).
    pub fn watch_sequencing(&self) -> Result<Vec<SecurityAlert>, DomainError> {
        let now = self.core.now();
        self.tx(Scope::Platform, |tx| {
            let waiting = tx.unsequenced_chains()?;
            self.raise_platform(tx, super::sequencing_watch::due(&waiting, now))
        })
    }

    /// Raises the incident watch's due alerts (`incident_deadline_overdue`):
    /// one per incident and deadline past due and not met. Platform alerts:
    /// stored and sent to the platform's webhook.
    pub fn watch_incidents(&self) -> Result<Vec<SecurityAlert>, DomainError> {
        let now = self.core.now();
        self.tx(Scope::Platform, |tx| {
            let incidents = tx.incidents()?;
            self.raise_platform(tx, super::incident_watch::due(&incidents, now))
        })
    }

    /// Stores each due platform alert not stored yet (by its key) and sends it.
    fn raise_platform(
        &self,
        tx: &mut dyn AlertsTx,
        dues: Vec<super::backup_watch::Due>,
    ) -> Result<Vec<SecurityAlert>, DomainError> {
        let now = self.core.now();
        let mut raised = Vec::new();
        for due in dues {
            let alert = SecurityAlert {
                id: self.core.new_id(),
                clinic_id: None,
                kind: due.rule.kind.to_owned(),
                subject: due.subject,
                dedup_key: due.dedup_key,
                event_count: 1,
                triggered_at: due.triggered_at,
                raised_at: now,
                details: json!({"description": due.rule.description}).to_string(),
            };
            if tx.insert_alert(&alert)? {
                self.notify_alert(tx, &alert, due.rule)?;
                raised.push(alert);
            }
        }
        Ok(raised)
    }

    fn apply_rules(
        &self,
        tx: &mut dyn AlertsTx,
        chain: &ChainHead,
        events: &[AuditEvent],
    ) -> Result<Vec<SecurityAlert>, DomainError> {
        let mut raised = Vec::new();
        for rule in RULES {
            // The latest matching event of each subject decides for its window.
            let mut latest: Vec<(String, &AuditEvent)> = Vec::new();
            for e in events
                .iter()
                .filter(|e| rule.actions.contains(&e.event.action.as_str()))
            {
                let Some(subject) = subject_of(rule, e) else {
                    continue;
                };
                match latest.iter_mut().find(|(s, _)| *s == subject) {
                    Some(slot) => slot.1 = e,
                    None => latest.push((subject, e)),
                }
            }
            for (subject, e) in latest {
                let at = e.event.occurred_at;
                let from = at - Duration::minutes(rule.window_minutes);
                let scope = match rule.by {
                    SubjectKind::ClientIp if e.event.clinic_id.is_none() => None,
                    _ => Some(chain.chain_id),
                };
                let count =
                    tx.count_subject_events(rule.actions, rule.by, &subject, scope, from, at)?;
                if count < rule.threshold {
                    continue;
                }
                let alert = SecurityAlert {
                    id: self.core.new_id(),
                    clinic_id: e.event.clinic_id,
                    kind: rule.kind.to_owned(),
                    dedup_key: window_key(rule, &subject, at),
                    subject,
                    event_count: count,
                    triggered_at: at,
                    raised_at: self.core.now(),
                    details: json!({"description": rule.description, "window_minutes": rule.window_minutes, "threshold": rule.threshold, "event_id": e.event.id}).to_string(),
                };
                if tx.insert_alert(&alert)? {
                    self.notify_alert(tx, &alert, rule)?;
                    raised.push(alert);
                }
            }
        }
        Ok(raised)
    }

    /// Emails the clinic's owners and administrators and queues the platform
    /// webhook (when one is configured). No health data: the kind, the subject and
    /// counts only.
    fn notify_alert(
        &self,
        tx: &mut dyn AlertsTx,
        alert: &SecurityAlert,
        rule: &Rule,
    ) -> Result<(), DomainError> {
        if let Some(clinic) = alert.clinic_id {
            let name = tx.clinic(clinic)?.map(|c| c.name).unwrap_or_default();
            let admins = tx
                .members(clinic)?
                .into_iter()
                .filter(|m| m.active && matches!(m.role, Role::Owner | Role::Administrator));
            for admin in admins {
                self.core.email(
                    tx,
                    &admin.email,
                    &format!("Salus security alert: {}", rule.kind),
                    format!(
                        "A security alert was raised for {name}.\n\n{}\n{} events in {} minutes (subject: {}).\n\nReview it with GET {}/api/v1/security-alerts.\n",
                        rule.description,
                        alert.event_count,
                        rule.window_minutes,
                        alert.subject,
                        self.core.settings().public_url
                    ),
                )?;
            }
        }
        if self.core.settings().alert_webhook {
            let body = json!({
                "alert_id": alert.id, "kind": alert.kind, "clinic_id": alert.clinic_id,
                "subject": alert.subject, "event_count": alert.event_count,
                "triggered_at": alert.triggered_at, "raised_at": alert.raised_at,
            });
            tx.enqueue(&NewMessage {
                id: self.core.new_id(),
                channel: Channel::Webhook,
                recipient: "platform".to_owned(),
                subject: format!("security alert: {}", alert.kind),
                body: body.to_string(),
                created_at: self.core.now(),
                available_at: self.core.now(),
            })?;
        }
        Ok(())
    }

    /// The clinic's security alerts, newest first (`audit.read`).
    pub fn security_alerts(
        &self,
        actor: &Actor,
        before: Option<AlertKey>,
        limit: i64,
    ) -> Result<Page<SecurityAlert, AlertKey>, DomainError> {
        actor.require(Permission::AuditRead)?;
        self.tx(Scope::Clinic(actor.clinic_id), |tx| {
            tx.alerts(actor.clinic_id, before, limit.clamp(1, MAX_PAGE))
        })
    }
}
