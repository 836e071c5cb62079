//! Storage of the incident register (platform tables, and the two that name a
//! clinic, visible in the platform scope and to each clinic for its own rows),
//! with the deadlines an incident runs against.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::DomainError;
use crate::ids::{ClinicId, EvidenceId, IncidentId, OperatorId};

/// How bad an incident is (definitions in `docs/operations.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// A confirmed or likely breach, or the service down for every clinic.
    P1,
    /// A partial outage, or a suspected breach.
    P2,
    /// Degraded service.
    P3,
    /// A minor issue.
    P4,
}

/// Where an incident stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncidentStatus {
    /// Declared, being handled.
    Open,
    /// The harm no longer spreads.
    Contained,
    /// The cause is removed.
    Resolved,
    /// Done, with its post-mortem.
    Closed,
}

/// Whether personal data is involved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PersonalData {
    /// No personal data involved.
    None,
    /// A breach is suspected.
    Suspected,
    /// A breach is confirmed (the 72-hour clocks run).
    Confirmed,
}

macro_rules! names {
    ($ty:ident { $($variant:ident = $name:literal),+ }) => {
        impl $ty {
            /// Every value.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The stored and API name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $name),+
                }
            }

            /// The value a name gives.
            pub fn parse(name: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == name)
            }
        }
    };
}

names!(Severity { P1 = "P1", P2 = "P2", P3 = "P3", P4 = "P4" });
names!(IncidentStatus { Open = "open", Contained = "contained", Resolved = "resolved", Closed = "closed" });
names!(PersonalData { None = "none", Suspected = "suspected", Confirmed = "confirmed" });

/// An incident as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incident {
    /// Its id.
    pub id: IncidentId,
    /// What happened, in a line.
    pub title: String,
    /// How bad.
    pub severity: Severity,
    /// Where it stands.
    pub status: IncidentStatus,
    /// Whether personal data is involved.
    pub personal_data: PersonalData,
    /// Declared when.
    pub declared_at: DateTime<Utc>,
    /// By which operator.
    pub declared_by: OperatorId,
    /// When a breach was confirmed (the 72-hour clocks run from it).
    pub aware_at: Option<DateTime<Utc>>,
    /// When the supervisory authority was notified.
    pub authority_notified_at: Option<DateTime<Utc>>,
    /// The authority's reference for the notification.
    pub authority_reference: Option<String>,
    /// The post-mortem's root cause.
    pub root_cause: Option<String>,
    /// The post-mortem's preventive measures.
    pub preventive_measures: Option<String>,
    /// Closed when.
    pub closed_at: Option<DateTime<Utc>>,
}

/// What a notification tells a clinic (GDPR articles 33 and 34).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// The nature of the incident or breach.
    pub nature: String,
    /// The categories and approximate numbers of people and records concerned.
    pub categories_and_numbers: String,
    /// The likely consequences.
    pub likely_consequences: String,
    /// The measures taken or proposed.
    pub measures_taken: String,
    /// Whom to contact for more.
    pub contact: String,
}

/// A clinic an incident affects, and whether it was told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AffectedClinic {
    /// The clinic.
    pub clinic_id: ClinicId,
    /// When its owners and administrators were last notified.
    pub notified_at: Option<DateTime<Utc>>,
    /// What they were told.
    pub notice: Option<Notice>,
}

/// One entry of an incident's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its position (1, 2, ...).
    pub seq: i32,
    /// When.
    pub at: DateTime<Utc>,
    /// By which operator.
    pub operator_id: OperatorId,
    /// What kind (`declared`, `note`, `status`, `breach`, `authority`,
    /// `notification`, `evidence`, `postmortem`).
    pub kind: &'static str,
    /// What happened.
    pub text: String,
}

/// Every kind of timeline entry.
pub const ENTRY_KINDS: [&str; 8] = [
    "declared",
    "note",
    "status",
    "breach",
    "authority",
    "notification",
    "evidence",
    "postmortem",
];

/// Evidence preserved: one clinic's audit export as it stood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    /// Its id.
    pub id: EvidenceId,
    /// The clinic.
    pub clinic_id: ClinicId,
    /// The events the export held.
    pub events: i64,
    /// The SHA-256 of the export's bytes (NDJSON).
    pub sha256: Vec<u8>,
    /// Taken when.
    pub taken_at: DateTime<Utc>,
}

/// What a deadline is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadlineKind {
    /// A P1: every affected clinic notified within 4 hours of declaration.
    ClinicsP1,
    /// A confirmed breach: every affected clinic notified within 72 hours of
    /// awareness.
    ClinicsBreach,
    /// A confirmed breach: the supervisory authority notified within 72 hours
    /// of awareness (GDPR art. 33).
    Authority,
}

names!(DeadlineKind { ClinicsP1 = "clinics_p1", ClinicsBreach = "clinics_breach", Authority = "authority" });

/// A deadline an incident runs against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deadline {
    /// What for.
    pub kind: DeadlineKind,
    /// Due then.
    pub due_at: DateTime<Utc>,
    /// Met then (none: not yet).
    pub met_at: Option<DateTime<Utc>>,
    /// Not met and past due.
    pub overdue: bool,
}

/// The hours within which a P1's clinics are notified.
pub const P1_CLINICS_HOURS: i64 = 4;
/// The hours within which a confirmed breach is notified (clinics and the
/// authority).
pub const BREACH_HOURS: i64 = 72;

impl Incident {
    /// The deadlines this incident runs against at `now`, given its clinics.
    pub fn deadlines(&self, clinics: &[AffectedClinic], now: DateTime<Utc>) -> Vec<Deadline> {
        let deadline = |kind, due_at: DateTime<Utc>, met_at: Option<DateTime<Utc>>| Deadline {
            kind,
            due_at,
            met_at,
            overdue: met_at.is_none() && now > due_at,
        };
        // Every clinic told (at or after `since`): when the last one was.
        let all_told = |since: DateTime<Utc>| -> Option<DateTime<Utc>> {
            clinics
                .iter()
                .map(|c| c.notified_at.filter(|at| *at >= since))
                .collect::<Option<Vec<_>>>()?
                .into_iter()
                .max()
        };
        let mut due = Vec::new();
        if self.severity == Severity::P1 {
            due.push(deadline(
                DeadlineKind::ClinicsP1,
                self.declared_at + Duration::hours(P1_CLINICS_HOURS),
                all_told(self.declared_at),
            ));
        }
        if let Some(aware) = self.aware_at {
            due.push(deadline(
                DeadlineKind::ClinicsBreach,
                aware + Duration::hours(BREACH_HOURS),
                all_told(aware),
            ));
            due.push(deadline(
                DeadlineKind::Authority,
                aware + Duration::hours(BREACH_HOURS),
                self.authority_notified_at,
            ));
        }
        due
    }
}

/// An incident with its clinics, as the metrics and alerts count deadlines.
pub type WithClinics = (Incident, Vec<AffectedClinic>);

/// The deadlines overdue at `now` across incidents not closed.
pub fn overdue_deadlines(incidents: &[WithClinics], now: DateTime<Utc>) -> usize {
    incidents
        .iter()
        .filter(|(i, _)| i.status != IncidentStatus::Closed)
        .flat_map(|(i, clinics)| i.deadlines(clinics, now))
        .filter(|d| d.overdue)
        .count()
}

/// Storage of the incident register.
pub trait IncidentsRepo {
    /// Adds an incident and the clinics it affects.
    fn insert_incident(
        &mut self,
        incident: &Incident,
        clinics: &[ClinicId],
    ) -> Result<(), DomainError>;
    /// One incident, locked for a change when `lock`.
    fn incident(&mut self, id: IncidentId, lock: bool) -> Result<Option<Incident>, DomainError>;
    /// Every incident with its clinics, the latest declared first.
    fn incidents(&mut self) -> Result<Vec<WithClinics>, DomainError>;
    /// Writes an incident's changing fields.
    fn update_incident(&mut self, incident: &Incident) -> Result<(), DomainError>;
    /// The clinics an incident affects.
    fn affected_clinics(&mut self, id: IncidentId) -> Result<Vec<AffectedClinic>, DomainError>;
    /// Records that a clinic was notified, and what it was told.
    fn clinic_notified(
        &mut self,
        id: IncidentId,
        clinic: ClinicId,
        at: DateTime<Utc>,
        notice: &Notice,
    ) -> Result<(), DomainError>;
    /// Adds a timeline entry at the next position.
    fn add_entry(&mut self, id: IncidentId, entry: &Entry) -> Result<(), DomainError>;
    /// An incident's timeline, in order.
    fn entries(&mut self, id: IncidentId) -> Result<Vec<Entry>, DomainError>;
    /// Records evidence.
    fn insert_evidence(&mut self, id: IncidentId, evidence: &Evidence) -> Result<(), DomainError>;
    /// An incident's evidence, in the order it was taken.
    fn evidence(&mut self, id: IncidentId) -> Result<Vec<Evidence>, DomainError>;
    /// The addresses of a clinic's active owners and administrators (through
    /// `salus_platform_incident_contacts`).
    fn incident_contacts(&mut self, clinic: ClinicId) -> Result<Vec<String>, DomainError>;
    /// The incidents that concern the clinic of the current scope, with what
    /// it was told, the latest declared first.
    fn clinic_incidents(
        &mut self,
        clinic: ClinicId,
    ) -> Result<Vec<(Incident, AffectedClinic)>, DomainError>;
}
