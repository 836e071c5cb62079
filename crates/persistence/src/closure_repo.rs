//! `ClosureRepo` on PostgreSQL: closure requests, the due list (platform scope,
//! which the table's policy opens when no clinic is set), the destruction
//! function `salus_destroy_clinic` (migration 000020) and the catalogue walk that
//! checks nothing of a clinic remains.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Uuid as SqlUuid};
use salus_domain::DomainError;
use salus_domain::ids::{AccountId, ClinicId};
use salus_domain::ports::closure::{Closure, ClosureRepo, TableRows};
use uuid::Uuid;

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

/// Every table of every schema with a `clinic_id` column (the audit schema's
/// too), as `schema.table`.
const TENANT_TABLES_SQL: &str = "SELECT format('%I.%I', s.nspname, c.relname) AS table_name
       FROM pg_class c
       JOIN pg_namespace s ON s.oid = c.relnamespace
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'clinic_id' AND NOT a.attisdropped
      WHERE c.relkind IN ('r', 'p')
        AND s.nspname NOT IN ('pg_catalog', 'information_schema')
        AND s.nspname NOT LIKE 'pg\\_%'
      ORDER BY 1";

#[derive(QueryableByName)]
struct Deleted {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = BigInt)]
    deleted: i64,
}

#[derive(QueryableByName)]
struct TableName {
    #[diesel(sql_type = Text)]
    table_name: String,
}

#[derive(QueryableByName)]
struct Taken {
    #[diesel(sql_type = Text)]
    label: String,
    #[diesel(sql_type = diesel::sql_types::Timestamptz)]
    occurred_at: DateTime<Utc>,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
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
            .load::<Deleted>(self.conn)
            .map(|rows| {
                rows.into_iter()
                    .map(|r| TableRows {
                        table: r.table_name,
                        rows: r.deleted,
                    })
                    .collect()
            })
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
        .get_result::<Taken>(self.conn)
        .optional()
        .map(|t| t.map(|t| (t.label, t.occurred_at)))
        .map_err(db_error)
    }

    fn clinic_remains(&mut self, clinic: ClinicId) -> Res<Vec<TableRows>> {
        let tables = diesel::sql_query(TENANT_TABLES_SQL)
            .load::<TableName>(self.conn)
            .map_err(db_error)?;
        let mut remains = Vec::new();
        let counts = tables
            .iter()
            .map(|t| (t.table_name.clone(), "clinic_id"))
            .chain([("public.clinics".to_owned(), "id")]);
        for (table, column) in counts {
            let n = diesel::sql_query(format!(
                "SELECT count(*) AS n FROM {table} WHERE {column} = $1"
            ))
            .bind::<SqlUuid, _>(clinic.0)
            .get_result::<Count>(self.conn)
            .map_err(db_error)?
            .n;
            if n > 0 {
                remains.push(TableRows { table, rows: n });
            }
        }
        Ok(remains)
    }
}
