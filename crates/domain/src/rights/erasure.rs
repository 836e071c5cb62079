//! Erasure where the law allows (GDPR article 17): a member records the patient's
//! request, the clinic decides. Medical records have a legal retention period (the
//! clinic's `record_retention_years` after the last encounter), so `erase` is
//! refused while it runs; otherwise one transaction deletes every row of the
//! patient in every table that names them (the database function walks the
//! catalogue), checks by a second query that nothing remains, keeps a tombstone
//! without identity, records the erasure in the audit trail (by id, never by name)
//! and keeps a signed entry in the destruction register, so no restore brings the
//! patient back.

use chrono::{DateTime, Months, Utc};

use super::PatientRights;
use crate::DomainError;
use crate::access::Permission;
use crate::actor::Actor;
use crate::audit::actions;
use crate::audit::record::AuditRecord;
use crate::closure::certificate::{PATIENT_ERASED, PatientErasure, Signed, entry_name};
use crate::identity::model::ClientInfo;
use crate::ids::PatientId;
use crate::ports::erasure::{Decided, ErasureDecision, ErasureRequest, Tombstone};
use crate::store::{RightsTx, Scope};
use crate::webhooks::events::Event;

/// Where a patient's erasure stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErasureStatus {
    /// The latest request, decided or not.
    Requested(ErasureRequest),
    /// The patient was erased: only the tombstone remains.
    Erased(Tombstone),
}

/// The longest reason accepted, in characters.
const REASON_MAX: usize = 500;

fn reason(field: &str, text: &str) -> Result<String, DomainError> {
    let trimmed = text.trim();
    if trimmed.is_empty() || trimmed.chars().count() > REASON_MAX {
        return Err(DomainError::invalid(
            field,
            "length",
            "must be 1 to 500 characters",
        ));
    }
    Ok(trimmed.to_owned())
}

/// When the retention of a record whose last encounter was `last` ends.
fn retained_until(last: DateTime<Utc>, years: i32) -> DateTime<Utc> {
    let months = u32::try_from(years.max(0)).unwrap_or_default() * 12;
    last.checked_add_months(Months::new(months))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

impl PatientRights {
    /// Records a patient's erasure request (`patients.update`); the clinic then
    /// decides. One request waits at a time.
    pub fn request_erasure(
        &self,
        actor: &Actor,
        patient: PatientId,
        why: &str,
        client: &ClientInfo,
    ) -> Result<ErasureRequest, DomainError> {
        actor.require(Permission::PatientsUpdate)?;
        let why = reason("reason", why)?;
        let now = self.core.now();
        let id = self.core.new_id();
        self.tx(Scope::Clinic(actor.clinic_id), |tx| {
            if tx.patient(actor.clinic_id, patient)?.is_none() {
                return Err(DomainError::NotFound);
            }
            if let Some(open) = tx.latest_erasure_request(actor.clinic_id, patient, true)?
                && open.decided.is_none()
            {
                return Err(DomainError::Conflict {
                    code: "erasure_already_requested",
                    detail: format!(
                        "Erasure request {} waits for the clinic's decision.",
                        open.id
                    ),
                });
            }
            let request = ErasureRequest {
                id,
                patient_id: patient,
                requested_by: actor.membership_id,
                requested_at: now,
                reason: why.clone(),
                decided: None,
            };
            tx.insert_erasure_request(actor.clinic_id, &request)?;
            // The reason is free text about the patient: it stays out of the trail.
            self.core.audit(
                tx,
                AuditRecord::by(actor, actions::PATIENT_ERASURE_REQUESTED)
                    .on("patient", patient)
                    .detail("request_id", id.0.to_string()),
                client,
            )?;
            Ok(request)
        })
    }

    /// The patient's latest erasure request and its decision, or the tombstone
    /// once erased (`patients.read`); none when no request was ever made.
    pub fn erasure_status(
        &self,
        actor: &Actor,
        patient: PatientId,
    ) -> Result<ErasureStatus, DomainError> {
        actor.require(Permission::PatientsRead)?;
        self.tx(Scope::Clinic(actor.clinic_id), |tx| {
            if let Some(tombstone) = tx.tombstone(actor.clinic_id, patient)? {
                return Ok(ErasureStatus::Erased(tombstone));
            }
            if tx.patient(actor.clinic_id, patient)?.is_none() {
                return Err(DomainError::NotFound);
            }
            tx.latest_erasure_request(actor.clinic_id, patient, false)?
                .map(ErasureStatus::Requested)
                .ok_or(DomainError::NotFound)
        })
    }

    /// Decides the patient's pending erasure request (`patients.erase`,
    /// step-up). `Refuse` records the decision; `Erase` is refused while the
    /// record is under retention (`erasure_under_retention`, with the date),
    /// and otherwise erases the patient everywhere in this transaction.
    pub fn decide_erasure(
        &self,
        actor: &Actor,
        patient: PatientId,
        decision: ErasureDecision,
        why: &str,
        client: &ClientInfo,
    ) -> Result<ErasureStatus, DomainError> {
        actor.require(Permission::PatientsErase)?;
        actor.require_step_up(self.core.now())?;
        let why = reason("reason", why)?;
        let now = self.core.now();
        self.core.registering(|kept| {
            self.tx(Scope::Clinic(actor.clinic_id), |tx| {
                let clinic = actor.clinic_id;
                if tx.patient(clinic, patient)?.is_none() {
                    return Err(DomainError::NotFound);
                }
                let request = match tx.latest_erasure_request(clinic, patient, true)? {
                    Some(r) if r.decided.is_none() => r,
                    _ => {
                        return Err(DomainError::Conflict {
                            code: "erasure_not_requested",
                            detail: "No erasure request waits for a decision: record the \
                                 patient's request first (POST /api/v1/patients/{id}/erasure)."
                                .to_owned(),
                        });
                    }
                };
                if decision == ErasureDecision::Erase {
                    let years = tx
                        .clinic(clinic)?
                        .ok_or(DomainError::NotFound)?
                        .record_retention_years;
                    if let Some(last) = tx.last_encounter(clinic, patient)? {
                        let until = retained_until(last, years);
                        if until > now {
                            return Err(DomainError::Conflict {
                                code: "erasure_under_retention",
                                detail: format!(
                                    "The medical record is under legal retention until {} \
                                 ({years} years after the last encounter, {}): it cannot be \
                                 erased before then.",
                                    until.to_rfc3339(),
                                    last.to_rfc3339()
                                ),
                            });
                        }
                    }
                }
                let decided = Decided {
                    decision,
                    by: actor.membership_id,
                    at: now,
                    reason: why.clone(),
                };
                tx.decide_erasure(clinic, request.id, &decided)?;
                let request = ErasureRequest {
                    decided: Some(decided),
                    ..request
                };
                if decision == ErasureDecision::Refuse {
                    self.core.audit(
                        tx,
                        AuditRecord::by(actor, actions::PATIENT_ERASURE_REFUSED)
                            .on("patient", patient)
                            .detail("request_id", request.id.0.to_string()),
                        client,
                    )?;
                    return Ok(ErasureStatus::Requested(request));
                }
                self.erase(tx, actor, request, client, kept)
                    .map(ErasureStatus::Erased)
            })
        })
    }

    /// Deletes the patient's rows everywhere, checks nothing remains, keeps the
    /// tombstone, the audit event and the register's signed entry.
    fn erase(
        &self,
        tx: &mut dyn RightsTx,
        actor: &Actor,
        request: ErasureRequest,
        client: &ClientInfo,
        kept: &mut Vec<String>,
    ) -> Result<Tombstone, DomainError> {
        let clinic = actor.clinic_id;
        let patient = request.patient_id;
        let now = self.core.now();
        let rows_deleted = tx.erase_patient(clinic, patient)?;
        let remains = tx.patient_remains(clinic, patient)?;
        if !remains.is_empty() {
            let left: Vec<String> = remains
                .iter()
                .map(|r| format!("{} ({})", r.table, r.rows))
                .collect();
            return Err(DomainError::Internal(format!(
                "patient {patient} still has rows after the erasure: {}",
                left.join(", ")
            )));
        }
        let tombstone = Tombstone {
            patient_id: patient,
            request_id: request.id,
            requested_by: request.requested_by,
            decided_by: actor.membership_id,
            erased_at: now,
        };
        tx.insert_tombstone(clinic, &tombstone)?;
        self.core.emit(tx, clinic, Event::patient_erased(patient))?;
        let entry = PatientErasure {
            kind: PATIENT_ERASED.to_owned(),
            certificate_id: self.core.new_id::<uuid::Uuid>(),
            clinic_id: clinic.0,
            patient_id: patient.0,
            request_id: request.id.0,
            requested_by: request.requested_by.0,
            requested_at: request.requested_at,
            decided_by: actor.membership_id.0,
            executed_at: now,
            rows_deleted,
        };
        let signed = Signed::sign(self.core.sealer(), &entry)?;
        let deleted: i64 = entry.rows_deleted.iter().map(|r| r.rows).sum();
        self.core.audit(
            tx,
            AuditRecord::by(actor, actions::PATIENT_ERASED)
                .on("patient", patient)
                .detail("request_id", request.id.0.to_string())
                .detail("certificate_id", entry.certificate_id.to_string())
                .detail("rows_deleted", deleted),
            client,
        )?;
        // Last: written once the rest succeeded; the transaction's commit follows.
        self.core.keep_entry(
            kept,
            &entry_name(now, PATIENT_ERASED, entry.certificate_id),
            &signed.to_file()?,
        )?;
        Ok(tombstone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_runs_in_calendar_years_from_the_last_encounter() {
        let last = DateTime::parse_from_rfc3339("2024-02-29T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            retained_until(last, 20).to_rfc3339(),
            "2044-02-29T10:00:00+00:00"
        );
        assert_eq!(
            retained_until(last, 1).to_rfc3339(),
            "2025-02-28T10:00:00+00:00"
        );
    }
}
