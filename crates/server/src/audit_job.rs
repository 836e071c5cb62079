//! The audit job every node runs: give waiting events their positions, seal
//! each chain's head in a signed checkpoint,
//! purge what is past retention, look for threats (`audit::alerts`) and watch
//! the backups (`audit::backup_watch`), and tell the managers of service
//! accounts that end within 14 days (`integrations`). Work is
//! claimed with `FOR UPDATE SKIP LOCKED`, so nodes share it without coordinating.
//! Detectors run first, so an alert follows its event within one round.

use std::sync::Arc;
use std::time::Duration;

use salus_domain::DomainError;
use salus_domain::audit::alerts::RULES;
use salus_domain::audit::backup_watch::BACKUP_RULES;
use salus_domain::audit::incident_watch::INCIDENT_RULES;
use salus_domain::audit::secret_watch::SECRET_RULES;
use salus_domain::audit::sequencing_watch::SEQUENCING_RULES;
use salus_domain::ports::alerts::SecurityAlert;
use salus_domain::services::Services;
use salus_http::metrics::Metrics;

/// What one round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoundReport {
    /// Chains sealed or purged.
    pub chains: usize,
    /// Events removed by retention.
    pub purged: i64,
    /// Alerts the detectors raised.
    pub alerts: Vec<SecurityAlert>,
    /// Service accounts whose managers were told they end within 14 days.
    pub ending_notices: usize,
}

/// One round of the job (also what tests drive, with a hand-moved clock).
pub fn audit_round(services: &Services) -> Result<RoundReport, DomainError> {
    // Events left waiting past the bound mean the sequencer job is stopped or
    // failing: seen before this round sequences them. The detectors and the
    // seals read positioned events, so every waiting event takes its position
    // next; a failure there is logged and the rest of the round goes on.
    let mut alerts = services.alerts.watch_sequencing()?;
    if let Err(e) = services.audit.sequence_everything() {
        tracing::warn!(error = %e, "the audit round could not sequence the waiting events");
    }
    alerts.extend(services.alerts.detect_threats()?);
    alerts.extend(services.alerts.watch_backups()?);
    alerts.extend(services.alerts.watch_secrets()?);
    alerts.extend(services.alerts.watch_incidents()?);
    let turns = services.audit.maintain_audit_chains()?;
    let ending_notices = services.integrations.notify_ending()?;
    Ok(RoundReport {
        ending_notices,
        chains: turns.len(),
        purged: turns.iter().map(|t| t.purged).sum(),
        alerts,
    })
}

/// Counts raised alerts by kind (kinds are the rules' own names).
pub fn count_alerts(metrics: &Metrics, alerts: &[SecurityAlert]) {
    for alert in alerts {
        if let Some(rule) = RULES
            .iter()
            .chain(BACKUP_RULES)
            .chain(SECRET_RULES)
            .chain(INCIDENT_RULES)
            .chain(SEQUENCING_RULES)
            .find(|r| r.kind == alert.kind)
        {
            metrics.alert_raised(rule.kind);
        }
    }
}

/// Runs a round every `every` until the process ends.
pub fn spawn_audit_job(services: Arc<Services>, metrics: Metrics, every: Duration) {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        loop {
            ticker.tick().await;
            let services = services.clone();
            match tokio::task::spawn_blocking(move || audit_round(&services)).await {
                Ok(Ok(r)) if r.chains == 0 && r.alerts.is_empty() => {}
                Ok(Ok(r)) => {
                    count_alerts(&metrics, &r.alerts);
                    for alert in &r.alerts {
                        tracing::warn!(kind = %alert.kind, alert_id = %alert.id, "security alert raised");
                    }
                    tracing::info!(chains = r.chains, purged = r.purged, "audit job round");
                }
                Ok(Err(e)) => tracing::warn!(error = %e, "audit job round failed"),
                Err(e) => tracing::error!(error = %e, "audit job round panicked"),
            }
        }
    });
}
