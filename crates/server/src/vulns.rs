//! `salus vuln import|list|fix|accept`: known vulnerabilities of the platform's
//! dependencies and their remediation deadlines (promise N3), as a CI job and
//! an operator meet them. They run over the services of the API role
//! (`DATABASE_URL`), like the other operator commands; the rules, the storage
//! and the platform audit events are the domain's (`salus_domain::vulns`).
//! Each writes what it did to `out` and returns the exit code.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use salus_domain::DomainError;
use salus_domain::ids::VulnerabilityId;
use salus_domain::services::Services;
use salus_domain::vulns::model::{Finding, Resolution, Standing};
use salus_domain::vulns::report;
use serde_json::json;

use crate::clock::short;

/// What `salus vuln list` shows.
#[derive(Debug, Clone, Copy, Default)]
pub struct ListOptions {
    /// Only the overdue findings; the exit code is 1 when there is one.
    pub overdue: bool,
    /// The fixed findings too.
    pub all: bool,
    /// JSON instead of a table.
    pub json: bool,
}

/// The moment an acceptance `--until DATE` ends: the end of that day (UTC).
pub fn end_of(date: NaiveDate) -> Option<DateTime<Utc>> {
    date.checked_add_days(chrono::Days::new(1))
        .map(|next| next.and_time(NaiveTime::MIN).and_utc())
}

/// The error of a refused change, with what the domain says about it.
fn refused(e: DomainError) -> anyhow::Error {
    match e {
        DomainError::Invalid(problems) => anyhow::anyhow!(
            "{}",
            problems
                .iter()
                .map(|p| format!("{}: {}", p.field, p.message))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        DomainError::NotFound => anyhow::anyhow!("no such finding"),
        DomainError::Conflict { detail, .. } => anyhow::anyhow!("{detail}"),
        other => anyhow::anyhow!("{other:?}"),
    }
}

/// `salus vuln import FILE`: reads a cargo-deny or cargo-audit report and
/// records its findings; names the open ones it did not hold (they stay open).
pub fn import(services: &Services, file: &Path, out: &mut dyn Write) -> anyhow::Result<ExitCode> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let report = report::parse(&text).with_context(|| format!("{}", file.display()))?;
    let done = services
        .vulns
        .import(&report)
        .map_err(refused)
        .with_context(|| format!("{} was not imported", file.display()))?;
    writeln!(
        out,
        "salus: imported the {} report {}: {} finding(s), {} new, {} seen again, {} reopened, {} re-scored",
        report.source.as_str(),
        file.display(),
        done.reported,
        done.new,
        done.seen_again,
        done.reopened,
        done.rescored
    )?;
    if !done.not_reported.is_empty() {
        writeln!(
            out,
            "salus: {} finding(s) not in this report stay as they are; once a commit fixed one, \
             say so: salus vuln fix ID --commit SHA --operator EMAIL",
            done.not_reported.len()
        )?;
        let now = services.now();
        for finding in &done.not_reported {
            writeln!(out, "  {}", row(finding, now))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `salus vuln list`: the findings not fixed (all with `all`; only the overdue
/// ones with `overdue`, and then exit code 1 when there is any), the earliest
/// deadline first, as a table or JSON.
pub fn list(
    services: &Services,
    options: ListOptions,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let now = services.now();
    let findings: Vec<Finding> = services
        .vulns
        .findings(options.all)
        .map_err(refused)?
        .into_iter()
        .filter(|f| !options.overdue || f.standing(now) == Standing::Overdue)
        .collect();
    if options.json {
        let items: Vec<_> = findings.iter().map(|f| as_json(f, now)).collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&items)?)?;
    } else {
        writeln!(
            out,
            "id\tadvisory\tpackage\tversion\tband\tscore\tstatus\tdeadline (UTC)\ttime"
        )?;
        for finding in &findings {
            writeln!(out, "{}", row(finding, now))?;
        }
        let overdue = findings
            .iter()
            .filter(|f| f.standing(now) == Standing::Overdue)
            .count();
        writeln!(
            out,
            "salus: {} finding(s), {overdue} overdue",
            findings.len()
        )?;
    }
    Ok(if options.overdue && !findings.is_empty() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// `salus vuln fix ID --commit SHA --operator EMAIL`.
pub fn fix(
    services: &Services,
    id: uuid::Uuid,
    commit: &str,
    operator: &str,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let finding = services
        .vulns
        .fix(VulnerabilityId(id), commit, operator)
        .map_err(refused)
        .with_context(|| format!("finding {id} was not marked fixed"))?;
    if let Resolution::Fixed { commit, .. } = &finding.resolution {
        writeln!(
            out,
            "salus: {} of {} {} is fixed by commit {commit}",
            finding.advisory_id, finding.package, finding.version
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `salus vuln accept ID --reason TEXT --until DATE --operator EMAIL`: the
/// acceptance lasts to the end of DATE (UTC).
pub fn accept(
    services: &Services,
    id: uuid::Uuid,
    reason: &str,
    until: NaiveDate,
    operator: &str,
    out: &mut dyn Write,
) -> anyhow::Result<ExitCode> {
    let until = end_of(until).context("--until is too far in the future")?;
    let finding = services
        .vulns
        .accept(VulnerabilityId(id), reason, until, operator)
        .map_err(refused)
        .with_context(|| format!("finding {id} was not accepted"))?;
    writeln!(
        out,
        "salus: {} of {} {} is accepted until {}; then it counts as open again{}",
        finding.advisory_id,
        finding.package,
        finding.version,
        until.to_rfc3339(),
        if until > finding.due_at {
            ", past its deadline"
        } else {
            ""
        }
    )?;
    Ok(ExitCode::SUCCESS)
}

/// The time to a finding's deadline, or past it.
fn time_left(finding: &Finding, now: DateTime<Utc>) -> String {
    match finding.standing(now) {
        Standing::Fixed => String::new(),
        Standing::Overdue => format!("overdue by {}", short(now - finding.due_at)),
        Standing::Open | Standing::Accepted => format!("{} left", short(finding.due_at - now)),
    }
}

fn row(f: &Finding, now: DateTime<Utc>) -> String {
    let status = match &f.resolution {
        Resolution::Accepted { until, .. } if *until <= now => "accepted (ended)".to_owned(),
        Resolution::Accepted { until, .. } => {
            format!("accepted until {}", until.format("%Y-%m-%d %H:%M"))
        }
        other => other.status().to_owned(),
    };
    format!(
        "{}\t{}\t{}\t{}\t{}\t{}\t{status}\t{}\t{}",
        f.id,
        f.advisory_id,
        f.package,
        f.version,
        f.severity.band.as_str(),
        f.severity
            .score
            .map_or_else(|| "-".to_owned(), |s| format!("{s:.1}")),
        f.due_at.format("%Y-%m-%d %H:%M"),
        time_left(f, now)
    )
}

fn as_json(f: &Finding, now: DateTime<Utc>) -> serde_json::Value {
    let mut item = json!({
        "id": f.id,
        "advisory_id": f.advisory_id,
        "package": f.package,
        "version": f.version,
        "title": f.title,
        "kind": f.kind.as_str(),
        "cvss_vector": f.severity.vector,
        "cvss_score": f.severity.score,
        "band": f.severity.band.as_str(),
        "source": f.source.as_str(),
        "first_seen": f.first_seen.to_rfc3339(),
        "last_seen": f.last_seen.to_rfc3339(),
        "due_at": f.due_at.to_rfc3339(),
        "status": f.resolution.status(),
        "standing": f.standing(now).as_str(),
        "seconds_left": (f.due_at - now).num_seconds(),
    });
    if let Resolution::Fixed { commit, .. } = &f.resolution {
        item["fixed_commit"] = json!(commit);
    }
    if let Resolution::Accepted { reason, until, .. } = &f.resolution {
        item["accepted_reason"] = json!(reason);
        item["accepted_until"] = json!(until.to_rfc3339());
    }
    if let Some((by, at)) = f.resolution.resolved() {
        item["resolved_by"] = json!(by);
        item["resolved_at"] = json!(at.to_rfc3339());
    }
    item
}
