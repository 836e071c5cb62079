//! Restriction of processing and objection (GDPR articles 18 and 21): while a
//! patient's record is restricted it serves care only. Reminders are the clinic's
//! one processing beyond care: setting the restriction withdraws the pending ones
//! and `Reminders::sync_reminders` queues none while it holds; lifting it queues
//! them again for the appointments still ahead.

use super::PatientRights;
use crate::DomainError;
use crate::access::Permission;
use crate::actor::Actor;
use crate::concurrency::Expected;
use crate::identity::model::ClientInfo;
use crate::ids::PatientId;
use crate::paging::MAX_PAGE;
use crate::ports::appointments::AppointmentQuery;
use crate::ports::patients::{Patient, StoredPatient};
use crate::store::{RightsTx, Scope};

impl PatientRights {
    /// Restricts (`restricted`) or resumes processing of a patient's record. Like
    /// archiving, the row is locked, `If-Match` is required, and a record already
    /// in the state asked for is answered as it is.
    pub fn set_restriction(
        &self,
        actor: &Actor,
        id: PatientId,
        restricted: bool,
        expected: Option<Expected>,
        client: &ClientInfo,
    ) -> Result<Patient, DomainError> {
        actor.require(Permission::PatientsUpdate)?;
        let now = self.core.now();
        self.committed(Scope::Clinic(actor.clinic_id), |tx| {
            let changed = self.patients.change_state(
                tx,
                actor.clinic_id,
                id,
                expected,
                |p| p.restricted_at.is_some() == restricted,
                |p| StoredPatient {
                    restricted_at: restricted.then_some(now),
                    ..p
                },
            )?;
            let (stored, changed) = match changed {
                Ok(done) => done,
                Err(refused) => return Ok(Err(refused)),
            };
            if changed {
                self.resync_reminders(tx, actor, id)?;
                let action = if restricted {
                    crate::audit::actions::PATIENT_PROCESSING_RESTRICTED
                } else {
                    crate::audit::actions::PATIENT_PROCESSING_RESUMED
                };
                self.core
                    .audit_action(tx, actor, action, ("patient", id), client)?;
            }
            let keys = self.core.clinic_keys(tx, actor.clinic_id)?;
            Ok(Ok(self.patients.open_patient(tx, actor, &keys, stored)?))
        })
    }

    /// Brings the reminders of the patient's appointments still ahead in line
    /// with the record as it now stands (withdrawn while restricted).
    fn resync_reminders(
        &self,
        tx: &mut dyn RightsTx,
        actor: &Actor,
        patient: PatientId,
    ) -> Result<(), DomainError> {
        let mut query = AppointmentQuery {
            from: Some(self.core.now()),
            patient: Some(patient),
            limit: MAX_PAGE,
            ..AppointmentQuery::default()
        };
        loop {
            let page = tx.appointments(actor.clinic_id, &query)?;
            for appointment in &page.items {
                self.reminders
                    .sync_reminders(tx, actor.clinic_id, appointment)?;
            }
            match page.next {
                Some(next) => query.after = Some(next),
                None => return Ok(()),
            }
        }
    }
}
