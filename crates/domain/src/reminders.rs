//! Appointment reminders: for patients who consented on a channel, queued in the
//! outbox at the clinic's offset before the appointment; moved on reschedule,
//! withdrawn on cancel, and never queued while the patient restricts processing.
//! They hold only date, time and clinic name.

use chrono::Duration;

use crate::DomainError;
use crate::ids::{AppointmentId, ClinicId};
use crate::outbox::{Channel, NewMessage};
use crate::ports::appointments::StoredAppointment;
use crate::ports::reminders::Reminder;
use crate::shared::Core;
use crate::store::RemindersTx;

/// Appointment reminders, kept in step with their appointment.
#[derive(Clone)]
pub struct Reminders {
    core: Core,
}

impl Reminders {
    /// The service over the shared core.
    pub fn new(core: Core) -> Self {
        Self { core }
    }

    /// Brings an appointment's reminders in line with it: withdraws the pending
    /// ones, then queues new ones when it is active, in the future, the patient
    /// does not restrict processing, and consented on a channel with a contact on
    /// file.
    pub(crate) fn sync_reminders(
        &self,
        tx: &mut dyn RemindersTx,
        clinic: ClinicId,
        appointment: &StoredAppointment,
    ) -> Result<(), DomainError> {
        let previous = tx.reminders(clinic, appointment.id)?;
        tx.delete_reminders(clinic, appointment.id)?;
        for (_, outbox, _) in previous {
            tx.withdraw(outbox)?;
        }
        let now = self.core.now();
        let Some(settings) = tx.clinic(clinic)? else {
            return Ok(());
        };
        let send_at =
            appointment.starts_at - Duration::hours(i64::from(settings.reminder_offset_hours));
        if !appointment.status.is_active() || send_at <= now {
            return Ok(());
        }
        let Some(patient) = tx.patient(clinic, appointment.patient_id)? else {
            return Ok(());
        };
        if patient.restricted_at.is_some() {
            return Ok(());
        }
        let tz = crate::schedule::parse_time_zone(&settings.time_zone)?;
        let local = appointment.starts_at.with_timezone(&tz);
        let text = format!(
            "Reminder from {}: your appointment is on {} at {}.",
            settings.name,
            local.format("%Y-%m-%d"),
            local.format("%H:%M")
        );
        let f = &patient.fields;
        let channels = [
            (Channel::Email, f.reminder_email, f.email.clone()),
            (Channel::Sms, f.reminder_sms, f.phone.clone()),
        ];
        for (channel, consented, contact) in channels {
            let (true, Some(recipient)) = (consented, contact) else {
                continue;
            };
            let id = self.core.new_id();
            tx.enqueue(&NewMessage {
                id,
                channel,
                recipient,
                subject: if channel == Channel::Email {
                    format!("Appointment reminder from {}", settings.name)
                } else {
                    String::new()
                },
                body: text.clone(),
                created_at: now,
                available_at: send_at,
            })?;
            tx.insert_reminder(clinic, appointment.id, channel, id, send_at)?;
        }
        Ok(())
    }

    /// The reminders of an appointment with their delivery status.
    pub(crate) fn reminder_status(
        &self,
        tx: &mut dyn RemindersTx,
        clinic: ClinicId,
        appointment: AppointmentId,
    ) -> Result<Vec<Reminder>, DomainError> {
        let mut out = Vec::new();
        for (channel, outbox, scheduled_for) in tx.reminders(clinic, appointment)? {
            if let Some(status) = tx.delivery_status(outbox)? {
                out.push(Reminder {
                    channel,
                    scheduled_for,
                    status,
                });
            }
        }
        Ok(out)
    }
}
