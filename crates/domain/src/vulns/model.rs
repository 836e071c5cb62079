//! A known vulnerability of one of Salus's dependencies (promise N3): what a
//! scanner reported, its CVSS base score and band, the remediation deadline the
//! band sets, and how it was resolved.

use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};

use crate::ids::VulnerabilityId;

/// How urgent a finding is: the CVSS v3 qualitative bands (v4 uses the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Band {
    /// Base score 9.0 to 10.0: fixed within 24 hours.
    Critical,
    /// Base score 7.0 to 8.9 (and a vulnerability without a score): 72 hours.
    High,
    /// Base score 4.0 to 6.9 (CVSS's "medium"): 14 days.
    Moderate,
    /// Base score below 4.0 (and an informational advisory without a score): 30 days.
    Low,
}

impl Band {
    /// Every band, the most urgent first.
    pub const ALL: [Band; 4] = [Band::Critical, Band::High, Band::Moderate, Band::Low];

    /// The band of a CVSS base score (0.0 to 10.0). A score of 0.0 (CVSS's
    /// "none") is still tracked, as low.
    pub fn of_score(score: f64) -> Self {
        if score >= 9.0 {
            Self::Critical
        } else if score >= 7.0 {
            Self::High
        } else if score >= 4.0 {
            Self::Moderate
        } else {
            Self::Low
        }
    }

    /// The time a finding of this band may stay open after it was first seen.
    pub fn remediation(self) -> Duration {
        match self {
            Self::Critical => Duration::hours(24),
            Self::High => Duration::hours(72),
            Self::Moderate => Duration::days(14),
            Self::Low => Duration::days(30),
        }
    }

    /// Its name: `critical`, `high`, `moderate` or `low`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Critical => "critical",
            Self::High => "high",
            Self::Moderate => "moderate",
            Self::Low => "low",
        }
    }

    /// The band stored as `name`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "critical" => Some(Self::Critical),
            "high" => Some(Self::High),
            "moderate" => Some(Self::Moderate),
            "low" => Some(Self::Low),
            _ => None,
        }
    }
}

/// What an advisory is about: a vulnerability, or one of RustSec's
/// informational kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A vulnerability.
    Vulnerability,
    /// The crate is no longer maintained.
    Unmaintained,
    /// The crate's safe API allows undefined behaviour.
    Unsound,
    /// Any other informational advisory.
    Notice,
}

impl Kind {
    /// The kind an advisory's `informational` field names (none: a vulnerability;
    /// a kind RustSec may add later: a notice).
    pub fn of_informational(informational: Option<&str>) -> Self {
        match informational {
            None => Self::Vulnerability,
            Some("unmaintained") => Self::Unmaintained,
            Some("unsound") => Self::Unsound,
            Some(_) => Self::Notice,
        }
    }

    /// Its name, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Vulnerability => "vulnerability",
            Self::Unmaintained => "unmaintained",
            Self::Unsound => "unsound",
            Self::Notice => "notice",
        }
    }

    /// The kind stored as `name`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "vulnerability" => Some(Self::Vulnerability),
            "unmaintained" => Some(Self::Unmaintained),
            "unsound" => Some(Self::Unsound),
            "notice" => Some(Self::Notice),
            _ => None,
        }
    }
}

/// The scanner whose report an import read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `cargo deny --format json check advisories`.
    CargoDeny,
    /// `cargo audit --json`.
    CargoAudit,
}

impl Source {
    /// Its name, as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CargoDeny => "cargo-deny",
            Self::CargoAudit => "cargo-audit",
        }
    }

    /// The scanner stored as `name`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "cargo-deny" => Some(Self::CargoDeny),
            "cargo-audit" => Some(Self::CargoAudit),
            _ => None,
        }
    }
}

/// A finding's CVSS vector, its base score and the band they give.
#[derive(Debug, Clone, PartialEq)]
pub struct Severity {
    /// The vector, as the advisory gives it.
    pub vector: Option<String>,
    /// Its base score (computed by the `cvss` crate).
    pub score: Option<f64>,
    /// The band.
    pub band: Band,
}

impl Severity {
    /// The severity of an advisory of `kind` with the CVSS vector `vector`: the
    /// band of its base score; without a vector, high for a vulnerability (the
    /// advisory was not scored, so it is assumed serious) and low for an
    /// informational advisory (nothing is known to be exploitable). Refuses a
    /// vector that is not CVSS v3.0, v3.1 or v4.0.
    pub fn assess(kind: Kind, vector: Option<&str>) -> Result<Self, String> {
        let Some(vector) = vector else {
            let band = match kind {
                Kind::Vulnerability => Band::High,
                Kind::Unmaintained | Kind::Unsound | Kind::Notice => Band::Low,
            };
            return Ok(Self {
                vector: None,
                score: None,
                band,
            });
        };
        let parsed = cvss::Cvss::from_str(vector)
            .map_err(|e| format!("the CVSS vector {vector:?} cannot be scored: {e}"))?;
        // The crate checks v4.0's mandatory metrics but scores a v3 vector
        // with base metrics left out as if they were the least severe.
        if let cvss::Cvss::CvssV30(v3) | cvss::Cvss::CvssV31(v3) = &parsed {
            use cvss::v3::MetricType as M;
            let given: Vec<M> = v3.metrics().map(|(metric, _)| metric).collect();
            let base = [M::AV, M::AC, M::PR, M::UI, M::S, M::C, M::I, M::A];
            if let Some(missing) = base.into_iter().find(|m| !given.contains(m)) {
                return Err(format!(
                    "the CVSS vector {vector:?} lacks the base metric {}",
                    missing.name()
                ));
            }
        }
        let score = parsed.score();
        Ok(Self {
            vector: Some(vector.to_owned()),
            score: Some(score),
            band: Band::of_score(score),
        })
    }
}

/// One advisory a scanner reported against one version of one package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reported {
    /// The advisory's id (`RUSTSEC-2021-0003`).
    pub advisory_id: String,
    /// The affected package.
    pub package: String,
    /// Its version in the lock file.
    pub version: String,
    /// The advisory's title.
    pub title: String,
    /// What the advisory is about.
    pub kind: Kind,
    /// Its CVSS vector, when it has one.
    pub cvss: Option<String>,
}

/// How a finding was resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// Not resolved.
    Open,
    /// Fixed by a commit, as an operator said.
    Fixed {
        /// The commit that fixed it.
        commit: String,
        /// The operator's email.
        by: String,
        /// When they said so.
        at: DateTime<Utc>,
    },
    /// Accepted as a risk until a moment, with a reason.
    Accepted {
        /// Why it is accepted.
        reason: String,
        /// When the acceptance ends (the finding then counts as open again).
        until: DateTime<Utc>,
        /// The operator's email.
        by: String,
        /// When they accepted it.
        at: DateTime<Utc>,
    },
}

impl Resolution {
    /// Who resolved it and when (none while open).
    pub fn resolved(&self) -> Option<(&str, DateTime<Utc>)> {
        match self {
            Self::Open => None,
            Self::Fixed { by, at, .. } | Self::Accepted { by, at, .. } => Some((by, *at)),
        }
    }

    /// The status it is stored as: `open`, `fixed` or `accepted`.
    pub fn status(&self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Fixed { .. } => "fixed",
            Self::Accepted { .. } => "accepted",
        }
    }
}

/// A recorded finding.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// Its id.
    pub id: VulnerabilityId,
    /// The advisory's id.
    pub advisory_id: String,
    /// The affected package.
    pub package: String,
    /// The affected version.
    pub version: String,
    /// The advisory's title (as last reported).
    pub title: String,
    /// What the advisory is about.
    pub kind: Kind,
    /// Its CVSS vector, score and band (as last reported).
    pub severity: Severity,
    /// The scanner of the last import that reported it.
    pub source: Source,
    /// When an import first reported it.
    pub first_seen: DateTime<Utc>,
    /// When an import last reported it.
    pub last_seen: DateTime<Utc>,
    /// When it must be resolved: first seen plus its band's remediation time.
    pub due_at: DateTime<Utc>,
    /// How it was resolved.
    pub resolution: Resolution,
}

/// Where a finding stands at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Open, its deadline not passed.
    Open,
    /// Open, past its deadline.
    Overdue,
    /// Accepted, the acceptance in force.
    Accepted,
    /// Fixed.
    Fixed,
}

impl Standing {
    /// Its name: `open`, `overdue`, `accepted` or `fixed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Overdue => "overdue",
            Self::Accepted => "accepted",
            Self::Fixed => "fixed",
        }
    }
}

impl Finding {
    /// Where it stands at `now`: an acceptance counts until its end, after
    /// which the finding is open again (and overdue past its deadline); it is
    /// overdue once `now` is after its deadline.
    pub fn standing(&self, now: DateTime<Utc>) -> Standing {
        match &self.resolution {
            Resolution::Fixed { .. } => Standing::Fixed,
            Resolution::Accepted { until, .. } if now < *until => Standing::Accepted,
            Resolution::Open | Resolution::Accepted { .. } if now > self.due_at => {
                Standing::Overdue
            }
            Resolution::Open | Resolution::Accepted { .. } => Standing::Open,
        }
    }
}

/// Open and overdue findings by band, at a moment (what `/metrics` shows).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    open: [i64; 4],
    overdue: [i64; 4],
}

impl Tally {
    /// The tally of `findings` at `now`: overdue ones count as open too.
    pub fn of(findings: &[Finding], now: DateTime<Utc>) -> Self {
        let mut tally = Self::default();
        for finding in findings {
            let band = finding.severity.band as usize;
            match finding.standing(now) {
                Standing::Open => tally.open[band] += 1,
                Standing::Overdue => {
                    tally.open[band] += 1;
                    tally.overdue[band] += 1;
                }
                Standing::Accepted | Standing::Fixed => {}
            }
        }
        tally
    }

    /// Each band with its open and its overdue count, the most urgent first.
    pub fn by_band(&self) -> impl Iterator<Item = (Band, i64, i64)> + '_ {
        Band::ALL
            .into_iter()
            .map(|band| (band, self.open[band as usize], self.overdue[band as usize]))
    }
}

#[cfg(test)]
mod tests {
    use super::{Band, Kind, Severity};

    #[test]
    fn scores_fall_into_the_cvss_bands() {
        for (score, band) in [
            (10.0, Band::Critical),
            (9.0, Band::Critical),
            (8.9, Band::High),
            (7.0, Band::High),
            (6.9, Band::Moderate),
            (4.0, Band::Moderate),
            (3.9, Band::Low),
            (0.1, Band::Low),
            (0.0, Band::Low),
        ] {
            assert_eq!(Band::of_score(score), band, "{score}");
        }
    }

    #[test]
    fn vectors_are_scored_by_the_cvss_crate_and_unscored_advisories_get_the_documented_band() {
        let assessed = |kind, vector| Severity::assess(kind, vector).unwrap();
        let critical = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H";
        assert_eq!(
            assessed(Kind::Vulnerability, Some(critical)).score,
            Some(9.8)
        );
        let v4 = "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N";
        assert_eq!(assessed(Kind::Vulnerability, Some(v4)).band, Band::Critical);
        assert_eq!(assessed(Kind::Vulnerability, None).band, Band::High);
        assert_eq!(assessed(Kind::Unmaintained, None).band, Band::Low);
        assert!(Severity::assess(Kind::Vulnerability, Some("AV:N/AC:L/Au:N/C:P/I:P/A:P")).is_err());
        assert!(Severity::assess(Kind::Vulnerability, Some("CVSS:3.1/AV:N")).is_err());
    }

    #[test]
    fn names_round_trip() {
        for band in Band::ALL {
            assert_eq!(Band::parse(band.as_str()), Some(band));
        }
        for kind in [
            Kind::Vulnerability,
            Kind::Unmaintained,
            Kind::Unsound,
            Kind::Notice,
        ] {
            assert_eq!(Kind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(Kind::parse("something"), None);
    }
}
