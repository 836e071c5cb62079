//! Known vulnerabilities of the platform's dependencies and their remediation
//! deadlines (promise N3). A scanner's report (cargo-deny or cargo-audit, from a
//! CI run) is imported: each advisory, package and version becomes one finding,
//! scored from its CVSS vector, given the deadline of its band from the moment
//! it was first seen, and kept; importing again only records that it was seen,
//! and a finding a later report leaves out stays as it is (only an operator
//! closes one, fixed with the commit or accepted until a date). Every change is
//! an event of the platform audit chain, in the transaction that makes it.

pub mod model;
pub mod report;

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use crate::DomainError;
use crate::audit::actions;
use crate::audit::chain::stored_time;
use crate::audit::record::AuditRecord;
use crate::identity::model::ClientInfo;
use crate::ids::VulnerabilityId;
use crate::shared::{Core, transactions};
use crate::store::{Scope, VulnsTx};
use model::{Finding, Reported, Resolution, Severity, Source};
use report::Report;

/// The longest title kept (longer ones are cut).
const TITLE_CHARS: usize = 500;
/// The longest acceptance reason.
const REASON_CHARS: usize = 1000;

/// One finding of a report, as an import sees it.
struct Sighting<'a> {
    reported: &'a Reported,
    severity: Severity,
    source: Source,
    now: DateTime<Utc>,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Imported {
    /// Distinct findings the report held.
    pub reported: usize,
    /// Findings recorded for the first time.
    pub new: usize,
    /// Findings recorded before and reported again.
    pub seen_again: usize,
    /// Findings marked fixed that the report still holds: open again.
    pub reopened: usize,
    /// Findings reported in another band than before.
    pub rescored: usize,
    /// Findings not fixed that the report did not hold: left as they are,
    /// for an operator to mark fixed.
    pub not_reported: Vec<Finding>,
}

/// Known vulnerabilities: imports, the list, fixes and acceptances.
#[derive(Clone)]
pub struct Vulnerabilities {
    core: Core,
}

impl Vulnerabilities {
    /// The service over the shared core.
    pub fn new(core: Core) -> Self {
        Self { core }
    }

    transactions!(VulnsTx);

    /// Records a scanner's report in one transaction: new findings with their
    /// deadline (first seen now plus their band's remediation time), findings
    /// already recorded seen again (their deadline still counted from their
    /// first sighting), and one `vulnerability.imported` event.
    pub fn import(&self, report: &Report) -> Result<Imported, DomainError> {
        let now = stored_time(self.core.now());
        let client = command("salus vuln import");
        self.tx(Scope::Platform, |tx| {
            let mut done = Imported::default();
            let mut seen = HashSet::new();
            for reported in &report.findings {
                let key = (&reported.advisory_id, &reported.package, &reported.version);
                if !seen.insert(key) {
                    continue;
                }
                let sighting = Sighting {
                    severity: assess(reported)?,
                    reported,
                    source: report.source,
                    now,
                };
                let existing = tx.lock_vulnerability_of(
                    &reported.advisory_id,
                    &reported.package,
                    &reported.version,
                )?;
                match existing {
                    None => {
                        self.found(tx, sighting, &client)?;
                        done.new += 1;
                    }
                    Some(finding) => {
                        let (rescored, reopened) =
                            self.seen_again(tx, finding, sighting, &client)?;
                        done.seen_again += 1;
                        done.rescored += usize::from(rescored);
                        done.reopened += usize::from(reopened);
                    }
                }
            }
            done.reported = seen.len();
            done.not_reported = tx
                .vulnerabilities(false)?
                .into_iter()
                .filter(|f| !seen.contains(&(&f.advisory_id, &f.package, &f.version)))
                .collect();
            let record = AuditRecord::account(actions::VULNERABILITY_IMPORTED, None)
                .detail("source", report.source.as_str())
                .detail("reported", done.reported)
                .detail("new", done.new)
                .detail("seen_again", done.seen_again)
                .detail("reopened", done.reopened)
                .detail("rescored", done.rescored)
                .detail("not_reported", done.not_reported.len());
            self.core.audit(tx, record, &client)?;
            Ok(done)
        })
    }

    /// Records a finding seen for the first time: due its band's remediation
    /// time from now.
    fn found(
        &self,
        tx: &mut dyn VulnsTx,
        sighting: Sighting<'_>,
        client: &ClientInfo,
    ) -> Result<(), DomainError> {
        let Sighting {
            reported,
            severity,
            source,
            now,
        } = sighting;
        let finding = Finding {
            id: self.core.new_id(),
            advisory_id: reported.advisory_id.clone(),
            package: reported.package.clone(),
            version: reported.version.clone(),
            title: title(&reported.title),
            kind: reported.kind,
            due_at: now + severity.band.remediation(),
            severity,
            source,
            first_seen: now,
            last_seen: now,
            resolution: Resolution::Open,
        };
        tx.insert_vulnerability(&finding)?;
        let record = about(actions::VULNERABILITY_FOUND, &finding)
            .detail("kind", finding.kind.as_str())
            .detail("cvss_vector", finding.severity.vector.clone())
            .detail("cvss_score", finding.severity.score)
            .detail("band", finding.severity.band.as_str())
            .detail("due_at", finding.due_at.to_rfc3339());
        self.core.audit(tx, record, client)
    }

    /// Records that a finding was reported again: what the report says of it
    /// now, its deadline counted from its first sighting (in its band as
    /// reported now), and a fixed one reopened. Whether it was re-scored into
    /// another band, and whether it was reopened.
    fn seen_again(
        &self,
        tx: &mut dyn VulnsTx,
        mut finding: Finding,
        sighting: Sighting<'_>,
        client: &ClientInfo,
    ) -> Result<(bool, bool), DomainError> {
        let before = finding.severity.band;
        finding.title = title(&sighting.reported.title);
        finding.kind = sighting.reported.kind;
        finding.due_at = finding.first_seen + sighting.severity.band.remediation();
        finding.severity = sighting.severity;
        finding.source = sighting.source;
        finding.last_seen = sighting.now;
        let fixed = match &finding.resolution {
            Resolution::Fixed { commit, by, .. } => Some((commit.clone(), by.clone())),
            Resolution::Open | Resolution::Accepted { .. } => None,
        };
        if fixed.is_some() {
            finding.resolution = Resolution::Open;
        }
        tx.update_vulnerability(&finding)?;
        let rescored = before != finding.severity.band;
        if rescored {
            let record = about(actions::VULNERABILITY_RESCORED, &finding)
                .detail("from", before.as_str())
                .detail("to", finding.severity.band.as_str())
                .detail("cvss_vector", finding.severity.vector.clone())
                .detail("due_at", finding.due_at.to_rfc3339());
            self.core.audit(tx, record, client)?;
        }
        let reopened = fixed.is_some();
        if let Some((commit, by)) = fixed {
            let record = about(actions::VULNERABILITY_REOPENED, &finding)
                .detail("fixed_commit", commit)
                .detail("fixed_by", by)
                .detail("due_at", finding.due_at.to_rfc3339());
            self.core.audit(tx, record, client)?;
        }
        Ok((rescored, reopened))
    }

    /// Every finding not fixed (and the fixed ones too when `fixed`), the
    /// earliest deadline first.
    pub fn findings(&self, fixed: bool) -> Result<Vec<Finding>, DomainError> {
        self.tx(Scope::Platform, |tx| tx.vulnerabilities(fixed))
    }

    /// Marks a finding fixed by `commit` (a git commit id, 7 to 64 hex digits),
    /// as `operator` (an email address). Marking it fixed again by the same
    /// commit changes nothing; by another is a conflict.
    pub fn fix(
        &self,
        id: VulnerabilityId,
        commit: &str,
        operator: &str,
    ) -> Result<Finding, DomainError> {
        operator_address(operator)?;
        let commit = commit.trim().to_ascii_lowercase();
        if !(7..=64).contains(&commit.len()) || !commit.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(DomainError::invalid(
                "commit",
                "invalid",
                "must be a git commit id: 7 to 64 hexadecimal digits",
            ));
        }
        let now = stored_time(self.core.now());
        self.tx(Scope::Platform, |tx| {
            let mut finding = tx.lock_vulnerability(id)?.ok_or(DomainError::NotFound)?;
            if let Resolution::Fixed { commit: by, .. } = &finding.resolution {
                if *by == commit {
                    return Ok(finding);
                }
                return Err(already_fixed(&finding));
            }
            let was = finding.standing(now);
            finding.resolution = Resolution::Fixed {
                commit: commit.clone(),
                by: operator.to_owned(),
                at: now,
            };
            tx.update_vulnerability(&finding)?;
            let record = about(actions::VULNERABILITY_FIXED, &finding)
                .detail("commit", commit.clone())
                .detail("operator", operator)
                .detail("was", was.as_str())
                .detail("within_deadline", now <= finding.due_at);
            self.core.audit(tx, record, &command("salus vuln fix"))?;
            Ok(finding)
        })
    }

    /// Accepts a finding as a risk until `until` (in the future), for `reason`,
    /// as `operator` (an email address). Once `until` passes it counts as open
    /// again, and overdue past its deadline. Accepting again replaces the
    /// acceptance; a fixed finding cannot be accepted.
    pub fn accept(
        &self,
        id: VulnerabilityId,
        reason: &str,
        until: DateTime<Utc>,
        operator: &str,
    ) -> Result<Finding, DomainError> {
        operator_address(operator)?;
        let reason = reason.trim();
        if reason.is_empty()
            || reason.chars().count() > REASON_CHARS
            || reason.chars().any(char::is_control)
        {
            return Err(DomainError::invalid(
                "reason",
                "length",
                format!("must be 1 to {REASON_CHARS} characters of one line"),
            ));
        }
        let now = stored_time(self.core.now());
        if until <= now {
            return Err(DomainError::invalid(
                "until",
                "range",
                "must be in the future",
            ));
        }
        self.tx(Scope::Platform, |tx| {
            let mut finding = tx.lock_vulnerability(id)?.ok_or(DomainError::NotFound)?;
            if matches!(finding.resolution, Resolution::Fixed { .. }) {
                return Err(already_fixed(&finding));
            }
            let was = finding.standing(now);
            finding.resolution = Resolution::Accepted {
                reason: reason.to_owned(),
                until,
                by: operator.to_owned(),
                at: now,
            };
            tx.update_vulnerability(&finding)?;
            let record = about(actions::VULNERABILITY_ACCEPTED, &finding)
                .detail("reason", reason)
                .detail("until", until.to_rfc3339())
                .detail("operator", operator)
                .detail("was", was.as_str());
            self.core.audit(tx, record, &command("salus vuln accept"))?;
            Ok(finding)
        })
    }
}

/// A platform event about a finding, naming it.
fn about(action: &'static str, finding: &Finding) -> AuditRecord {
    AuditRecord::account(action, None)
        .on("vulnerability", finding.id)
        .detail("advisory", finding.advisory_id.clone())
        .detail("package", finding.package.clone())
        .detail("version", finding.version.clone())
}

/// The command line standing as the client of an operator's action.
fn command(line: &str) -> ClientInfo {
    ClientInfo {
        user_agent: Some(line.to_owned()),
        ..ClientInfo::default()
    }
}

fn operator_address(operator: &str) -> Result<(), DomainError> {
    if crate::formats::is_email(operator) {
        Ok(())
    } else {
        Err(DomainError::invalid(
            "operator",
            "email",
            "must be the operator's email address",
        ))
    }
}

fn already_fixed(finding: &Finding) -> DomainError {
    DomainError::Conflict {
        code: "conflict",
        detail: format!(
            "{} of {} {} is marked fixed already",
            finding.advisory_id, finding.package, finding.version
        ),
    }
}

fn title(text: &str) -> String {
    text.chars().take(TITLE_CHARS).collect()
}

/// A reported finding's severity, after checking what the table stores of it.
fn assess(reported: &Reported) -> Result<Severity, DomainError> {
    let id = &reported.advisory_id;
    let name = |s: &str, most: usize| !s.is_empty() && s.chars().count() <= most;
    let problem = if !name(id, 100)
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._:-".contains(c))
    {
        Some(("advisory", "an advisory id of letters, digits and ._:-"))
    } else if !name(&reported.package, 200) {
        Some(("package", "1 to 200 characters"))
    } else if !name(&reported.version, 100) {
        Some(("version", "1 to 100 characters"))
    } else if reported.cvss.as_ref().is_some_and(|v| v.len() > 300) {
        Some(("cvss", "at most 300 characters"))
    } else {
        None
    };
    if let Some((field, rule)) = problem {
        return Err(DomainError::invalid(
            field,
            "invalid",
            format!("{id}: the report's {field} must be {rule}"),
        ));
    }
    Severity::assess(reported.kind, reported.cvss.as_deref())
        .map_err(|e| DomainError::invalid("cvss", "invalid", format!("{id}: {e}")))
}
