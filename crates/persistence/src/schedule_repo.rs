//! `ScheduleRepo` on PostgreSQL.

use chrono::{DateTime, NaiveTime, Utc};
use diesel::prelude::*;
use salus_domain::DomainError;
use salus_domain::ids::{AbsenceId, ClinicId, MembershipId};
use salus_domain::ports::schedule::{Absence, Interval, Practitioner, ScheduleRepo, WorkingHours};
use uuid::Uuid;

use crate::schema::{
    accounts, appointments, memberships, practitioner_absences, practitioner_hours, practitioners,
};
use crate::store::{PgTx, db_error};

type Res<T> = Result<T, DomainError>;

impl ScheduleRepo for PgTx<'_> {
    fn upsert_practitioner(
        &mut self,
        clinic: ClinicId,
        member: MembershipId,
        specialty: &str,
        at: DateTime<Utc>,
    ) -> Res<()> {
        diesel::insert_into(practitioners::table)
            .values((
                practitioners::clinic_id.eq(clinic.0),
                practitioners::membership_id.eq(member.0),
                practitioners::specialty.eq(specialty),
                practitioners::created_at.eq(at),
            ))
            .on_conflict((practitioners::clinic_id, practitioners::membership_id))
            .do_update()
            .set(practitioners::specialty.eq(specialty))
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }

    fn practitioners(&mut self, clinic: ClinicId) -> Res<Vec<Practitioner>> {
        let rows: Vec<(Uuid, String, String, String, i32)> = practitioners::table
            .inner_join(
                memberships::table.on(memberships::clinic_id
                    .eq(practitioners::clinic_id)
                    .and(memberships::id.eq(practitioners::membership_id))),
            )
            .inner_join(accounts::table.on(accounts::id.eq(memberships::account_id)))
            .filter(practitioners::clinic_id.eq(clinic.0))
            .filter(memberships::active.eq(true))
            .order(accounts::family_name.asc())
            .select((
                practitioners::membership_id,
                practitioners::specialty,
                accounts::given_name,
                accounts::family_name,
                memberships::version,
            ))
            .load(self.conn)
            .map_err(db_error)?;
        Ok(rows
            .into_iter()
            .map(|(m, specialty, given, family, version)| Practitioner {
                membership: MembershipId(m),
                specialty,
                name: format!("{given} {family}"),
                version,
            })
            .collect())
    }

    fn is_practitioner(&mut self, clinic: ClinicId, member: MembershipId) -> Res<bool> {
        diesel::select(diesel::dsl::exists(
            practitioners::table
                .inner_join(
                    memberships::table.on(memberships::clinic_id
                        .eq(practitioners::clinic_id)
                        .and(memberships::id.eq(practitioners::membership_id))),
                )
                .filter(practitioners::clinic_id.eq(clinic.0))
                .filter(practitioners::membership_id.eq(member.0))
                .filter(memberships::active.eq(true)),
        ))
        .get_result(self.conn)
        .map_err(db_error)
    }

    fn set_hours(
        &mut self,
        clinic: ClinicId,
        member: MembershipId,
        hours: &[WorkingHours],
    ) -> Res<()> {
        diesel::delete(
            practitioner_hours::table
                .filter(practitioner_hours::clinic_id.eq(clinic.0))
                .filter(practitioner_hours::membership_id.eq(member.0)),
        )
        .execute(self.conn)
        .map_err(db_error)?;
        let rows: Vec<_> = hours
            .iter()
            .map(|h| {
                (
                    practitioner_hours::clinic_id.eq(clinic.0),
                    practitioner_hours::membership_id.eq(member.0),
                    practitioner_hours::weekday.eq(i16::try_from(h.weekday).unwrap_or(0)),
                    practitioner_hours::starts.eq(h.starts),
                    practitioner_hours::ends.eq(h.ends),
                )
            })
            .collect();
        diesel::insert_into(practitioner_hours::table)
            .values(rows)
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }

    fn hours(&mut self, clinic: ClinicId, member: MembershipId) -> Res<Vec<WorkingHours>> {
        let rows: Vec<(i16, NaiveTime, NaiveTime)> = practitioner_hours::table
            .filter(practitioner_hours::clinic_id.eq(clinic.0))
            .filter(practitioner_hours::membership_id.eq(member.0))
            .order((
                practitioner_hours::weekday.asc(),
                practitioner_hours::starts.asc(),
            ))
            .select((
                practitioner_hours::weekday,
                practitioner_hours::starts,
                practitioner_hours::ends,
            ))
            .load(self.conn)
            .map_err(db_error)?;
        Ok(rows
            .into_iter()
            .map(|(weekday, starts, ends)| WorkingHours {
                weekday: u32::try_from(weekday).unwrap_or(0),
                starts,
                ends,
            })
            .collect())
    }

    fn insert_absence(&mut self, clinic: ClinicId, member: MembershipId, a: &Absence) -> Res<()> {
        diesel::insert_into(practitioner_absences::table)
            .values((
                practitioner_absences::clinic_id.eq(clinic.0),
                practitioner_absences::id.eq(a.id.0),
                practitioner_absences::membership_id.eq(member.0),
                practitioner_absences::starts_at.eq(a.starts_at),
                practitioner_absences::ends_at.eq(a.ends_at),
            ))
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }

    fn absences(
        &mut self,
        clinic: ClinicId,
        member: MembershipId,
        (from, to): Interval,
    ) -> Res<Vec<Absence>> {
        let rows: Vec<(Uuid, DateTime<Utc>, DateTime<Utc>)> = practitioner_absences::table
            .filter(practitioner_absences::clinic_id.eq(clinic.0))
            .filter(practitioner_absences::membership_id.eq(member.0))
            .filter(practitioner_absences::starts_at.lt(to))
            .filter(practitioner_absences::ends_at.gt(from))
            .select((
                practitioner_absences::id,
                practitioner_absences::starts_at,
                practitioner_absences::ends_at,
            ))
            .load(self.conn)
            .map_err(db_error)?;
        Ok(rows
            .into_iter()
            .map(|(id, starts_at, ends_at)| Absence {
                id: AbsenceId(id),
                starts_at,
                ends_at,
            })
            .collect())
    }

    fn busy(
        &mut self,
        clinic: ClinicId,
        member: MembershipId,
        (from, to): Interval,
    ) -> Res<Vec<Interval>> {
        appointments::table
            .filter(appointments::clinic_id.eq(clinic.0))
            .filter(appointments::practitioner_id.eq(member.0))
            .filter(appointments::status.ne_all(["cancelled", "no_show"]))
            .filter(appointments::starts_at.lt(to))
            .filter(appointments::ends_at.gt(from))
            .select((appointments::starts_at, appointments::ends_at))
            .load(self.conn)
            .map_err(db_error)
    }
}
