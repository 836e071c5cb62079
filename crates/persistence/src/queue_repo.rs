//! `QueueRepo` on PostgreSQL.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Date, Int4, Nullable, Uuid as SqlUuid};
use salus_domain::DomainError;
use salus_domain::ids::{AppointmentId, ClinicId, MembershipId, PatientId, QueueEntryId};
use salus_domain::ports::queue::{QueueEntry, QueueRepo, QueueStatus};
use uuid::Uuid;

use crate::cached::CacheStatement;
use crate::schema::queue_entries;
use crate::store::{PgTx, db_error};

type Res<T> = Result<T, DomainError>;

#[derive(Queryable, Selectable, QueryableByName)]
#[diesel(table_name = queue_entries)]
struct Row {
    id: Uuid,
    day: NaiveDate,
    ticket: i32,
    patient_id: Uuid,
    appointment_id: Option<Uuid>,
    practitioner_id: Option<Uuid>,
    status: String,
    checked_in_at: DateTime<Utc>,
    called_at: Option<DateTime<Utc>>,
    version: i32,
}

fn entry(r: Row) -> Res<QueueEntry> {
    Ok(QueueEntry {
        id: QueueEntryId(r.id),
        day: r.day,
        ticket: r.ticket,
        patient_id: PatientId(r.patient_id),
        appointment_id: r.appointment_id.map(AppointmentId),
        practitioner_id: r.practitioner_id.map(MembershipId),
        status: QueueStatus::parse(&r.status)
            .ok_or_else(|| DomainError::Internal(format!("unknown queue status {}", r.status)))?,
        checked_in_at: r.checked_in_at,
        called_at: r.called_at,
        version: r.version,
    })
}

#[derive(QueryableByName)]
struct Ticket {
    #[diesel(sql_type = Int4)]
    last_ticket: i32,
}

impl QueueRepo for PgTx<'_> {
    fn next_ticket(&mut self, clinic: ClinicId, day: NaiveDate) -> Res<i32> {
        diesel::sql_query(
            "INSERT INTO queue_tickets AS t (clinic_id, day, last_ticket) VALUES ($1, $2, 1)
             ON CONFLICT (clinic_id, day) DO UPDATE SET last_ticket = t.last_ticket + 1
             RETURNING last_ticket",
        )
        .bind::<SqlUuid, _>(clinic.0)
        .bind::<Date, _>(day)
        .cached()
        .get_result::<Ticket>(self.conn)
        .map(|t| t.last_ticket)
        .map_err(db_error)
    }

    fn insert_entry(&mut self, clinic: ClinicId, e: &QueueEntry) -> Res<()> {
        diesel::insert_into(queue_entries::table)
            .values((
                queue_entries::clinic_id.eq(clinic.0),
                queue_entries::id.eq(e.id.0),
                queue_entries::day.eq(e.day),
                queue_entries::ticket.eq(e.ticket),
                queue_entries::patient_id.eq(e.patient_id.0),
                queue_entries::appointment_id.eq(e.appointment_id.map(|a| a.0)),
                queue_entries::practitioner_id.eq(e.practitioner_id.map(|m| m.0)),
                queue_entries::status.eq(e.status.as_str()),
                queue_entries::checked_in_at.eq(e.checked_in_at),
            ))
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }

    fn entries(&mut self, clinic: ClinicId, day: NaiveDate) -> Res<Vec<QueueEntry>> {
        queue_entries::table
            .filter(queue_entries::clinic_id.eq(clinic.0))
            .filter(queue_entries::day.eq(day))
            .order((
                queue_entries::practitioner_id.asc().nulls_last(),
                queue_entries::ticket.asc(),
            ))
            .select(Row::as_select())
            .load(self.conn)
            .map_err(db_error)?
            .into_iter()
            .map(entry)
            .collect()
    }

    fn claim_next(
        &mut self,
        clinic: ClinicId,
        day: NaiveDate,
        practitioner: Option<MembershipId>,
    ) -> Res<Option<QueueEntry>> {
        diesel::sql_query(
            "SELECT id, day, ticket, patient_id, appointment_id, practitioner_id, status, checked_in_at, called_at, version
               FROM queue_entries
              WHERE clinic_id = $1 AND day = $2 AND status = 'waiting'
                AND ($3::uuid IS NULL OR practitioner_id = $3 OR practitioner_id IS NULL)
              ORDER BY ticket
              LIMIT 1
              FOR UPDATE SKIP LOCKED",
        )
        .bind::<SqlUuid, _>(clinic.0)
        .bind::<Date, _>(day)
        .bind::<Nullable<SqlUuid>, _>(practitioner.map(|m| m.0))
        .cached().get_result::<Row>(self.conn)
        .optional()
        .map_err(db_error)?
        .map(entry)
        .transpose()
    }

    fn entry(&mut self, clinic: ClinicId, id: QueueEntryId) -> Res<Option<QueueEntry>> {
        queue_entries::table
            .find((clinic.0, id.0))
            .select(Row::as_select())
            .for_update()
            .first(self.conn)
            .optional()
            .map_err(db_error)?
            .map(entry)
            .transpose()
    }

    fn set_entry_status(
        &mut self,
        clinic: ClinicId,
        id: QueueEntryId,
        status: QueueStatus,
        at: DateTime<Utc>,
    ) -> Res<()> {
        let row = queue_entries::table.find((clinic.0, id.0));
        let status_text = queue_entries::status.eq(status.as_str());
        let result = match status {
            QueueStatus::Called => diesel::update(row)
                .set((status_text, queue_entries::called_at.eq(at)))
                .execute(self.conn),
            QueueStatus::InProgress => diesel::update(row)
                .set((status_text, queue_entries::started_at.eq(at)))
                .execute(self.conn),
            QueueStatus::Completed | QueueStatus::Left => diesel::update(row)
                .set((status_text, queue_entries::finished_at.eq(at)))
                .execute(self.conn),
            QueueStatus::Waiting => diesel::update(row).set(status_text).execute(self.conn),
        };
        result.map(|_| ()).map_err(db_error)
    }
}
