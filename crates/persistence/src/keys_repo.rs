//! `KeysRepo` and `DataKeyRotationRepo` on PostgreSQL: clinics' wrapped keys,
//! what master-key rotation rewrites, and a data-key rotation's batches.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Bytea, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use salus_domain::DomainError;
use salus_domain::crypto::{KeysFingerprint, SealedColumn, WrappedKeys};
use salus_domain::ids::{AccountId, ClinicId};
use salus_domain::ports::keys::{DataKeyRotationRepo, KeysRepo, RotationState, TotpSecrets};
use uuid::Uuid;

use crate::cached::CacheStatement;
use crate::schema::{accounts, clinic_keys, memberships};
use crate::store::{PgTx, db_error};

type Res<T> = Result<T, DomainError>;

/// A clinic's keys as selected: data key, its version, the retiring key and
/// its version, the index key.
type WrappedRow = (Vec<u8>, i32, Option<Vec<u8>>, Option<i32>, Vec<u8>);

const WRAPPED: (
    clinic_keys::wrapped_data_key,
    clinic_keys::data_key_version,
    clinic_keys::retiring_data_key,
    clinic_keys::retiring_data_key_version,
    clinic_keys::wrapped_index_key,
) = (
    clinic_keys::wrapped_data_key,
    clinic_keys::data_key_version,
    clinic_keys::retiring_data_key,
    clinic_keys::retiring_data_key_version,
    clinic_keys::wrapped_index_key,
);

fn wrapped((data, data_version, retiring, retiring_version, index): WrappedRow) -> WrappedKeys {
    WrappedKeys {
        data,
        data_version,
        retiring: retiring.zip(retiring_version),
        index,
    }
}

impl KeysRepo for PgTx<'_> {
    fn clinic_keys(&mut self, clinic: ClinicId) -> Res<Option<WrappedKeys>> {
        clinic_keys::table
            .find(clinic.0)
            .select(WRAPPED)
            .first::<WrappedRow>(self.conn)
            .optional()
            .map(|row| row.map(wrapped))
            .map_err(db_error)
    }

    fn clinic_keys_fingerprint(&mut self, clinic: ClinicId) -> Res<Option<KeysFingerprint>> {
        if let Some(seen) = self.seen_keys(clinic) {
            return Ok(seen);
        }
        #[derive(QueryableByName)]
        struct Fingerprint {
            #[diesel(sql_type = Bytea)]
            fingerprint: Vec<u8>,
        }
        let found: Option<Fingerprint> = diesel::sql_query(
            "SELECT sha256(wrapped_data_key || coalesce(retiring_data_key, ''::bytea)) AS fingerprint \
             FROM clinic_keys WHERE clinic_id = $1",
        )
        .bind::<SqlUuid, _>(clinic.0)
        .cached().get_result(self.conn)
        .optional()
        .map_err(db_error)?;
        found
            .map(|f| {
                <[u8; 32]>::try_from(f.fingerprint.as_slice())
                    .map_err(|_| DomainError::Internal("a keys fingerprint is not 32 bytes".into()))
            })
            .transpose()
    }

    fn insert_clinic_keys(
        &mut self,
        clinic: ClinicId,
        keys: &WrappedKeys,
        at: DateTime<Utc>,
    ) -> Res<()> {
        self.keys_changed();
        diesel::insert_into(clinic_keys::table)
            .values((
                clinic_keys::clinic_id.eq(clinic.0),
                clinic_keys::wrapped_data_key.eq(&keys.data),
                clinic_keys::data_key_version.eq(keys.data_version),
                clinic_keys::wrapped_index_key.eq(&keys.index),
                clinic_keys::created_at.eq(at),
                clinic_keys::data_key_created_at.eq(Some(at)),
            ))
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }

    fn accounts_after(&mut self, after: Option<AccountId>, limit: i64) -> Res<Vec<AccountId>> {
        let mut query = accounts::table.select(accounts::id).into_boxed();
        if let Some(after) = after {
            query = query.filter(accounts::id.gt(after.0));
        }
        query
            .order(accounts::id.asc())
            .limit(limit)
            .load::<Uuid>(self.conn)
            .map(|ids| ids.into_iter().map(AccountId).collect())
            .map_err(db_error)
    }

    fn lock_totp_secrets(&mut self, account: AccountId) -> Res<TotpSecrets> {
        accounts::table
            .find(account.0)
            .select((accounts::totp_secret, accounts::totp_pending_secret))
            .for_update()
            .first::<TotpSecrets>(self.conn)
            .optional()
            .map(Option::unwrap_or_default)
            .map_err(db_error)
    }

    fn store_totp_secrets(&mut self, account: AccountId, sealed: &TotpSecrets) -> Res<()> {
        diesel::update(accounts::table.find(account.0))
            .set((
                accounts::totp_secret.eq(sealed.0.as_deref()),
                accounts::totp_pending_secret.eq(sealed.1.as_deref()),
            ))
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }

    fn clinics_of_account(&mut self, account: AccountId) -> Res<Vec<ClinicId>> {
        memberships::table
            .filter(memberships::account_id.eq(account.0))
            .select(memberships::clinic_id)
            .distinct()
            .load::<Uuid>(self.conn)
            .map(|ids| ids.into_iter().map(ClinicId).collect())
            .map_err(db_error)
    }

    fn lock_clinic_keys(&mut self, clinic: ClinicId) -> Res<Option<WrappedKeys>> {
        clinic_keys::table
            .find(clinic.0)
            .select(WRAPPED)
            .for_update()
            .first::<WrappedRow>(self.conn)
            .optional()
            .map(|row| row.map(wrapped))
            .map_err(db_error)
    }

    fn store_rewrapped_keys(
        &mut self,
        clinic: ClinicId,
        keys: &WrappedKeys,
        at: DateTime<Utc>,
    ) -> Res<()> {
        self.keys_changed();
        diesel::update(clinic_keys::table.find(clinic.0))
            .set((
                clinic_keys::wrapped_data_key.eq(&keys.data),
                clinic_keys::wrapped_index_key.eq(&keys.index),
                clinic_keys::retiring_data_key.eq(keys.retiring.as_ref().map(|(k, _)| k)),
                clinic_keys::rewrapped_at.eq(Some(at)),
            ))
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }

    fn delete_clinic_keys(&mut self, clinic: ClinicId) -> Res<bool> {
        self.keys_changed();
        diesel::delete(clinic_keys::table.find(clinic.0))
            .execute(self.conn)
            .map(|n| n > 0)
            .map_err(db_error)
    }
}

#[derive(QueryableByName)]
struct SealedRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Bytea)]
    sealed: Vec<u8>,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Open {
    #[diesel(sql_type = Bool)]
    open: bool,
}

#[derive(QueryableByName)]
struct Rotating {
    #[diesel(sql_type = SqlUuid)]
    clinic_id: Uuid,
}

/// The rows of `column` whose envelope header names `$2` (the key id sits after
/// the version byte and its own length byte): the table and column come from
/// the domain's constant list, never from input.
fn under_key(column: &SealedColumn) -> String {
    let c = column.column;
    format!(
        "clinic_id = $1 AND {c} IS NOT NULL AND length({c}) > 2 \
         AND substring({c} FROM 3 FOR get_byte({c}, 1)) = convert_to($2, 'UTF8')"
    )
}

impl DataKeyRotationRepo for PgTx<'_> {
    fn start_data_key_rotation(
        &mut self,
        clinic: ClinicId,
        keys: &WrappedKeys,
        at: DateTime<Utc>,
    ) -> Res<()> {
        self.keys_changed();
        let (retiring, retiring_version) = keys
            .retiring
            .as_ref()
            .map(|(k, v)| (k.as_slice(), *v))
            .ok_or_else(|| DomainError::Internal("a rotation needs a retiring key".into()))?;
        diesel::update(clinic_keys::table.find(clinic.0))
            .set((
                clinic_keys::wrapped_data_key.eq(&keys.data),
                clinic_keys::data_key_version.eq(keys.data_version),
                clinic_keys::data_key_created_at.eq(Some(at)),
                clinic_keys::retiring_data_key.eq(Some(retiring)),
                clinic_keys::retiring_data_key_version.eq(Some(retiring_version)),
                clinic_keys::rotation_started_at.eq(Some(at)),
                clinic_keys::rotation_visible_at.eq(None::<DateTime<Utc>>),
            ))
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }

    fn mark_rotation_visible(&mut self, clinic: ClinicId) -> Res<()> {
        diesel::sql_query(
            "UPDATE clinic_keys SET rotation_visible_at = clock_timestamp() \
             WHERE clinic_id = $1 AND retiring_data_key IS NOT NULL",
        )
        .bind::<SqlUuid, _>(clinic.0)
        .execute(self.conn)
        .map(|_| ())
        .map_err(db_error)
    }

    fn lock_rotation(&mut self, clinic: ClinicId) -> Res<Option<RotationState>> {
        type Row = (
            Vec<u8>,
            i32,
            Option<Vec<u8>>,
            Option<i32>,
            Vec<u8>,
            Option<DateTime<Utc>>,
            Option<DateTime<Utc>>,
        );
        let row: Option<Row> = clinic_keys::table
            .find(clinic.0)
            .filter(clinic_keys::retiring_data_key.is_not_null())
            .select((
                clinic_keys::wrapped_data_key,
                clinic_keys::data_key_version,
                clinic_keys::retiring_data_key,
                clinic_keys::retiring_data_key_version,
                clinic_keys::wrapped_index_key,
                clinic_keys::rotation_started_at,
                clinic_keys::rotation_visible_at,
            ))
            .for_update()
            .first(self.conn)
            .optional()
            .map_err(db_error)?;
        Ok(row.and_then(
            |(data, data_version, retiring, retiring_version, index, started, visible)| {
                Some(RotationState {
                    keys: WrappedKeys {
                        data,
                        data_version,
                        retiring: Some((retiring?, retiring_version?)),
                        index,
                    },
                    started_at: started?,
                    visible_at: visible,
                })
            },
        ))
    }

    fn transactions_open_since(&mut self, at: DateTime<Utc>) -> Res<bool> {
        diesel::sql_query(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid() \
             AND xact_start IS NOT NULL AND xact_start <= $1) AS open",
        )
        .bind::<Timestamptz, _>(at)
        .cached()
        .get_result::<Open>(self.conn)
        .map(|r| r.open)
        .map_err(db_error)
    }

    fn retire_data_key(&mut self, clinic: ClinicId) -> Res<()> {
        self.keys_changed();
        diesel::update(clinic_keys::table.find(clinic.0))
            .set((
                clinic_keys::retiring_data_key.eq(None::<Vec<u8>>),
                clinic_keys::retiring_data_key_version.eq(None::<i32>),
                clinic_keys::rotation_started_at.eq(None::<DateTime<Utc>>),
                clinic_keys::rotation_visible_at.eq(None::<DateTime<Utc>>),
            ))
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }

    fn clinics_rotating_data_keys(&mut self) -> Res<Vec<ClinicId>> {
        diesel::sql_query("SELECT clinic_id FROM public.salus_clinics_rotating_data_keys()")
            .cached()
            .load::<Rotating>(self.conn)
            .map(|rows| rows.into_iter().map(|r| ClinicId(r.clinic_id)).collect())
            .map_err(db_error)
    }

    fn sealed_under(
        &mut self,
        clinic: ClinicId,
        column: &SealedColumn,
        key_id: &str,
        after: Option<Uuid>,
        limit: i64,
    ) -> Res<Vec<(Uuid, Vec<u8>)>> {
        let sql = format!(
            "SELECT id, {c} AS sealed FROM {t} WHERE {under} AND ($3::uuid IS NULL OR id > $3) \
             ORDER BY id LIMIT $4 FOR UPDATE SKIP LOCKED",
            c = column.column,
            t = column.table,
            under = under_key(column),
        );
        diesel::sql_query(sql)
            .bind::<SqlUuid, _>(clinic.0)
            .bind::<Text, _>(key_id)
            .bind::<Nullable<SqlUuid>, _>(after)
            .bind::<BigInt, _>(limit)
            .cached()
            .load::<SealedRow>(self.conn)
            .map(|rows| rows.into_iter().map(|r| (r.id, r.sealed)).collect())
            .map_err(db_error)
    }

    fn store_resealed(
        &mut self,
        clinic: ClinicId,
        column: &SealedColumn,
        row: Uuid,
        envelope: &[u8],
    ) -> Res<()> {
        diesel::sql_query("SELECT set_config('salus.resealing', 'on', true)")
            .execute(self.conn)
            .map_err(db_error)?;
        let sql = format!(
            "UPDATE {t} SET {c} = $3 WHERE clinic_id = $1 AND id = $2",
            t = column.table,
            c = column.column,
        );
        let updated = diesel::sql_query(sql)
            .bind::<SqlUuid, _>(clinic.0)
            .bind::<SqlUuid, _>(row)
            .bind::<Bytea, _>(envelope)
            .execute(self.conn)
            .map_err(db_error)?;
        diesel::sql_query("SELECT set_config('salus.resealing', '', true)")
            .execute(self.conn)
            .map_err(db_error)?;
        match updated {
            1 => Ok(()),
            n => Err(DomainError::Internal(format!(
                "re-encrypting {}.{} of one row changed {n} rows",
                column.table, column.column
            ))),
        }
    }

    fn count_sealed_under(
        &mut self,
        clinic: ClinicId,
        column: &SealedColumn,
        key_id: &str,
    ) -> Res<i64> {
        let sql = format!(
            "SELECT count(*) AS n FROM {t} WHERE {under}",
            t = column.table,
            under = under_key(column),
        );
        diesel::sql_query(sql)
            .bind::<SqlUuid, _>(clinic.0)
            .bind::<Text, _>(key_id)
            .cached()
            .get_result::<Count>(self.conn)
            .map(|c| c.n)
            .map_err(db_error)
    }
}
