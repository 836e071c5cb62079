//! The server's metrics: request counts and latency by route pattern,
//! authentication failures and security alerts, rendered in the Prometheus text
//! format (0.0.4) for the metrics listener.
//!
//! Each server has its own registry (no global one), so servers in one process, as
//! in the tests, never share counts. Labels only ever take values from bounded sets
//! chosen by the code (route patterns, method and reason names), never request data.

use std::time::Duration;

use chrono::{DateTime, Utc};
use prometheus::core::Collector;
use prometheus::{
    Gauge, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};
use salus_domain::ports::alerts::BackupStatus;
use salus_domain::ports::audit::Waiting;
use salus_domain::secrets::SecretAge;
use salus_domain::vulns::model::Tally;

/// The `Content-Type` of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The reasons [`Metrics::auth_failed`] counts under, created at zero.
pub const AUTH_FAILURE_REASONS: [&str; 4] =
    ["login_failed", "mfa_failed", "rate_limited", "unauthorized"];

/// The metrics of one server: a cheap handle to share (clones count into the same
/// registry).
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    durations: HistogramVec,
    auth_failures: IntCounterVec,
    alerts: IntCounterVec,
}

impl Metrics {
    /// A registry holding every metric, all at zero.
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "salus_http_requests_total",
                "Requests answered, by method, route pattern and status.",
            ),
            &["method", "route", "status"],
        )?;
        let durations = HistogramVec::new(
            HistogramOpts::new(
                "salus_http_request_duration_seconds",
                "Time from a request's arrival to its response head, by method and route pattern.",
            ),
            &["method", "route"],
        )?;
        let auth_failures = IntCounterVec::new(
            Opts::new(
                "salus_auth_failures_total",
                "Authentication failures: refused sign-ins and MFA codes, rate-limited \
                 attempts, and other 401 answers.",
            ),
            &["reason"],
        )?;
        let alerts = IntCounterVec::new(
            Opts::new(
                "salus_security_alerts_raised_total",
                "Security alerts raised by the detectors, by kind.",
            ),
            &["kind"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(durations.clone()))?;
        registry.register(Box::new(auth_failures.clone()))?;
        registry.register(Box::new(alerts.clone()))?;
        for reason in AUTH_FAILURE_REASONS {
            auth_failures.with_label_values(&[reason]);
        }
        Ok(Self {
            registry,
            requests,
            durations,
            auth_failures,
            alerts,
        })
    }

    /// Counts and times one answered request. `route` is the matched route
    /// pattern (`/api/v1/patients/{id}`), never the path itself.
    pub fn request_finished(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        self.requests
            .with_label_values(&[method, route, &status.to_string()])
            .inc();
        self.durations
            .with_label_values(&[method, route])
            .observe(elapsed.as_secs_f64());
    }

    /// Counts one authentication failure (one of [`AUTH_FAILURE_REASONS`]).
    pub fn auth_failed(&self, reason: &'static str) {
        self.auth_failures.with_label_values(&[reason]).inc();
    }

    /// Counts one security alert of `kind` (a name from the code, such as
    /// `"brute_force"`; `'static` so it cannot come from request data).
    pub fn alert_raised(&self, kind: &'static str) {
        self.alerts.with_label_values(&[kind]).inc();
    }

    /// Every metric in the text format, with the readings taken at scrape time:
    /// `salus_outbox_backlog` when the database answered, `salus_database_up`
    /// saying whether it did, the backup gauges where backups are recorded, and
    /// the known vulnerabilities open and overdue by band (every band, zeros
    /// included) when they could be read.
    pub fn render(&self, readings: &Readings) -> Result<String, prometheus::Error> {
        let outbox_backlog = readings.outbox_backlog;
        let mut families = self.registry.gather();
        let up = IntGauge::new(
            "salus_database_up",
            "1 when this scrape's database query succeeded, else 0.",
        )?;
        up.set(i64::from(outbox_backlog.is_some()));
        families.extend(up.collect());
        if let Some(backlog) = outbox_backlog {
            let gauge = IntGauge::new(
                "salus_outbox_backlog",
                "Outbox messages that should have been delivered by now: due or waiting \
                 for a retry (reminders scheduled for later are not counted).",
            )?;
            gauge.set(backlog);
            families.extend(gauge.collect());
        }
        if let Some(backups) = &readings.backups {
            for (name, help, value) in backup_gauges(backups, readings.now) {
                if let Some(value) = value {
                    let gauge = Gauge::new(name, help)?;
                    gauge.set(value);
                    families.extend(gauge.collect());
                }
            }
        }
        if let Some(tally) = &readings.vulnerabilities {
            families.extend(vulnerability_gauges(tally)?);
        }
        if let Some(ages) = &readings.secrets {
            families.extend(secret_gauges(ages)?);
        }
        if let Some(overdue) = readings.incident_deadlines_overdue {
            let gauge = IntGauge::new(
                "salus_incident_deadline_overdue",
                "Deadlines of incidents not closed that are past due and not met (a P1's \
                 clinics within 4 hours; a breach's clinics and authority within 72 hours).",
            )?;
            gauge.set(i64::try_from(overdue).unwrap_or(i64::MAX));
            families.extend(gauge.collect());
        }
        if let Some(waiting) = &readings.audit_waiting {
            let events = IntGauge::new(
                "salus_audit_events_waiting",
                "Audit events recorded but not yet given their chain position by the \
                 sequencer (normally a second's worth at most).",
            )?;
            events.set(waiting.iter().map(|w| w.events).sum());
            families.extend(events.collect());
            let oldest = Gauge::new(
                "salus_audit_oldest_waiting_seconds",
                "How long the oldest audit event without a chain position has waited \
                 (an alert past 30 seconds).",
            )?;
            oldest.set(
                waiting
                    .iter()
                    .map(|w| (readings.now - w.oldest).num_milliseconds())
                    .max()
                    .map_or(0.0, |ms| ms.max(0) as f64 / 1000.0),
            );
            families.extend(oldest.collect());
        }
        let mut text = String::new();
        TextEncoder::new().encode_utf8(&families, &mut text)?;
        Ok(text)
    }
}

/// What a scrape reads from the database.
#[derive(Debug, Clone)]
pub struct Readings {
    /// The outbox backlog (none: the database did not answer).
    pub outbox_backlog: Option<i64>,
    /// Backups as the platform audit chain records them.
    pub backups: Option<BackupStatus>,
    /// Known vulnerabilities open and overdue by band, at the scrape's time.
    pub vulnerabilities: Option<Tally>,
    /// The ages of the secrets and keys in use.
    pub secrets: Option<Vec<SecretAge>>,
    /// The incidents' deadlines overdue at the scrape's time.
    pub incident_deadlines_overdue: Option<usize>,
    /// The audit chains whose events wait for their positions.
    pub audit_waiting: Option<Vec<Waiting>>,
    /// The scrape's time.
    pub now: DateTime<Utc>,
}

/// `salus_vulnerabilities_open` and `salus_vulnerabilities_overdue`, one series
/// per band.
fn vulnerability_gauges(
    tally: &Tally,
) -> Result<Vec<prometheus::proto::MetricFamily>, prometheus::Error> {
    let open = IntGaugeVec::new(
        Opts::new(
            "salus_vulnerabilities_open",
            "Known vulnerabilities of the dependencies not fixed nor accepted (an \
             acceptance past its end counts as open), by band.",
        ),
        &["band"],
    )?;
    let overdue = IntGaugeVec::new(
        Opts::new(
            "salus_vulnerabilities_overdue",
            "Open known vulnerabilities past their remediation deadline, by band.",
        ),
        &["band"],
    )?;
    for (band, opened, late) in tally.by_band() {
        open.with_label_values(&[band.as_str()]).set(opened);
        overdue.with_label_values(&[band.as_str()]).set(late);
    }
    let mut families = open.collect();
    families.extend(overdue.collect());
    Ok(families)
}

/// `salus_secret_age_seconds` (the oldest of each kind) and
/// `salus_secrets_overdue` (how many of each kind are past their rotation
/// period), one series per kind in use.
fn secret_gauges(
    ages: &[SecretAge],
) -> Result<Vec<prometheus::proto::MetricFamily>, prometheus::Error> {
    let age = GaugeVec::new(
        Opts::new(
            "salus_secret_age_seconds",
            "Age of the oldest secret or key of each kind in use (a ring's signing or \
             sealing key), against the rotation periods of `salus keys report`.",
        ),
        &["kind"],
    )?;
    let overdue = IntGaugeVec::new(
        Opts::new(
            "salus_secrets_overdue",
            "Secrets or keys of each kind in use past their rotation period.",
        ),
        &["kind"],
    )?;
    for secret in ages {
        let kind = secret.kind.as_str();
        let oldest = age.with_label_values(&[kind]);
        oldest.set(oldest.get().max(seconds(secret.age)));
        overdue
            .with_label_values(&[kind])
            .add(i64::from(secret.overdue()));
    }
    let mut families = age.collect();
    families.extend(overdue.collect());
    Ok(families)
}

fn seconds(d: chrono::Duration) -> f64 {
    d.num_milliseconds() as f64 / 1000.0
}

/// The backup gauges: name, help and value (none: nothing recorded yet).
fn backup_gauges(
    b: &BackupStatus,
    now: DateTime<Utc>,
) -> [(&'static str, &'static str, Option<f64>); 4] {
    let verified = b.last_verified.as_ref();
    [
        (
            "salus_backup_last_success_age_seconds",
            "Seconds since the last successful backup (`salus backup run`).",
            b.last_taken.map(|t| seconds(now - t)),
        ),
        (
            "salus_backup_last_verified_age_seconds",
            "Age in seconds of the newest backup that passed a restore drill.",
            verified.map(|v| seconds(now - v.backup_stopped.unwrap_or(v.at))),
        ),
        (
            "salus_backup_rpo_seconds",
            "Seconds of WAL written and not yet archived: what a loss of the cluster now would lose.",
            b.archive_lag_seconds,
        ),
        (
            "salus_restore_seconds",
            "Restore time (restore, start and recovery of the copy) measured by the last passed drill.",
            verified.and_then(|v| v.restore_seconds),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{Metrics, Readings};

    fn readings(outbox_backlog: Option<i64>) -> Readings {
        Readings {
            outbox_backlog,
            backups: None,
            vulnerabilities: None,
            secrets: None,
            incident_deadlines_overdue: None,
            audit_waiting: None,
            now: chrono::Utc::now(),
        }
    }

    fn line<'a>(text: &'a str, series: &str) -> Option<&'a str> {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
    }

    #[test]
    fn alerts_are_counted_by_kind() {
        let metrics = Metrics::new().unwrap();
        metrics.alert_raised("brute_force");
        metrics.alert_raised("brute_force");
        metrics.alert_raised("token_reuse");
        let text = metrics.render(&readings(None)).unwrap();
        let kind = |k: &str| {
            line(
                &text,
                &format!("salus_security_alerts_raised_total{{kind=\"{k}\"}}"),
            )
        };
        assert_eq!(kind("brute_force"), Some("2"), "{text}");
        assert_eq!(kind("token_reuse"), Some("1"), "{text}");
        assert_eq!(kind("mass_export"), None, "{text}");
    }

    #[test]
    fn registries_are_separate_and_auth_reasons_start_at_zero() {
        let first = Metrics::new().unwrap();
        let second = Metrics::new().unwrap();
        first.auth_failed("login_failed");
        first.request_finished("GET", "/health/live", 200, Duration::from_millis(3));
        let text = second.render(&readings(Some(0))).unwrap();
        assert_eq!(
            line(&text, "salus_auth_failures_total{reason=\"login_failed\"}"),
            Some("0"),
            "{text}"
        );
        assert!(!text.contains("/health/live"), "{text}");
        let text = first.render(&readings(Some(0))).unwrap();
        assert_eq!(
            line(&text, "salus_auth_failures_total{reason=\"login_failed\"}"),
            Some("1"),
            "{text}"
        );
        assert_eq!(
            line(
                &text,
                "salus_http_request_duration_seconds_bucket{method=\"GET\",route=\"/health/live\",le=\"0.005\"}"
            ),
            Some("1"),
            "{text}"
        );
    }

    #[test]
    fn the_backlog_is_left_out_when_the_database_did_not_answer() {
        let metrics = Metrics::new().unwrap();
        let text = metrics.render(&readings(Some(7))).unwrap();
        assert_eq!(line(&text, "salus_outbox_backlog"), Some("7"), "{text}");
        assert_eq!(line(&text, "salus_database_up"), Some("1"), "{text}");
        let text = metrics.render(&readings(None)).unwrap();
        assert_eq!(line(&text, "salus_outbox_backlog"), None, "{text}");
        assert_eq!(line(&text, "salus_database_up"), Some("0"), "{text}");
    }
}
