//! `ClosureRepo` on PostgreSQL: closure requests, the due list (platform scope,
//! which the table's policy opens when no clinic is set), the destruction
//! function `salus_destroy_clinic` (migration 000020) and the catalogue walk that
//! checks nothing of a clinic remains.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Text, Uuid as SqlUuid};
use salus_domain::DomainError;
use salus_domain::ids::{AccountId, ClinicId};
use salus_domain::ports::closure::{Closure, ClosureRepo, TableRows};
use uuid::Uuid;

use crate::cached::CacheStatement;
use crate::catalogue::{Deleted, remaining, table_rows, tables_with_column};
use crate::schema::clinic_closures as cc;
use crate::store::{PgTx, db_error};

type Res<T> = Result<T, DomainError>;
type Row = (Uuid, Uuid, String, DateTime<Utc>, DateTime<Utc>);

const COLUMNS: (
    cc::clinic_id,
    cc::requested_by,
    cc::requested_by_email,
    cc::requested_at,
    cc::due_at,
) = (
    cc::clinic_id,
    cc::requested_by,
    cc::requested_by_email,
    cc::requested_at,
    cc::due_at,
);

fn closure(row: Row) -> Closure {
    Closure {
        clinic_id: ClinicId(row.0),
        requested_by: AccountId(row.1),
        requested_by_email: row.2,
        requested_at: row.3,
        due_at: row.4,
    }
}

#[derive(QueryableByName)]
struct Taken {
    #[diesel(sql_type = Text)]
    label: String,
    #[diesel(sql_type = diesel::sql_types::Timestamptz)]
    occurred_at: DateTime<Utc>,
}

impl ClosureRepo for PgTx<'_> {
    fn insert_closure(&mut self, c: &Closure) -> Res<()> {
        diesel::insert_into(cc::table)
            .values((
                cc::clinic_id.eq(c.clinic_id.0),
                cc::requested_by.eq(c.requested_by.0),
                cc::requested_by_email.eq(&c.requested_by_email),
                cc::requested_at.eq(c.requested_at),
                cc::due_at.eq(c.due_at),
            ))
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }

    fn closure(&mut self, clinic: ClinicId) -> Res<Option<Closure>> {
        cc::table
            .find(clinic.0)
            .select(COLUMNS)
            .first::<Row>(self.conn)
            .optional()
            .map(|r| r.map(closure))
            .map_err(db_error)
    }

    fn lock_closure(&mut self, clinic: ClinicId) -> Res<Option<Closure>> {
        cc::table
            .find(clinic.0)
            .select(COLUMNS)
            .for_update()
            .skip_locked()
            .first::<Row>(self.conn)
            .optional()
            .map(|r| r.map(closure))
            .map_err(db_error)
    }

    fn delete_closure(&mut self, clinic: ClinicId) -> Res<bool> {
        diesel::delete(cc::table.find(clinic.0))
            .execute(self.conn)
            .map(|n| n == 1)
            .map_err(db_error)
    }

    fn due_closures(&mut self, now: DateTime<Utc>, limit: i64) -> Res<Vec<ClinicId>> {
        cc::table
            .filter(cc::due_at.le(now))
            .order(cc::due_at.asc())
            .select(cc::clinic_id)
            .limit(limit)
            .load::<Uuid>(self.conn)
            .map(|ids| ids.into_iter().map(ClinicId).collect())
            .map_err(db_error)
    }

    fn set_closure_due(&mut self, clinic: ClinicId, due_at: DateTime<Utc>) -> Res<bool> {
        diesel::update(cc::table.find(clinic.0))
            .set(
                cc::due_at.eq(diesel::dsl::sql::<diesel::sql_types::Timestamptz>(
                    "greatest(requested_at, ",
                )
                .bind::<diesel::sql_types::Timestamptz, _>(due_at)
                .sql(")")),
            )
            .execute(self.conn)
            .map(|n| n == 1)
            .map_err(db_error)
    }

    fn destroy_clinic(&mut self, clinic: ClinicId) -> Res<Vec<TableRows>> {
        diesel::sql_query("SELECT table_name, deleted FROM public.salus_destroy_clinic($1)")
            .bind::<SqlUuid, _>(clinic.0)
            .cached()
            .load::<Deleted>(self.conn)
            .map(table_rows)
            .map_err(db_error)
    }

    fn last_backup_before(&mut self, at: DateTime<Utc>) -> Res<Option<(String, DateTime<Utc>)>> {
        diesel::sql_query(
            "SELECT coalesce(details::jsonb ->> 'label', '') AS label, occurred_at FROM audit.events
              WHERE clinic_id IS NULL AND account_id IS NULL AND action = $1
                AND outcome = 'success' AND occurred_at < $2
              ORDER BY occurred_at DESC LIMIT 1",
        )
        .bind::<Text, _>(salus_domain::audit::actions::BACKUP_TAKEN)
        .bind::<diesel::sql_types::Timestamptz, _>(at)
        .cached().get_result::<Taken>(self.conn)
        .optional()
        .map(|t| t.map(|t| (t.label, t.occurred_at)))
        .map_err(db_error)
    }

    fn clinic_remains(&mut self, clinic: ClinicId) -> Res<Vec<TableRows>> {
        let clinic = clinic.0;
        let targets = tables_with_column(self.conn, "clinic_id", &[])?
            .into_iter()
            .map(|t| (t, "clinic_id"))
            .chain([("public.clinics".to_owned(), "id")])
            .map(|(table, column)| (table, format!("{column} = '{clinic}'")));
        remaining(self.conn, targets)
    }
}
