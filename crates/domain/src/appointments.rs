//! Practitioners and appointments: booking (the database refuses double booking),
//! an explicit status state machine, rescheduling, and a history of every change.

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::DomainError;
use crate::access::Permission;
use crate::actor::Actor;
use crate::audit::AuditRecord;
use crate::concurrency::{Expected, lock_checked, lock_version};
use crate::crypto::ClinicKeys;
use crate::identity::model::ClientInfo;
use crate::ids::{AppointmentId, ClinicId, PatientId};
use crate::paging::{MAX_PAGE, Page};
use crate::ports::appointments::{
    Appointment, AppointmentKey, AppointmentQuery, DOUBLE_BOOKING, HistoryEntry, NewBooking,
    Status, StoredAppointment,
};
use crate::records;
use crate::reminders::Reminders;
use crate::schedule::clinic_time_zone;
use crate::shared::{Core, SealedField, transactions};
use crate::store::{AppointmentsTx, Scope};
use crate::webhooks::events::{Event, EventType};

const TABLE: &str = "appointments";

fn taken() -> DomainError {
    DomainError::Conflict {
        code: DOUBLE_BOOKING,
        detail: "The practitioner already has an appointment overlapping this slot.".into(),
    }
}

/// Appointments: booking, status changes, rescheduling, lists and history.
#[derive(Clone)]
pub struct Appointments {
    core: Core,
    reminders: Reminders,
}

impl Appointments {
    /// The service over the shared core.
    pub fn new(core: Core) -> Self {
        Self {
            reminders: Reminders::new(core.clone()),
            core,
        }
    }

    transactions!(AppointmentsTx, committed);

    /// The clinic keys that open appointment reasons, when the caller may read them
    /// (loaded once per transaction, not per appointment).
    fn reason_keys(
        &self,
        actor: &Actor,
        tx: &mut dyn AppointmentsTx,
    ) -> Result<Option<ClinicKeys>, DomainError> {
        if actor.permissions.contains(Permission::ClinicalRead) {
            self.core.clinic_keys(tx, actor.clinic_id).map(Some)
        } else {
            Ok(None)
        }
    }

    /// A stored appointment as the caller may see it: the reason opened with
    /// `keys` when given (a reason that fails its integrity check is answered
    /// unavailable: see [`Appointments::open_sealed`]).
    pub(crate) fn open_appointment(
        &self,
        tx: &mut dyn AppointmentsTx,
        actor: &Actor,
        keys: Option<&ClinicKeys>,
        stored: StoredAppointment,
    ) -> Result<Appointment, DomainError> {
        let mut unavailable = Vec::new();
        let reason = match (&stored.sealed_reason, keys) {
            (Some(sealed), Some(keys)) => {
                let field = SealedField {
                    resource: "appointment",
                    table: TABLE,
                    column: "reason",
                    row: stored.id.into(),
                    sealed,
                };
                self.core
                    .open_sealed(tx, actor, keys, field, &mut unavailable)?
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
            }
            _ => None,
        };
        Ok(Appointment {
            stored,
            reason,
            reminders: None,
            unavailable,
        })
    }

    /// An appointment opened with the reason keys the caller may use.
    fn open_reasoned(
        &self,
        tx: &mut dyn AppointmentsTx,
        actor: &Actor,
        stored: StoredAppointment,
    ) -> Result<Appointment, DomainError> {
        let keys = self.reason_keys(actor, tx)?;
        self.open_appointment(tx, actor, keys.as_ref(), stored)
    }

    /// Books an appointment. Overlapping an active appointment of the same
    /// practitioner is refused by the database (409 `slot_taken`).
    pub fn book(
        &self,
        actor: &Actor,
        booking: &NewBooking,
        client: &ClientInfo,
    ) -> Result<Appointment, DomainError> {
        actor.require(Permission::AppointmentsCreate)?;
        let NewBooking {
            patient,
            practitioner,
            starts_at,
            ends_at,
            ref reason,
            ..
        } = *booking;
        if ends_at <= starts_at {
            return Err(DomainError::invalid(
                "ends_at",
                "after_start",
                "must be after starts_at",
            ));
        }
        let now = self.core.now();
        let id = self.core.new_id();
        self.committed(Scope::Clinic(actor.clinic_id), |tx| {
            let state = tx.record_state(actor.clinic_id, patient)?;
            if let Err(refused) = records::require_active(state, || {
                DomainError::invalid("patient_id", "unknown", "is not a patient of this clinic")
            }) {
                return Ok(Err(refused));
            }
            if !tx.is_practitioner(actor.clinic_id, practitioner)? {
                return Ok(Err(DomainError::invalid(
                    "practitioner_id",
                    "unknown",
                    "is not a practitioner of this clinic",
                )));
            }
            let tz = clinic_time_zone(tx, actor.clinic_id)?;
            let hours = tx.hours(actor.clinic_id, practitioner)?;
            let absences = tx.absences(actor.clinic_id, practitioner, (starts_at, ends_at))?;
            if !crate::schedule::within_hours(tz, &hours, &absences, starts_at, ends_at) {
                if !booking.override_hours {
                    return Ok(Err(DomainError::Conflict {
                        code: "outside_working_hours",
                        detail: "The slot is outside the practitioner's working hours; book with override_hours to force it.".into(),
                    }));
                }
                if let Err(e) = actor.require(Permission::AppointmentsOverride) {
                    return Ok(Err(e));
                }
            }
            let keys = self.core.clinic_keys(tx, actor.clinic_id)?;
            let sealed_reason = reason
                .as_deref()
                .map(|r| keys.seal_field(self.core.random(), TABLE, "reason", id, r.as_bytes()))
                .transpose()?;
            let stored = StoredAppointment {
                id,
                patient_id: patient,
                practitioner_id: practitioner,
                starts_at,
                ends_at,
                sealed_reason,
                status: Status::Scheduled,
                cancel_reason: None,
                created_at: now,
                updated_at: now,
                version: 1,
            };
            match tx.insert_appointment(actor.clinic_id, &stored) {
                Err(DomainError::Conflict {
                    code: DOUBLE_BOOKING,
                    ..
                }) => return Ok(Err(taken())),
                other => other?,
            }
            let entry = HistoryEntry {
                at: now,
                actor: actor.membership_id,
                change: json!({"status": {"from": null, "to": "scheduled"}, "starts_at": {"from": null, "to": starts_at}, "ends_at": {"from": null, "to": ends_at}}),
            };
            tx.add_history(actor.clinic_id, self.core.new_id(), id, &entry)?;
            self.reminders.sync_reminders(tx, actor.clinic_id, &stored)?;
            self.core.emit(
                tx,
                actor.clinic_id,
                Event::appointment(EventType::AppointmentBooked, &stored),
            )?;
            self.core.audit_action(
                tx,
                actor,
                crate::audit::actions::APPOINTMENT_CREATED,
                ("appointment", id),
                client,
            )?;
            Ok(Ok(self.open_reasoned(tx, actor, stored)?))
        })
    }

    /// Reads an appointment.
    pub fn get_appointment(
        &self,
        actor: &Actor,
        id: AppointmentId,
        client: &ClientInfo,
    ) -> Result<Appointment, DomainError> {
        actor.require(Permission::AppointmentsRead)?;
        self.tx(Scope::Clinic(actor.clinic_id), |tx| {
            let stored = reachable(tx, actor.clinic_id, id)??;
            let reminders = self.reminders.reminder_status(tx, actor.clinic_id, id)?;
            let patient = (stored.sealed_reason.is_some()).then_some([stored.patient_id]);
            let mut appointment = self.open_reasoned(tx, actor, stored)?;
            appointment.reminders = Some(reminders);
            // Last, so the chain's head is locked only until the commit.
            if let Some(patient) = patient {
                self.core.audit_clinical_read(
                    tx,
                    actor,
                    crate::audit::actions::APPOINTMENT_CLINICAL_READ,
                    ("appointment", id),
                    &patient,
                    client,
                )?;
            }
            Ok(appointment)
        })
    }

    /// Moves an appointment along the state machine; an illegal move is a 409
    /// naming the current state. Cancelling needs `appointments.cancel` and a reason.
    pub fn change_status(
        &self,
        actor: &Actor,
        id: AppointmentId,
        to: Status,
        cancel_reason: Option<&str>,
        expected: Option<Expected>,
        client: &ClientInfo,
    ) -> Result<Appointment, DomainError> {
        if to == Status::Cancelled {
            actor.require(Permission::AppointmentsCancel)?;
            if cancel_reason.is_none_or(|r| r.trim().is_empty()) {
                return Err(DomainError::invalid(
                    "reason",
                    "required",
                    "a cancellation needs a reason",
                ));
            }
        } else {
            actor.require(Permission::AppointmentsUpdate)?;
        }
        let now = self.core.now();
        self.committed(Scope::Clinic(actor.clinic_id), |tx| {
            if let Err(refused) = reachable(tx, actor.clinic_id, id)? {
                return Ok(Err(refused));
            }
            // Locked, so concurrent changes take turns; one to the status it has
            // already is answered as it is, whatever version was named.
            if lock_version(tx, actor.clinic_id, id)?.is_none() {
                return Ok(Err(DomainError::NotFound));
            }
            let Some(current) = tx.appointment(actor.clinic_id, id)? else {
                return Ok(Err(DomainError::NotFound));
            };
            let Some(expected) = expected else {
                return Ok(Err(DomainError::PreconditionRequired));
            };
            if current.status == to {
                return Ok(Ok(self.open_reasoned(tx, actor, current)?));
            }
            if let Err(stale) = expected.check(current.version) {
                return Ok(Err(stale));
            }
            if !current.status.can_become(to) {
                return Ok(Err(DomainError::Conflict {
                    code: "illegal_transition",
                    detail: format!(
                        "The appointment is {}; it cannot become {}.",
                        current.status.as_str(),
                        to.as_str()
                    ),
                }));
            }
            let from = current.status;
            let updated = StoredAppointment {
                status: to,
                cancel_reason: cancel_reason
                    .map(|r| r.trim().to_owned())
                    .or(current.cancel_reason.clone()),
                updated_at: now,
                version: current.version + 1,
                ..current
            };
            tx.update_appointment(actor.clinic_id, &updated)?;
            let entry = HistoryEntry {
                at: now,
                actor: actor.membership_id,
                change: json!({"status": {"from": from.as_str(), "to": to.as_str()}}),
            };
            tx.add_history(actor.clinic_id, self.core.new_id(), id, &entry)?;
            self.reminders
                .sync_reminders(tx, actor.clinic_id, &updated)?;
            let event = if to == Status::Cancelled {
                EventType::AppointmentCancelled
            } else {
                EventType::AppointmentStatusChanged
            };
            self.core
                .emit(tx, actor.clinic_id, Event::appointment(event, &updated))?;
            self.core.audit(
                tx,
                AuditRecord::by(actor, crate::audit::actions::APPOINTMENT_STATUS_CHANGED)
                    .on("appointment", id)
                    .detail("from", from.as_str())
                    .detail("to", to.as_str()),
                client,
            )?;
            Ok(Ok(self.open_reasoned(tx, actor, updated)?))
        })
    }

    /// Moves an appointment to another slot (same practitioner).
    pub fn reschedule(
        &self,
        actor: &Actor,
        id: AppointmentId,
        starts_at: DateTime<Utc>,
        ends_at: DateTime<Utc>,
        expected: Option<Expected>,
        client: &ClientInfo,
    ) -> Result<Appointment, DomainError> {
        actor.require(Permission::AppointmentsUpdate)?;
        if ends_at <= starts_at {
            return Err(DomainError::invalid(
                "ends_at",
                "after_start",
                "must be after starts_at",
            ));
        }
        let now = self.core.now();
        self.committed(Scope::Clinic(actor.clinic_id), |tx| {
            if let Err(refused) = reachable(tx, actor.clinic_id, id)? {
                return Ok(Err(refused));
            }
            if let Err(refused) = lock_checked(tx, actor.clinic_id, id, expected) {
                return Ok(Err(refused));
            }
            let Some(current) = tx.appointment(actor.clinic_id, id)? else {
                return Ok(Err(DomainError::NotFound));
            };
            if !matches!(current.status, Status::Scheduled | Status::Confirmed) {
                return Ok(Err(DomainError::Conflict {
                    code: "illegal_transition",
                    detail: format!(
                        "The appointment is {}; only scheduled or confirmed ones move.",
                        current.status.as_str()
                    ),
                }));
            }
            let change = json!({
                "starts_at": {"from": current.starts_at, "to": starts_at},
                "ends_at": {"from": current.ends_at, "to": ends_at},
            });
            let updated = StoredAppointment {
                starts_at,
                ends_at,
                updated_at: now,
                version: current.version + 1,
                ..current
            };
            match tx.update_appointment(actor.clinic_id, &updated) {
                Err(DomainError::Conflict {
                    code: DOUBLE_BOOKING,
                    ..
                }) => return Ok(Err(taken())),
                other => other?,
            }
            tx.add_history(
                actor.clinic_id,
                self.core.new_id(),
                id,
                &HistoryEntry {
                    at: now,
                    actor: actor.membership_id,
                    change,
                },
            )?;
            self.reminders
                .sync_reminders(tx, actor.clinic_id, &updated)?;
            self.core.emit(
                tx,
                actor.clinic_id,
                Event::appointment(EventType::AppointmentRescheduled, &updated),
            )?;
            self.core.audit_action(
                tx,
                actor,
                crate::audit::actions::APPOINTMENT_RESCHEDULED,
                ("appointment", id),
                client,
            )?;
            Ok(Ok(self.open_reasoned(tx, actor, updated)?))
        })
    }

    /// Lists appointments by filters, in time order.
    pub fn list_appointments(
        &self,
        actor: &Actor,
        mut q: AppointmentQuery,
        client: &ClientInfo,
    ) -> Result<Page<Appointment, AppointmentKey>, DomainError> {
        actor.require(Permission::AppointmentsRead)?;
        q.limit = q.limit.clamp(1, MAX_PAGE);
        self.tx(Scope::Clinic(actor.clinic_id), |tx| {
            let keys = self.reason_keys(actor, tx)?;
            let found = tx.appointments(actor.clinic_id, &q)?;
            let with_reason: Vec<PatientId> = found
                .items
                .iter()
                .filter(|a| a.sealed_reason.is_some())
                .map(|a| a.patient_id)
                .collect();
            let page = found.try_map(|a| self.open_appointment(tx, actor, keys.as_ref(), a))?;
            // Last, so the chain's head is locked only until the commit.
            if !with_reason.is_empty() {
                self.core.audit_clinical_read(
                    tx,
                    actor,
                    crate::audit::actions::APPOINTMENT_LIST_CLINICAL_READ,
                    ("clinic", actor.clinic_id),
                    &with_reason,
                    client,
                )?;
            }
            Ok(page)
        })
    }

    /// The history of an appointment (promise L3).
    pub fn appointment_history(
        &self,
        actor: &Actor,
        id: AppointmentId,
    ) -> Result<Vec<HistoryEntry>, DomainError> {
        actor.require(Permission::AppointmentsRead)?;
        self.tx(Scope::Clinic(actor.clinic_id), |tx| {
            reachable(tx, actor.clinic_id, id)??;
            tx.history(actor.clinic_id, id)
        })
    }
}

/// An appointment, when its patient's record is active: a 404 for a missing
/// one, 403 `patient_in_archive` for one of a patient in the records archive,
/// before any lock or version check.
fn reachable(
    tx: &mut dyn AppointmentsTx,
    clinic: ClinicId,
    id: AppointmentId,
) -> Result<Result<StoredAppointment, DomainError>, DomainError> {
    let Some(stored) = tx.appointment(clinic, id)? else {
        return Ok(Err(DomainError::NotFound));
    };
    let state = tx.record_state(clinic, stored.patient_id)?;
    Ok(records::require_active(state, || DomainError::NotFound).map(|()| stored))
}

#[cfg(test)]
mod tests {
    use super::Status;

    #[test]
    fn the_state_machine_allows_only_its_edges() {
        use Status::*;
        assert!(Scheduled.can_become(Confirmed));
        assert!(Confirmed.can_become(CheckedIn));
        assert!(CheckedIn.can_become(InProgress));
        assert!(InProgress.can_become(Completed));
        assert!(Scheduled.can_become(Cancelled));
        assert!(Confirmed.can_become(NoShow));
        for terminal in [Completed, Cancelled, NoShow] {
            assert!(
                Status::ALL.iter().all(|to| !terminal.can_become(*to)),
                "{terminal:?} is final"
            );
        }
        assert!(!Scheduled.can_become(Completed));
        assert!(!InProgress.can_become(Cancelled));
        assert!(!CheckedIn.can_become(NoShow));
    }
}
