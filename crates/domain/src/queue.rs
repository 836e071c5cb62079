//! The waiting queue: check-in (from an appointment or walk-in), a ticket number
//! per clinic per day, call next (safe under concurrency), start, complete, left.

use crate::DomainError;
use crate::access::Permission;
use crate::actor::Actor;
use crate::audit::AuditRecord;
use crate::concurrency::{Expected, bump_version, lock_version};
use crate::identity::model::ClientInfo;
use crate::ids::{AppointmentId, MembershipId, PatientId, QueueEntryId};
use crate::ports::appointments::Status as AppointmentStatus;
use crate::ports::queue::{QueueEntry, QueueStatus};
use crate::records;
use crate::shared::{Core, transactions};
use crate::store::Scope;
use crate::webhooks::events::{Event, EventType};

/// The day's waiting queue.
#[derive(Clone)]
pub struct Queue {
    core: Core,
}

impl Queue {
    /// The service over the shared core.
    pub fn new(core: Core) -> Self {
        Self { core }
    }

    transactions!(QueueTx, committed);

    /// Checks a patient in, from an appointment (which becomes `checked_in`) or as a walk-in.
    pub fn check_in(
        &self,
        actor: &Actor,
        patient: PatientId,
        appointment: Option<AppointmentId>,
        practitioner: Option<MembershipId>,
        client: &ClientInfo,
    ) -> Result<QueueEntry, DomainError> {
        actor.require(Permission::QueueManage)?;
        let now = self.core.now();
        let day = now.date_naive();
        self.committed(Scope::Clinic(actor.clinic_id), |tx| {
            let state = tx.record_state(actor.clinic_id, patient)?;
            if let Err(refused) = records::require_active(state, || {
                DomainError::invalid("patient_id", "unknown", "is not a patient of this clinic")
            }) {
                return Ok(Err(refused));
            }
            let mut practitioner = practitioner;
            if let Some(id) = appointment {
                let Some(mut a) = tx.appointment(actor.clinic_id, id)? else {
                    return Ok(Err(DomainError::invalid(
                        "appointment_id",
                        "unknown",
                        "is not an appointment of this clinic",
                    )));
                };
                if a.patient_id != patient {
                    return Ok(Err(DomainError::invalid(
                        "appointment_id",
                        "other_patient",
                        "belongs to another patient",
                    )));
                }
                if !a.status.can_become(AppointmentStatus::CheckedIn) {
                    return Ok(Err(DomainError::Conflict {
                        code: "illegal_transition",
                        detail: format!(
                            "The appointment is {}; it cannot be checked in.",
                            a.status.as_str()
                        ),
                    }));
                }
                a.status = AppointmentStatus::CheckedIn;
                a.updated_at = now;
                // A change of the appointment like any other: a new version.
                a.version += 1;
                tx.update_appointment(actor.clinic_id, &a)?;
                self.core.emit(
                    tx,
                    actor.clinic_id,
                    Event::appointment(EventType::AppointmentStatusChanged, &a),
                )?;
                practitioner = practitioner.or(Some(a.practitioner_id));
            }
            let entry = QueueEntry {
                id: self.core.new_id(),
                day,
                ticket: tx.next_ticket(actor.clinic_id, day)?,
                patient_id: patient,
                appointment_id: appointment,
                practitioner_id: practitioner,
                status: QueueStatus::Waiting,
                checked_in_at: now,
                called_at: None,
                version: 1,
            };
            tx.insert_entry(actor.clinic_id, &entry)?;
            self.core.emit(
                tx,
                actor.clinic_id,
                Event::queue(EventType::QueueCheckedIn, &entry),
            )?;
            self.core.audit_action(
                tx,
                actor,
                crate::audit::actions::QUEUE_CHECKED_IN,
                ("queue_entry", entry.id),
                client,
            )?;
            Ok(Ok(entry))
        })
    }

    /// Today's queue.
    pub fn queue(&self, actor: &Actor) -> Result<Vec<QueueEntry>, DomainError> {
        actor.require(Permission::QueueManage)?;
        let day = self.core.now().date_naive();
        self.tx(Scope::Clinic(actor.clinic_id), |tx| {
            tx.entries(actor.clinic_id, day)
        })
    }

    /// Calls the next waiting patient; two callers at once never get the same one.
    pub fn call_next(
        &self,
        actor: &Actor,
        practitioner: Option<MembershipId>,
        client: &ClientInfo,
    ) -> Result<Option<QueueEntry>, DomainError> {
        actor.require(Permission::QueueManage)?;
        let now = self.core.now();
        self.tx(Scope::Clinic(actor.clinic_id), |tx| {
            let Some(mut entry) = tx.claim_next(actor.clinic_id, now.date_naive(), practitioner)?
            else {
                return Ok(None);
            };
            tx.set_entry_status(actor.clinic_id, entry.id, QueueStatus::Called, now)?;
            self.core.audit_action(
                tx,
                actor,
                crate::audit::actions::QUEUE_CALLED,
                ("queue_entry", entry.id),
                client,
            )?;
            entry.status = QueueStatus::Called;
            entry.called_at = Some(now);
            // A change of the entry like any other: a new version.
            entry.version = bump_version(tx, actor.clinic_id, entry.id)?;
            self.core.emit(
                tx,
                actor.clinic_id,
                Event::queue(EventType::QueueCalled, &entry),
            )?;
            Ok(Some(entry))
        })
    }

    /// Moves a called entry on: start, complete, or left.
    pub fn advance_queue(
        &self,
        actor: &Actor,
        id: QueueEntryId,
        to: QueueStatus,
        expected: Option<Expected>,
        client: &ClientInfo,
    ) -> Result<QueueEntry, DomainError> {
        actor.require(Permission::QueueManage)?;
        let now = self.core.now();
        self.committed(Scope::Clinic(actor.clinic_id), |tx| {
            // An entry of a patient in the records archive stays as it is.
            if let Some(entry) = tx.entry(actor.clinic_id, id)? {
                let state = tx.record_state(actor.clinic_id, entry.patient_id)?;
                if let Err(refused) = records::require_active(state, || DomainError::NotFound) {
                    return Ok(Err(refused));
                }
            }
            // Locked, so concurrent moves take turns; a move to where the entry is
            // already is answered as it is, whatever version was named.
            if lock_version(tx, actor.clinic_id, id)?.is_none() {
                return Ok(Err(DomainError::NotFound));
            }
            let Some(mut entry) = tx.entry(actor.clinic_id, id)? else {
                return Ok(Err(DomainError::NotFound));
            };
            let Some(expected) = expected else {
                return Ok(Err(DomainError::PreconditionRequired));
            };
            if entry.status == to {
                return Ok(Ok(entry));
            }
            if let Err(stale) = expected.check(entry.version) {
                return Ok(Err(stale));
            }
            if !entry.status.can_become(to) {
                return Ok(Err(DomainError::Conflict {
                    code: "illegal_transition",
                    detail: format!(
                        "The entry is {}; it cannot become {}.",
                        entry.status.as_str(),
                        to.as_str()
                    ),
                }));
            }
            tx.set_entry_status(actor.clinic_id, id, to, now)?;
            self.core.audit(
                tx,
                AuditRecord::by(actor, crate::audit::actions::QUEUE_ADVANCED)
                    .on("queue_entry", id)
                    .detail("to", to.as_str()),
                client,
            )?;
            entry.status = to;
            entry.version = bump_version(tx, actor.clinic_id, id)?;
            self.core.emit(
                tx,
                actor.clinic_id,
                Event::queue(EventType::QueueStatusChanged, &entry),
            )?;
            Ok(Ok(entry))
        })
    }
}
