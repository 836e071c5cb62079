//! `SecretsRepo` on PostgreSQL: the secret inventory (a platform table) and the
//! clinics' data-key ages through `salus_clinic_key_ages`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Timestamptz, Uuid as SqlUuid};
use salus_domain::DomainError;
use salus_domain::ids::ClinicId;
use salus_domain::ports::secrets::SecretsRepo;
use uuid::Uuid;

use crate::cached::CacheStatement;
use crate::schema::secret_inventory;
use crate::store::{PgTx, db_error};

type Res<T> = Result<T, DomainError>;

#[derive(QueryableByName)]
struct KeyAge {
    #[diesel(sql_type = SqlUuid)]
    clinic_id: Uuid,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
}

impl SecretsRepo for PgTx<'_> {
    fn note_secret(&mut self, kind: &str, key_id: &str, now: DateTime<Utc>) -> Res<bool> {
        let first = diesel::insert_into(secret_inventory::table)
            .values((
                secret_inventory::kind.eq(kind),
                secret_inventory::key_id.eq(key_id),
                secret_inventory::first_seen_at.eq(now),
                secret_inventory::last_seen_at.eq(now),
            ))
            .on_conflict((secret_inventory::kind, secret_inventory::key_id))
            .do_nothing()
            .execute(self.conn)
            .map_err(db_error)?;
        if first == 0 {
            diesel::update(secret_inventory::table.find((kind, key_id)))
                .set(secret_inventory::last_seen_at.eq(now))
                .execute(self.conn)
                .map_err(db_error)?;
        }
        Ok(first == 1)
    }

    fn secret_first_seen(&mut self, kind: &str, key_id: &str) -> Res<Option<DateTime<Utc>>> {
        secret_inventory::table
            .find((kind, key_id))
            .select(secret_inventory::first_seen_at)
            .first(self.conn)
            .optional()
            .map_err(db_error)
    }

    fn clinic_key_ages(&mut self) -> Res<Vec<(ClinicId, DateTime<Utc>)>> {
        let rows: Vec<KeyAge> =
            diesel::sql_query("SELECT clinic_id, created_at FROM public.salus_clinic_key_ages()")
                .cached()
                .load(self.conn)
                .map_err(db_error)?;
        let mut ages: Vec<_> = rows
            .into_iter()
            .map(|r| (ClinicId(r.clinic_id), r.created_at))
            .collect();
        ages.sort();
        Ok(ages)
    }
}
