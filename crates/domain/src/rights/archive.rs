//! The records archive: patients without an encounter for the clinic's
//! `archive_after_years` are moved there by the archive job (each clinic in its
//! own transaction, its row locked `SKIP LOCKED` so nodes share the work). They
//! leave lists and search, `GET /api/v1/patients/{id}` refuses them
//! (`patient_in_archive`), and their record opens only by break-the-glass: a
//! member with `patients.archive_read` states a reason, which the audit event
//! keeps, and the clinic's owners are emailed. The same member brings a record
//! back (the patient came back), with a reason too. What else an archived
//! record refuses is in [`crate::records`].

use chrono::{Months, Utc};

use super::PatientRights;
use crate::DomainError;
use crate::access::Permission;
use crate::actor::Actor;
use crate::audit::actions;
use crate::audit::record::AuditRecord;
use crate::concurrency::lock_version;
use crate::identity::model::{ClientInfo, Role};
use crate::ids::{ClinicId, PatientId};
use crate::ports::patients::{Patient, StoredPatient};
use crate::store::{RightsTx, Scope};

/// Patients one clinic moves per round at most.
const MOVED_PER_ROUND: i64 = 500;

impl PatientRights {
    /// One round of the archive job: every clinic's inactive patients moved to
    /// the records archive, each clinic in its own transaction (skipped when
    /// another node holds it). How many patients moved.
    pub fn archive_inactive_patients(&self) -> Result<usize, DomainError> {
        let clinics = self.tx(Scope::Platform, |tx| tx.archive_clinics())?;
        let mut moved = 0;
        for clinic in clinics {
            moved += self.archive_clinic(clinic)?;
        }
        Ok(moved)
    }

    fn archive_clinic(&self, clinic: ClinicId) -> Result<usize, DomainError> {
        let now = self.core.now();
        self.tx(Scope::Clinic(clinic), |tx| {
            if !tx.lock_clinic_for_archive(clinic)? {
                return Ok(0);
            }
            let Some(settings) = tx.clinic(clinic)? else {
                return Ok(0);
            };
            let months = u32::try_from(settings.archive_after_years.max(1)).unwrap_or(5) * 12;
            let before = now
                .checked_sub_months(Months::new(months))
                .unwrap_or(chrono::DateTime::<Utc>::MIN_UTC);
            let moved = tx.move_to_records_archive(clinic, before, now, MOVED_PER_ROUND)?;
            for patient in &moved {
                self.core.audit(
                    tx,
                    AuditRecord::account(actions::PATIENT_MOVED_TO_ARCHIVE, None)
                        .in_clinic(Some(clinic))
                        .on("patient", *patient)
                        .detail("archive_after_years", settings.archive_after_years),
                    &ClientInfo::default(),
                )?;
            }
            Ok(moved.len())
        })
    }

    /// Break-the-glass: reads a patient's record in the records archive (or any
    /// record) with a stated reason (`patients.archive_read`). The reason is kept
    /// in the audit event; every active owner of the clinic is emailed.
    pub fn break_glass(
        &self,
        actor: &Actor,
        id: PatientId,
        reason: &str,
        client: &ClientInfo,
    ) -> Result<Patient, DomainError> {
        actor.require(Permission::PatientsArchiveRead)?;
        let reason = stated(reason)?;
        self.tx(Scope::Clinic(actor.clinic_id), |tx| {
            let stored = tx
                .patient(actor.clinic_id, id)?
                .ok_or(DomainError::NotFound)?;
            let archived = stored.records_archived_at.is_some();
            let keys = self.core.clinic_keys(tx, actor.clinic_id)?;
            let patient = self.patients.open_patient(tx, actor, &keys, stored)?;
            self.tell_owners(
                tx,
                actor,
                "Break-the-glass access to an archived record",
                &format!("opened the record of patient {id} (in the records archive: {archived})"),
                actions::PATIENT_BREAK_GLASS_READ,
            )?;
            // Last, so the chain's head is locked only until the commit.
            self.core.audit(
                tx,
                AuditRecord::by(actor, actions::PATIENT_BREAK_GLASS_READ)
                    .on("patient", id)
                    .detail("reason", reason)
                    .detail("in_records_archive", archived),
                client,
            )?;
            Ok(patient)
        })
    }

    /// Brings a record back from the records archive (the patient came back
    /// for care, or asked for their record), with a stated reason
    /// (`patients.archive_read`): back in lists and search, open to every
    /// operation again. Recorded with the reason; every active owner is
    /// emailed. A record already active is answered as it is.
    pub fn return_from_archive(
        &self,
        actor: &Actor,
        id: PatientId,
        reason: &str,
        client: &ClientInfo,
    ) -> Result<Patient, DomainError> {
        actor.require(Permission::PatientsArchiveRead)?;
        let reason = stated(reason)?;
        let now = self.core.now();
        self.tx(Scope::Clinic(actor.clinic_id), |tx| {
            let version = lock_version(tx, actor.clinic_id, id)?.ok_or(DomainError::NotFound)?;
            let mut stored = tx
                .patient(actor.clinic_id, id)?
                .ok_or(DomainError::NotFound)?;
            if stored.records_archived_at.is_some() {
                stored = StoredPatient {
                    records_archived_at: None,
                    version: version + 1,
                    updated_at: now,
                    ..stored
                };
                if !tx.update_patient(actor.clinic_id, &stored, version)? {
                    return Err(DomainError::Stale { current: version });
                }
                self.tell_owners(
                    tx,
                    actor,
                    "A record came back from the records archive",
                    &format!("brought the record of patient {id} back from the records archive"),
                    actions::PATIENT_RETURNED_FROM_ARCHIVE,
                )?;
                self.core.audit(
                    tx,
                    AuditRecord::by(actor, actions::PATIENT_RETURNED_FROM_ARCHIVE)
                        .on("patient", id)
                        .detail("reason", reason),
                    client,
                )?;
            }
            let keys = self.core.clinic_keys(tx, actor.clinic_id)?;
            self.patients.open_patient(tx, actor, &keys, stored)
        })
    }

    /// Emails every active owner of the clinic that the acting member `did`
    /// something to an archived record, recorded as `action`.
    fn tell_owners(
        &self,
        tx: &mut dyn RightsTx,
        actor: &Actor,
        subject: &str,
        did: &str,
        action: &str,
    ) -> Result<(), DomainError> {
        let members = tx.members(actor.clinic_id)?;
        let reader = members
            .iter()
            .find(|m| m.membership_id == actor.membership_id)
            .map_or_else(|| actor.membership_id.to_string(), |m| m.email.clone());
        for owner in members.iter().filter(|m| m.active && m.role == Role::Owner) {
            self.core.email(
                tx,
                &owner.email,
                subject,
                format!(
                    "{reader} {did} on {}, stating a reason. The reason and the access are in \
                     the clinic's audit trail (action {action}).",
                    self.core.now().to_rfc3339()
                ),
            )?;
        }
        Ok(())
    }
}

/// The reason stated for opening an archived record: 1 to 500 characters.
fn stated(reason: &str) -> Result<&str, DomainError> {
    let reason = reason.trim();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(DomainError::invalid(
            "reason",
            "length",
            "must be 1 to 500 characters",
        ));
    }
    Ok(reason)
}
