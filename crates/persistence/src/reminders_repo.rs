//! `RemindersRepo` on PostgreSQL.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use salus_domain::DomainError;
use salus_domain::ids::{AppointmentId, ClinicId, OutboxMessageId};
use salus_domain::outbox::Channel;
use salus_domain::ports::reminders::RemindersRepo;
use uuid::Uuid;

use crate::schema::appointment_reminders;
use crate::store::{PgTx, db_error};

type Res<T> = Result<T, DomainError>;

impl RemindersRepo for PgTx<'_> {
    fn reminders(
        &mut self,
        clinic: ClinicId,
        appointment: AppointmentId,
    ) -> Res<Vec<(Channel, OutboxMessageId, DateTime<Utc>)>> {
        let rows: Vec<(String, Uuid, DateTime<Utc>)> = appointment_reminders::table
            .filter(appointment_reminders::clinic_id.eq(clinic.0))
            .filter(appointment_reminders::appointment_id.eq(appointment.0))
            .order(appointment_reminders::channel.asc())
            .select((
                appointment_reminders::channel,
                appointment_reminders::outbox_id,
                appointment_reminders::scheduled_for,
            ))
            .load(self.conn)
            .map_err(db_error)?;
        Ok(rows
            .into_iter()
            .map(|(c, id, at)| {
                (
                    Channel::parse(&c).unwrap_or(Channel::Email),
                    OutboxMessageId(id),
                    at,
                )
            })
            .collect())
    }

    fn insert_reminder(
        &mut self,
        clinic: ClinicId,
        appointment: AppointmentId,
        channel: Channel,
        outbox: OutboxMessageId,
        at: DateTime<Utc>,
    ) -> Res<()> {
        diesel::insert_into(appointment_reminders::table)
            .values((
                appointment_reminders::clinic_id.eq(clinic.0),
                appointment_reminders::appointment_id.eq(appointment.0),
                appointment_reminders::channel.eq(channel.as_str()),
                appointment_reminders::outbox_id.eq(outbox.0),
                appointment_reminders::scheduled_for.eq(at),
            ))
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }

    fn delete_reminders(&mut self, clinic: ClinicId, appointment: AppointmentId) -> Res<()> {
        diesel::delete(
            appointment_reminders::table
                .filter(appointment_reminders::clinic_id.eq(clinic.0))
                .filter(appointment_reminders::appointment_id.eq(appointment.0)),
        )
        .execute(self.conn)
        .map(|_| ())
        .map_err(db_error)
    }
}
