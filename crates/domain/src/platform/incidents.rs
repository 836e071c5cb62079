//! The incident register (issue 16, N1): operators declare an incident with
//! the clinics it affects, keep its timeline, confirm a breach, record the
//! authority's notification and the post-mortem, notify the clinics' owners
//! and administrators through the outbox, and preserve evidence (each affected
//! clinic's audit export, hashed). Every action is in the platform chain, in
//! its transaction; what concerns a clinic (its notification, its evidence) is
//! in the clinic's own trail too. A clinic's members with `audit.read` read the
//! incidents that concern their clinic, in their clinic's scope.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::{OperatorActor, Platform, PlatformPermission, by_operator};
use crate::DomainError;
use crate::access::Permission;
use crate::actor::Actor;
use crate::audit::AuditRecord;
use crate::audit::actions;
use crate::audit::export::Format;
use crate::identity::model::ClientInfo;
use crate::ids::{ClinicId, IncidentId};
use crate::ports::incidents::{
    AffectedClinic, Deadline, Entry, Evidence, Incident, IncidentStatus, Notice, PersonalData,
    Severity,
};
use crate::store::{OperatorsTx, Scope};

/// The events read from a clinic's chain at a time while hashing its export.
const EVIDENCE_BATCH: i64 = 1_000;

/// An incident as an operator declares it.
#[derive(Debug, Clone)]
pub struct NewIncident {
    /// What happened, in a line.
    pub title: String,
    /// How bad.
    pub severity: Severity,
    /// The clinics it affects.
    pub clinics: Vec<ClinicId>,
    /// Whether personal data is involved (`confirmed` starts the 72-hour
    /// clocks at once).
    pub personal_data: PersonalData,
    /// The timeline's first entry.
    pub text: String,
}

/// An incident with everything an operator reads of it.
#[derive(Debug, Clone)]
pub struct IncidentView {
    /// The incident.
    pub incident: Incident,
    /// The clinics it affects and their notification state.
    pub clinics: Vec<AffectedClinic>,
    /// Its timeline.
    pub entries: Vec<Entry>,
    /// The evidence preserved.
    pub evidence: Vec<Evidence>,
    /// Its deadlines now.
    pub deadlines: Vec<Deadline>,
}

impl Platform {
    /// Declares an incident (`platform.incidents.manage`).
    pub fn declare_incident(
        &self,
        actor: &OperatorActor,
        new: NewIncident,
        client: &ClientInfo,
    ) -> Result<IncidentView, DomainError> {
        actor.require(PlatformPermission::IncidentsManage)?;
        let mut clinics = new.clinics.clone();
        clinics.sort_by_key(|c| c.uuid());
        clinics.dedup();
        if clinics.is_empty() {
            return Err(DomainError::invalid(
                "clinic_ids",
                "required",
                "Name at least one affected clinic.",
            ));
        }
        let now = self.core.now();
        let id: IncidentId = self.core.new_id();
        self.tx(Scope::Platform, |tx| {
            for clinic in &clinics {
                if tx.clinic_summaries(Some(*clinic))?.is_empty() {
                    return Err(DomainError::invalid(
                        "clinic_ids",
                        "unknown_clinic",
                        format!("No clinic {}.", clinic.uuid()),
                    ));
                }
            }
            let incident = Incident {
                id,
                title: new.title.clone(),
                severity: new.severity,
                status: IncidentStatus::Open,
                personal_data: new.personal_data,
                declared_at: now,
                declared_by: actor.operator_id,
                aware_at: (new.personal_data == PersonalData::Confirmed).then_some(now),
                authority_notified_at: None,
                authority_reference: None,
                root_cause: None,
                preventive_measures: None,
                closed_at: None,
            };
            tx.insert_incident(&incident, &clinics)?;
            self.entry(tx, actor, id, "declared", new.text.clone())?;
            self.core.audit(
                tx,
                by_operator(actor, actions::INCIDENT_DECLARED)
                    .on("incident", id)
                    .detail("severity", new.severity.as_str())
                    .detail("personal_data", new.personal_data.as_str())
                    .detail("clinics", clinics.len()),
                client,
            )?;
            self.view(tx, incident)
        })
    }

    /// Every incident, the latest declared first (`platform.incidents.read`).
    pub fn incidents(
        &self,
        actor: &OperatorActor,
        client: &ClientInfo,
    ) -> Result<Vec<IncidentView>, DomainError> {
        actor.require(PlatformPermission::IncidentsRead)?;
        self.tx(Scope::Platform, |tx| {
            let all = tx.incidents()?;
            self.core.audit(
                tx,
                by_operator(actor, actions::INCIDENT_LISTED).detail("incidents", all.len()),
                client,
            )?;
            all.into_iter().map(|(i, _)| self.view(tx, i)).collect()
        })
    }

    /// One incident with its timeline, clinics, evidence and deadlines
    /// (`platform.incidents.read`).
    pub fn incident(
        &self,
        actor: &OperatorActor,
        id: IncidentId,
        client: &ClientInfo,
    ) -> Result<IncidentView, DomainError> {
        actor.require(PlatformPermission::IncidentsRead)?;
        self.tx(Scope::Platform, |tx| {
            let incident = tx.incident(id, false)?.ok_or(DomainError::NotFound)?;
            self.core.audit(
                tx,
                by_operator(actor, actions::INCIDENT_READ).on("incident", id),
                client,
            )?;
            self.view(tx, incident)
        })
    }

    /// Adds an entry to an incident's timeline (`platform.incidents.manage`).
    pub fn add_incident_entry(
        &self,
        actor: &OperatorActor,
        id: IncidentId,
        text: String,
        client: &ClientInfo,
    ) -> Result<IncidentView, DomainError> {
        self.change(actor, id, client, actions::INCIDENT_ENTRY_ADDED, |_| {
            Ok(Some(("note", text)))
        })
    }

    /// Moves an incident to another status (`platform.incidents.manage`);
    /// closing needs the post-mortem first (`postmortem_required`).
    pub fn set_incident_status(
        &self,
        actor: &OperatorActor,
        id: IncidentId,
        status: IncidentStatus,
        client: &ClientInfo,
    ) -> Result<IncidentView, DomainError> {
        let now = self.core.now();
        self.change(actor, id, client, actions::INCIDENT_STATUS_CHANGED, |i| {
            if status == IncidentStatus::Closed
                && (i.root_cause.is_none() || i.preventive_measures.is_none())
            {
                return Err(DomainError::Conflict {
                    code: "postmortem_required",
                    detail: "Record the post-mortem (root cause and preventive measures) before closing the incident.".into(),
                });
            }
            let from = i.status;
            i.status = status;
            i.closed_at = (status == IncidentStatus::Closed).then_some(now);
            Ok(Some((
                "status",
                format!("Status {} → {}.", from.as_str(), status.as_str()),
            )))
        })
    }

    /// Records the post-mortem (`platform.incidents.manage`).
    pub fn record_postmortem(
        &self,
        actor: &OperatorActor,
        id: IncidentId,
        root_cause: String,
        preventive_measures: String,
        client: &ClientInfo,
    ) -> Result<IncidentView, DomainError> {
        self.change(
            actor,
            id,
            client,
            actions::INCIDENT_POSTMORTEM_RECORDED,
            |i| {
                i.root_cause = Some(root_cause);
                i.preventive_measures = Some(preventive_measures);
                Ok(Some(("postmortem", "Post-mortem recorded.".to_owned())))
            },
        )
    }

    /// Confirms a breach of personal data now: the 72-hour clocks start
    /// (`platform.incidents.manage`; `breach_already_confirmed` the second time).
    pub fn confirm_breach(
        &self,
        actor: &OperatorActor,
        id: IncidentId,
        client: &ClientInfo,
    ) -> Result<IncidentView, DomainError> {
        let now = self.core.now();
        self.change(actor, id, client, actions::INCIDENT_BREACH_CONFIRMED, |i| {
            if i.personal_data == PersonalData::Confirmed {
                return Err(DomainError::Conflict {
                    code: "breach_already_confirmed",
                    detail: "The breach was confirmed already; its clocks run from then.".into(),
                });
            }
            i.personal_data = PersonalData::Confirmed;
            i.aware_at = Some(now);
            Ok(Some((
                "breach",
                "Breach of personal data confirmed: clinics and the authority within 72 hours."
                    .to_owned(),
            )))
        })
    }

    /// Records the supervisory authority's notification: when and its
    /// reference (`platform.incidents.manage`).
    pub fn record_authority_notification(
        &self,
        actor: &OperatorActor,
        id: IncidentId,
        at: DateTime<Utc>,
        reference: String,
        client: &ClientInfo,
    ) -> Result<IncidentView, DomainError> {
        self.change(
            actor,
            id,
            client,
            actions::INCIDENT_AUTHORITY_NOTIFIED,
            |i| {
                let text = format!("Authority notified (reference {reference}).");
                i.authority_notified_at = Some(at);
                i.authority_reference = Some(reference);
                Ok(Some(("authority", text)))
            },
        )
    }

    /// Notifies every affected clinic's active owners and administrators by
    /// email through the outbox, with the content GDPR articles 33 and 34 ask
    /// for; each clinic's delivery is recorded (its notification time and
    /// content, a timeline entry) and lands in the clinic's own trail
    /// (`platform.incidents.manage`).
    pub fn notify_clinics(
        &self,
        actor: &OperatorActor,
        id: IncidentId,
        notice: Notice,
        client: &ClientInfo,
    ) -> Result<IncidentView, DomainError> {
        actor.require(PlatformPermission::IncidentsManage)?;
        let clinics = self.open_incident_clinics(id)?;
        for clinic in &clinics {
            self.tx(Scope::Clinic(*clinic), |tx| {
                self.core.audit(
                    tx,
                    by_operator(actor, actions::INCIDENT_CLINIC_NOTIFIED)
                        .in_clinic(Some(*clinic))
                        .on("incident", id),
                    client,
                )
            })?;
        }
        let now = self.core.now();
        self.tx(Scope::Platform, |tx| {
            let incident = open(tx.incident(id, true)?)?;
            let (subject, body) = notice_email(&incident, &notice);
            for clinic in &clinics {
                let contacts = tx.incident_contacts(*clinic)?;
                for to in &contacts {
                    self.core.email(tx, to, &subject, body.clone())?;
                }
                tx.clinic_notified(id, *clinic, now, &notice)?;
                self.entry(
                    tx,
                    actor,
                    id,
                    "notification",
                    format!(
                        "Clinic {} notified: {} owners and administrators emailed.",
                        clinic.uuid(),
                        contacts.len()
                    ),
                )?;
                self.core.audit(
                    tx,
                    by_operator(actor, actions::INCIDENT_CLINIC_NOTIFIED)
                        .on("incident", id)
                        .detail("clinic", clinic.to_string())
                        .detail("recipients", contacts.len()),
                    client,
                )?;
            }
            self.view(tx, incident)
        })
    }

    /// Preserves evidence: for each affected clinic, the SHA-256 and event
    /// count of its audit export as it stands now (the NDJSON bytes
    /// `GET /api/v1/audit-events/export` would stream), read in the clinic's
    /// scope, which records the preservation in its trail
    /// (`platform.incidents.manage`).
    pub fn preserve_evidence(
        &self,
        actor: &OperatorActor,
        id: IncidentId,
        client: &ClientInfo,
    ) -> Result<IncidentView, DomainError> {
        actor.require(PlatformPermission::IncidentsManage)?;
        let clinics = self.open_incident_clinics(id)?;
        let mut taken = Vec::with_capacity(clinics.len());
        for clinic in &clinics {
            let evidence = self.tx(Scope::Clinic(*clinic), |tx| {
                let evidence = self.hash_export(tx, *clinic)?;
                self.core.audit(
                    tx,
                    by_operator(actor, actions::INCIDENT_EVIDENCE_PRESERVED)
                        .in_clinic(Some(*clinic))
                        .on("incident", id)
                        .detail("events", evidence.events),
                    client,
                )?;
                Ok(evidence)
            })?;
            taken.push(evidence);
        }
        self.tx(Scope::Platform, |tx| {
            let incident = open(tx.incident(id, true)?)?;
            for evidence in &taken {
                tx.insert_evidence(id, evidence)?;
                let sha = crate::audit::export::hex(&evidence.sha256);
                self.entry(
                    tx,
                    actor,
                    id,
                    "evidence",
                    format!(
                        "Audit export of clinic {} preserved: {} events, SHA-256 {sha}.",
                        evidence.clinic_id.uuid(),
                        evidence.events
                    ),
                )?;
                self.core.audit(
                    tx,
                    by_operator(actor, actions::INCIDENT_EVIDENCE_PRESERVED)
                        .on("incident", id)
                        .detail("clinic", evidence.clinic_id.to_string())
                        .detail("events", evidence.events)
                        .detail("sha256", sha),
                    client,
                )?;
            }
            self.view(tx, incident)
        })
    }

    /// The incidents that concern the member's clinic, with what it was told
    /// (`audit.read`), read in the clinic's scope and recorded in its trail.
    pub fn clinic_incidents(
        &self,
        actor: &Actor,
        client: &ClientInfo,
    ) -> Result<Vec<(Incident, AffectedClinic)>, DomainError> {
        actor.require(Permission::AuditRead)?;
        self.tx(Scope::Clinic(actor.clinic_id), |tx| {
            let found = tx.clinic_incidents(actor.clinic_id)?;
            self.core.audit(
                tx,
                AuditRecord::by(actor, actions::INCIDENT_CLINIC_LIST_READ)
                    .detail("incidents", found.len()),
                client,
            )?;
            Ok(found)
        })
    }

    /// The clinics of an incident not closed.
    fn open_incident_clinics(&self, id: IncidentId) -> Result<Vec<ClinicId>, DomainError> {
        self.tx(Scope::Platform, |tx| {
            open(tx.incident(id, false)?)?;
            Ok(tx
                .affected_clinics(id)?
                .into_iter()
                .map(|c| c.clinic_id)
                .collect())
        })
    }

    /// One change of an incident not closed, its timeline entry and its audit
    /// event, in one platform transaction.
    fn change(
        &self,
        actor: &OperatorActor,
        id: IncidentId,
        client: &ClientInfo,
        action: &'static str,
        apply: impl FnOnce(&mut Incident) -> Result<Option<(&'static str, String)>, DomainError>,
    ) -> Result<IncidentView, DomainError> {
        actor.require(PlatformPermission::IncidentsManage)?;
        self.tx(Scope::Platform, |tx| {
            let mut incident = open(tx.incident(id, true)?)?;
            let entry = apply(&mut incident)?;
            tx.update_incident(&incident)?;
            if let Some((kind, text)) = entry {
                self.entry(tx, actor, id, kind, text)?;
            }
            self.core.audit(
                tx,
                by_operator(actor, action)
                    .on("incident", id)
                    .detail("status", incident.status.as_str()),
                client,
            )?;
            self.view(tx, incident)
        })
    }

    fn entry(
        &self,
        tx: &mut dyn OperatorsTx,
        actor: &OperatorActor,
        id: IncidentId,
        kind: &'static str,
        text: String,
    ) -> Result<(), DomainError> {
        tx.add_entry(
            id,
            &Entry {
                seq: 0,
                at: self.core.now(),
                operator_id: actor.operator_id,
                kind,
                text,
            },
        )
    }

    fn view(
        &self,
        tx: &mut dyn OperatorsTx,
        incident: Incident,
    ) -> Result<IncidentView, DomainError> {
        let clinics = tx.affected_clinics(incident.id)?;
        let deadlines = incident.deadlines(&clinics, self.core.now());
        Ok(IncidentView {
            entries: tx.entries(incident.id)?,
            evidence: tx.evidence(incident.id)?,
            clinics,
            deadlines,
            incident,
        })
    }

    /// The SHA-256 and event count of the clinic's NDJSON audit export now.
    fn hash_export(
        &self,
        tx: &mut dyn OperatorsTx,
        clinic: ClinicId,
    ) -> Result<Evidence, DomainError> {
        let checkpoints = tx.checkpoints(clinic.into())?;
        let keys = self.core.sealer().public_keys();
        let mut hasher = Sha256::new();
        hasher.update(Format::Ndjson.preamble(clinic, &checkpoints, keys));
        let (mut after, mut events) = (0i64, 0i64);
        loop {
            let batch = tx.chain_events(clinic.into(), after, EVIDENCE_BATCH)?;
            let Some(last) = batch.last() else { break };
            after = last.seq;
            for e in &batch {
                hasher.update(Format::Ndjson.line(e));
            }
            events += i64::try_from(batch.len()).unwrap_or(i64::MAX);
        }
        Ok(Evidence {
            id: self.core.new_id(),
            clinic_id: clinic,
            events,
            sha256: hasher.finalize().to_vec(),
            taken_at: self.core.now(),
        })
    }
}

/// The incident, unless it is missing (404) or closed (`incident_closed`).
fn open(found: Option<Incident>) -> Result<Incident, DomainError> {
    let incident = found.ok_or(DomainError::NotFound)?;
    if incident.status == IncidentStatus::Closed {
        return Err(DomainError::Conflict {
            code: "incident_closed",
            detail: "The incident is closed: its record no longer changes.".into(),
        });
    }
    Ok(incident)
}

/// The notification email: every element GDPR articles 33 and 34 ask for.
fn notice_email(incident: &Incident, notice: &Notice) -> (String, String) {
    let subject = format!(
        "Salus security incident notification ({}): {}",
        incident.severity.as_str(),
        incident.title
    );
    let body = format!(
        "Salus is notifying your clinic of an incident that concerns it.\n\n\
         Incident: {title} ({severity}), declared {declared}, reference {id}.\n\n\
         Nature of the incident: {nature}\n\n\
         Categories and approximate numbers of people and records concerned: {categories}\n\n\
         Likely consequences: {consequences}\n\n\
         Measures taken or proposed: {measures}\n\n\
         Contact: {contact}\n\n\
         Your clinic's owners can read this notification under GET /api/v1/incidents.\n",
        title = incident.title,
        severity = incident.severity.as_str(),
        declared = incident.declared_at.to_rfc3339(),
        id = incident.id.uuid(),
        nature = notice.nature,
        categories = notice.categories_and_numbers,
        consequences = notice.likely_consequences,
        measures = notice.measures_taken,
        contact = notice.contact,
    );
    (subject, body)
}
