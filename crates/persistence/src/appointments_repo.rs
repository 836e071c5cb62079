//! `AppointmentsRepo` on PostgreSQL.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel::sql_types::{Int4, Uuid as SqlUuid};
use salus_domain::DomainError;
use salus_domain::ids::{AppointmentId, ClinicId, HistoryEntryId, MembershipId, PatientId};
use salus_domain::paging::Page;
use salus_domain::ports::appointments::{
    AppointmentKey, AppointmentQuery, AppointmentsRepo, DOUBLE_BOOKING, HistoryEntry, Status,
    StoredAppointment,
};
use uuid::Uuid;

use crate::cached::CacheStatement;
use crate::prepared::TwoBinds;
use crate::schema::{appointment_history, appointments};
use crate::store::{PgTx, db_error};

type Res<T> = Result<T, DomainError>;

#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = appointments)]
#[diesel(treat_none_as_null = true)]
struct Row {
    clinic_id: Uuid,
    id: Uuid,
    patient_id: Uuid,
    practitioner_id: Uuid,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    reason: Option<Vec<u8>>,
    status: String,
    cancel_reason: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    version: i32,
}

fn row(clinic: ClinicId, a: &StoredAppointment) -> Row {
    Row {
        clinic_id: clinic.0,
        id: a.id.0,
        patient_id: a.patient_id.0,
        practitioner_id: a.practitioner_id.0,
        starts_at: a.starts_at,
        ends_at: a.ends_at,
        reason: a.sealed_reason.clone(),
        status: a.status.as_str().to_owned(),
        cancel_reason: a.cancel_reason.clone(),
        created_at: a.created_at,
        updated_at: a.updated_at,
        version: a.version,
    }
}

fn stored(r: Row) -> Res<StoredAppointment> {
    Ok(StoredAppointment {
        id: AppointmentId(r.id),
        patient_id: PatientId(r.patient_id),
        practitioner_id: MembershipId(r.practitioner_id),
        starts_at: r.starts_at,
        ends_at: r.ends_at,
        sealed_reason: r.reason,
        status: Status::parse(&r.status)
            .ok_or_else(|| DomainError::Internal(format!("unknown status {}", r.status)))?,
        cancel_reason: r.cancel_reason,
        created_at: r.created_at,
        updated_at: r.updated_at,
        version: r.version,
    })
}

/// The exclusion constraint refusing double bookings becomes a 409.
fn booking_error(e: DieselError) -> DomainError {
    match &e {
        DieselError::DatabaseError(_, info)
            if info.constraint_name() == Some("appointments_no_double_booking") =>
        {
            DomainError::Conflict {
                code: DOUBLE_BOOKING,
                detail: "The slot is taken.".into(),
            }
        }
        _ => db_error(e),
    }
}

/// Serialises the writes to one practitioner's calendar until commit. Two
/// transactions inserting overlapping slots would otherwise each wait for the other
/// in the exclusion constraint's check, and PostgreSQL would abort one with a
/// deadlock (a 500) instead of the double-booking conflict (a 409).
const LOCK_CALENDAR_SQL: &str = "SELECT pg_advisory_xact_lock($1, hashtext($2::text))";

/// [`LOCK_CALENDAR_SQL`]'s identity in the statement cache.
struct LockCalendar;

/// The advisory-lock namespace of practitioners' calendars.
const CALENDAR_LOCKS: i32 = 1;

fn lock_calendar(conn: &mut PgConnection, practitioner: Uuid) -> Res<()> {
    TwoBinds::<LockCalendar, Int4, SqlUuid, i32, Uuid>::new(
        LOCK_CALENDAR_SQL,
        &CALENDAR_LOCKS,
        &practitioner,
    )
    .execute(conn)
    .map(|_| ())
    .map_err(db_error)
}

impl AppointmentsRepo for PgTx<'_> {
    fn insert_appointment(&mut self, clinic: ClinicId, a: &StoredAppointment) -> Res<()> {
        lock_calendar(self.conn, a.practitioner_id.0)?;
        diesel::insert_into(appointments::table)
            .values(row(clinic, a))
            .execute(self.conn)
            .map(|_| ())
            .map_err(booking_error)
    }

    fn appointment(
        &mut self,
        clinic: ClinicId,
        id: AppointmentId,
    ) -> Res<Option<StoredAppointment>> {
        appointments::table
            .find((clinic.0, id.0))
            .select(Row::as_select())
            .for_update()
            .first(self.conn)
            .optional()
            .map_err(db_error)?
            .map(stored)
            .transpose()
    }

    fn update_appointment(&mut self, clinic: ClinicId, a: &StoredAppointment) -> Res<()> {
        lock_calendar(self.conn, a.practitioner_id.0)?;
        diesel::update(appointments::table.find((clinic.0, a.id.0)))
            .set(row(clinic, a))
            .execute(self.conn)
            .map(|_| ())
            .map_err(booking_error)
    }

    fn appointments(
        &mut self,
        clinic: ClinicId,
        q: &AppointmentQuery,
    ) -> Res<Page<StoredAppointment, AppointmentKey>> {
        let mut query = appointments::table
            .filter(appointments::clinic_id.eq(clinic.0))
            .select(Row::as_select())
            .into_boxed();
        // Appointments of patients in the records archive leave lists with them.
        query = query.filter(diesel::dsl::sql::<diesel::sql_types::Bool>(
            "NOT EXISTS (SELECT 1 FROM patients p WHERE p.clinic_id = appointments.clinic_id \
             AND p.id = appointments.patient_id AND p.records_archived_at IS NOT NULL)",
        ));
        if let Some(from) = q.from {
            query = query.filter(appointments::starts_at.ge(from));
        }
        if let Some(to) = q.to {
            query = query.filter(appointments::starts_at.lt(to));
        }
        if let Some(p) = q.practitioner {
            query = query.filter(appointments::practitioner_id.eq(p.0));
        }
        if let Some(p) = q.patient {
            query = query.filter(appointments::patient_id.eq(p.0));
        }
        if let Some(s) = q.status {
            query = query.filter(appointments::status.eq(s.as_str()));
        }
        if let Some(AppointmentKey { starts_at: at, id }) = q.after {
            query = query.filter(
                appointments::starts_at.gt(at).or(appointments::starts_at
                    .eq(at)
                    .and(appointments::id.gt(id.0))),
            );
        }
        let rows = query
            .order((appointments::starts_at.asc(), appointments::id.asc()))
            .limit(Page::<(), ()>::fetch_size(q.limit))
            // One text per combination of the filters given: a bounded set.
            .cached()
            .load(self.conn)
            .map_err(db_error)?
            .into_iter()
            .map(stored)
            .collect::<Res<Vec<_>>>()?;
        Ok(Page::from_rows(rows, q.limit, |a| AppointmentKey {
            starts_at: a.starts_at,
            id: a.id,
        }))
    }

    fn add_history(
        &mut self,
        clinic: ClinicId,
        id: HistoryEntryId,
        appointment: AppointmentId,
        e: &HistoryEntry,
    ) -> Res<()> {
        diesel::insert_into(appointment_history::table)
            .values((
                appointment_history::clinic_id.eq(clinic.0),
                appointment_history::id.eq(id.0),
                appointment_history::appointment_id.eq(appointment.0),
                appointment_history::at.eq(e.at),
                appointment_history::actor_membership_id.eq(e.actor.0),
                appointment_history::change.eq(&e.change),
            ))
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }

    fn history(&mut self, clinic: ClinicId, appointment: AppointmentId) -> Res<Vec<HistoryEntry>> {
        let rows: Vec<(DateTime<Utc>, Uuid, serde_json::Value)> = appointment_history::table
            .filter(appointment_history::clinic_id.eq(clinic.0))
            .filter(appointment_history::appointment_id.eq(appointment.0))
            .order(appointment_history::seq.asc())
            .select((
                appointment_history::at,
                appointment_history::actor_membership_id,
                appointment_history::change,
            ))
            .load(self.conn)
            .map_err(db_error)?;
        Ok(rows
            .into_iter()
            .map(|(at, actor, change)| HistoryEntry {
                at,
                actor: MembershipId(actor),
                change,
            })
            .collect())
    }
}
