//! Access and portability (GDPR articles 15 and 20): a patient's whole record in
//! one answer (demographics, medical history, appointments with their reasons,
//! clinical notes with their amendments, and who accessed the record), for a
//! member with `patients.export` and `clinical.read` after a recent MFA check.
//! The HTTP layer renders it as JSON or as a FHIR R4 bundle.

use chrono::{DateTime, Utc};

use super::PatientRights;
use crate::DomainError;
use crate::access::Permission;
use crate::actor::Actor;
use crate::audit::{AuditEvent, AuditRecord, Outcome};
use crate::identity::model::ClientInfo;
use crate::ids::{AccountId, MembershipId, PatientId};
use crate::paging::MAX_PAGE;
use crate::ports::appointments::{Appointment, AppointmentQuery};
use crate::ports::audit::Cursor;
use crate::ports::notes::Note;
use crate::ports::patients::Patient;
use crate::records;
use crate::store::{RightsTx, Scope};

/// Access-log events read per round trip while exporting.
const LOG_BATCH: i64 = 1_000;

/// One recorded access to the record: who, what and when (no client address: that
/// is the member's data, not the patient's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessEntry {
    /// When.
    pub at: DateTime<Utc>,
    /// The action code (`patient.clinical_read`, `note.list_read`, ...).
    pub action: String,
    /// How it ended.
    pub outcome: Outcome,
    /// The acting account.
    pub account: Option<AccountId>,
    /// The acting membership.
    pub membership: Option<MembershipId>,
}

impl From<&AuditEvent> for AccessEntry {
    fn from(e: &AuditEvent) -> Self {
        Self {
            at: e.event.occurred_at,
            action: e.event.action.clone(),
            outcome: e.event.outcome,
            account: e.event.account_id,
            membership: e.event.membership_id,
        }
    }
}

/// A patient's whole record, opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientRecord {
    /// When it was exported.
    pub exported_at: DateTime<Utc>,
    /// Demographics and medical history.
    pub patient: Patient,
    /// Every appointment, in start order, reasons opened.
    pub appointments: Vec<Appointment>,
    /// Every note and amendment, in writing order.
    pub notes: Vec<Note>,
    /// Who read or changed the record, newest first (up to this export).
    pub access_log: Vec<AccessEntry>,
}

impl PatientRights {
    /// The patient's whole record (`patients.export` and `clinical.read`, step-up),
    /// recorded as `patient.exported` with the `format` asked for.
    pub fn export_record(
        &self,
        actor: &Actor,
        id: PatientId,
        format: &'static str,
        client: &ClientInfo,
    ) -> Result<PatientRecord, DomainError> {
        actor.require(Permission::PatientsExport)?;
        actor.require(Permission::ClinicalRead)?;
        actor.require_step_up(self.core.now())?;
        crate::purpose::require(actor.purpose_of_use_required, client.purpose_of_use)?;
        let exported_at = self.core.now();
        self.core
            .settle_audit(actor.clinic_id.into(), Some(actor.clinic_id))?;
        self.tx(Scope::Clinic(actor.clinic_id), |tx| {
            let stored = tx
                .patient(actor.clinic_id, id)?
                .ok_or(DomainError::NotFound)?;
            if stored.records_archived_at.is_some() {
                return Err(records::in_archive());
            }
            let keys = self.core.clinic_keys(tx, actor.clinic_id)?;
            let patient = self.patients.open_patient(tx, actor, &keys, stored)?;
            let mut appointments = Vec::new();
            let mut query = AppointmentQuery {
                patient: Some(id),
                limit: MAX_PAGE,
                ..AppointmentQuery::default()
            };
            loop {
                let page = tx.appointments(actor.clinic_id, &query)?;
                for a in page.items {
                    appointments.push(self.appointments.open_appointment(
                        tx,
                        actor,
                        Some(&keys),
                        a,
                    )?);
                }
                match page.next {
                    Some(next) => query.after = Some(next),
                    None => break,
                }
            }
            let notes = tx
                .notes(actor.clinic_id, id)?
                .into_iter()
                .map(|n| self.notes.open_note(tx, actor, n))
                .collect::<Result<Vec<_>, _>>()?;
            let access_log = access_log(tx, actor, id)?;
            self.core.audit(
                tx,
                AuditRecord::by(actor, crate::audit::actions::PATIENT_EXPORTED)
                    .on("patient", id)
                    .detail("format", format)
                    .detail(
                        "purpose_of_use",
                        client
                            .purpose_of_use
                            .map(crate::purpose::PurposeOfUse::code),
                    ),
                client,
            )?;
            Ok(PatientRecord {
                exported_at,
                patient,
                appointments,
                notes,
                access_log,
            })
        })
    }
}

/// Every event of the patient's access log, newest first.
fn access_log(
    tx: &mut dyn RightsTx,
    actor: &Actor,
    patient: PatientId,
) -> Result<Vec<AccessEntry>, DomainError> {
    let mut entries = Vec::new();
    let mut before = None;
    loop {
        let events = tx.patient_audit_events(actor.clinic_id, patient, before, LOG_BATCH)?;
        entries.extend(events.iter().map(AccessEntry::from));
        match events.last() {
            Some(last) if i64::try_from(events.len()).is_ok_and(|n| n == LOG_BATCH) => {
                before = Some(Cursor {
                    at: last.event.occurred_at,
                    id: last.event.id,
                    seq: last.seq,
                });
            }
            _ => return Ok(entries),
        }
    }
}
