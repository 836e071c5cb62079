//! `KeysRepo` on PostgreSQL: what master-key rotation reads and rewrites.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use salus_domain::DomainError;
use salus_domain::ids::{AccountId, ClinicId};
use salus_domain::ports::keys::WrappedKeys;
use salus_domain::ports::keys::{KeysRepo, TotpSecrets};
use uuid::Uuid;

use crate::schema::{accounts, clinic_keys, memberships};
use crate::store::{PgTx, db_error};

type Res<T> = Result<T, DomainError>;

impl KeysRepo for PgTx<'_> {
    fn clinic_keys(&mut self, clinic: ClinicId) -> Res<Option<WrappedKeys>> {
        clinic_keys::table
            .find(clinic.0)
            .select((
                clinic_keys::wrapped_data_key,
                clinic_keys::wrapped_index_key,
            ))
            .first(self.conn)
            .optional()
            .map_err(db_error)
    }

    fn insert_clinic_keys(
        &mut self,
        clinic: ClinicId,
        data: &[u8],
        index: &[u8],
        at: DateTime<Utc>,
    ) -> Res<()> {
        diesel::insert_into(clinic_keys::table)
            .values((
                clinic_keys::clinic_id.eq(clinic.0),
                clinic_keys::wrapped_data_key.eq(data),
                clinic_keys::wrapped_index_key.eq(index),
                clinic_keys::created_at.eq(at),
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
            .select((
                clinic_keys::wrapped_data_key,
                clinic_keys::wrapped_index_key,
            ))
            .for_update()
            .first(self.conn)
            .optional()
            .map_err(db_error)
    }

    fn store_rewrapped_keys(
        &mut self,
        clinic: ClinicId,
        (data, index): &WrappedKeys,
        at: DateTime<Utc>,
    ) -> Res<()> {
        diesel::update(clinic_keys::table.find(clinic.0))
            .set((
                clinic_keys::wrapped_data_key.eq(data),
                clinic_keys::wrapped_index_key.eq(index),
                clinic_keys::rewrapped_at.eq(Some(at)),
            ))
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }

    fn delete_clinic_keys(&mut self, clinic: ClinicId) -> Res<bool> {
        diesel::delete(clinic_keys::table.find(clinic.0))
            .execute(self.conn)
            .map(|n| n > 0)
            .map_err(db_error)
    }
}
