//! The scanners' reports `salus vuln import` reads, told apart by their shape:
//!
//! - cargo-deny (`cargo deny --format json check advisories`): one JSON object
//!   per line; the lines of `"type": "diagnostic"` whose `fields.advisory` is
//!   set are findings, the affected crate in `fields.graphs[0].Krate`. Log,
//!   summary and advisory-less diagnostics (yanked crates, the note that an
//!   advisory is ignored) are skipped. Advisories `deny.toml` ignores are
//!   findings too (cargo-deny reports them as notes, shown with
//!   `--log-level info`): an ignore is tracked like any acceptance.
//! - cargo-audit (`cargo audit --json`): one JSON object, its findings in
//!   `vulnerabilities.list[]` and in each list of `warnings` (unmaintained,
//!   unsound, ...), each with `advisory` and `package`; warnings without an
//!   advisory (yanked crates) are skipped.

use serde_json::Value;

use super::model::{Kind, Reported, Source};

/// What one report holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The scanner that wrote it.
    pub source: Source,
    /// Its findings, in the report's order.
    pub findings: Vec<Reported>,
}

/// Why a report cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReportError {
    /// Neither scanner's shape.
    #[error(
        "not a scanner report: expected the JSON lines of `cargo deny --format json check advisories` or the JSON of `cargo audit --json`"
    )]
    Unrecognised,
    /// A line of a cargo-deny report is not JSON.
    #[error("line {line} of the cargo-deny report is not JSON: {problem}")]
    Line {
        /// The line's number (from 1).
        line: usize,
        /// What the parser said.
        problem: String,
    },
    /// A finding lacks a field it needs.
    #[error("{at}: the finding has no {field}")]
    Missing {
        /// Where in the report.
        at: String,
        /// The field.
        field: &'static str,
    },
}

/// Reads a report of either scanner.
pub fn parse(text: &str) -> Result<Report, ReportError> {
    let first = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .ok_or(ReportError::Unrecognised)?;
    match serde_json::from_str::<Value>(first) {
        Ok(line) if line.get("type").is_some() && line.get("fields").is_some() => cargo_deny(text),
        _ => match serde_json::from_str::<Value>(text) {
            Ok(report) if report.get("vulnerabilities").is_some() => cargo_audit(&report),
            _ => Err(ReportError::Unrecognised),
        },
    }
}

fn cargo_deny(text: &str) -> Result<Report, ReportError> {
    let mut findings = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let value: Value = serde_json::from_str(line).map_err(|e| ReportError::Line {
            line: i + 1,
            problem: e.to_string(),
        })?;
        let fields = &value["fields"];
        if value["type"] != "diagnostic" || !fields["advisory"].is_object() {
            continue;
        }
        let at = format!("line {}", i + 1);
        let krate = &fields["graphs"][0]["Krate"];
        findings.push(finding(&fields["advisory"], krate, &at)?);
    }
    Ok(Report {
        source: Source::CargoDeny,
        findings,
    })
}

fn cargo_audit(report: &Value) -> Result<Report, ReportError> {
    let mut entries: Vec<(String, &Value)> = Vec::new();
    let listed = report["vulnerabilities"]["list"].as_array();
    for (i, entry) in listed.into_iter().flatten().enumerate() {
        entries.push((format!("vulnerabilities.list[{i}]"), entry));
    }
    if let Some(warnings) = report["warnings"].as_object() {
        for (kind, list) in warnings {
            for (i, entry) in list.as_array().into_iter().flatten().enumerate() {
                entries.push((format!("warnings.{kind}[{i}]"), entry));
            }
        }
    }
    let mut findings = Vec::new();
    for (at, entry) in entries {
        if entry["advisory"].is_object() {
            findings.push(finding(&entry["advisory"], &entry["package"], &at)?);
        }
    }
    Ok(Report {
        source: Source::CargoAudit,
        findings,
    })
}

/// A finding from an advisory object (RustSec's fields, as both scanners
/// print them) and the affected crate (`name`, `version`).
fn finding(advisory: &Value, krate: &Value, at: &str) -> Result<Reported, ReportError> {
    let text = |value: &Value, field: &'static str| {
        value[field]
            .as_str()
            .filter(|s| !s.trim().is_empty())
            .map(str::to_owned)
            .ok_or_else(|| ReportError::Missing {
                at: at.to_owned(),
                field,
            })
    };
    let advisory_id = text(advisory, "id")?;
    let package = text(krate, "name").or_else(|_| text(advisory, "package"))?;
    Ok(Reported {
        advisory_id,
        package,
        version: text(krate, "version")?,
        title: text(advisory, "title")?,
        kind: Kind::of_informational(advisory["informational"].as_str()),
        cvss: advisory["cvss"].as_str().map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::{ReportError, parse};
    use crate::vulns::model::{Kind, Source};

    #[test]
    fn a_cargo_deny_line_is_read_and_other_lines_are_skipped() {
        let text = concat!(
            r#"{"fields":{"level":"INFO","message":"checking advisories..."},"type":"log"}"#,
            "\n",
            r#"{"fields":{"code":"yanked","graphs":[{"Krate":{"name":"a","version":"1.0.0"}}],"severity":"error"},"type":"diagnostic"}"#,
            "\n",
            r#"{"fields":{"advisory":{"id":"RUSTSEC-2021-0139","package":"ansi_term","title":"ansi_term is Unmaintained","cvss":null,"informational":"unmaintained"},"code":"unmaintained","graphs":[{"Krate":{"name":"ansi_term","version":"0.12.1"}}]},"type":"diagnostic"}"#,
            "\n",
            r#"{"fields":{"advisories":{"errors":1}},"type":"summary"}"#,
        );
        let report = parse(text).unwrap();
        assert_eq!(report.source, Source::CargoDeny);
        assert_eq!(report.findings.len(), 1);
        let f = &report.findings[0];
        assert_eq!(
            (
                f.advisory_id.as_str(),
                f.package.as_str(),
                f.version.as_str()
            ),
            ("RUSTSEC-2021-0139", "ansi_term", "0.12.1")
        );
        assert_eq!(f.kind, Kind::Unmaintained);
        assert_eq!(f.cvss, None);
    }

    #[test]
    fn a_cargo_audit_report_is_read_with_its_warnings() {
        let text = r#"{"vulnerabilities":{"found":true,"count":1,"list":[
            {"advisory":{"id":"RUSTSEC-2021-0003","package":"smallvec","title":"Buffer overflow","cvss":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H","informational":null},
             "package":{"name":"smallvec","version":"1.6.0"}}]},
            "warnings":{"yanked":[{"kind":"yanked","advisory":null,"package":{"name":"b","version":"2.0.0"}}]}}"#;
        let report = parse(text).unwrap();
        assert_eq!(report.source, Source::CargoAudit);
        assert_eq!(report.findings.len(), 1);
        assert_eq!(report.findings[0].kind, Kind::Vulnerability);
    }

    #[test]
    fn anything_else_is_refused_saying_what_was_expected() {
        assert_eq!(parse(""), Err(ReportError::Unrecognised));
        assert_eq!(parse("[1, 2]"), Err(ReportError::Unrecognised));
        assert_eq!(parse(r#"{"a": 1}"#), Err(ReportError::Unrecognised));
        let broken = "{\"type\":\"log\",\"fields\":{}}\nnot json";
        assert!(matches!(
            parse(broken),
            Err(ReportError::Line { line: 2, .. })
        ));
        let no_version = r#"{"fields":{"advisory":{"id":"X-1","title":"t"},"graphs":[{"Krate":{"name":"a"}}]},"type":"diagnostic"}"#;
        assert_eq!(
            parse(no_version),
            Err(ReportError::Missing {
                at: "line 1".into(),
                field: "version"
            })
        );
    }
}
