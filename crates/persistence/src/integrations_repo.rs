//! Service accounts and their API keys on PostgreSQL. The allowed networks are
//! a `cidr[]` (PostgreSQL checks each), read and written as text. A key's
//! check reads the key, its account and the clinic's settings in one prepared
//! statement ([`KEY_CONTEXT_SQL`]).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Bytea, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use salus_domain::DomainError;
use salus_domain::access::PermissionSet;
use salus_domain::ids::{ApiKeyId, ClinicId, MembershipId, ServiceAccountId};
use salus_domain::ports::integrations::{ApiKey, IntegrationsRepo, KeyContext, ServiceAccount};
use uuid::Uuid;

use crate::cached::CacheStatement;
use crate::prepared::TwoBinds;
use crate::store::{PgTx, db_error};

type Res<T> = Result<T, DomainError>;

const ACCOUNT_COLUMNS: &str = "a.clinic_id, a.id, a.name, a.permissions, \
     a.allowed_networks::text[] AS allowed_networks, a.created_by, a.created_at, \
     a.expires_at, a.revoked_at";

const KEY_COLUMNS: &str = "k.id AS key_id, k.service_account_id, k.created_at AS key_created_at, \
     k.expires_at AS key_expires_at, k.revoked_at AS key_revoked_at, k.last_used_at, k.last_used_ip";

/// The per-request check of a key: the key, its account, the clinic's plan
/// and purpose-of-use setting, in one round trip.
const KEY_CONTEXT_SQL: &str = "
    SELECT a.clinic_id, a.id, a.name, a.permissions,
           a.allowed_networks::text[] AS allowed_networks, a.created_by, a.created_at,
           a.expires_at, a.revoked_at,
           k.id AS key_id, k.service_account_id, k.created_at AS key_created_at,
           k.expires_at AS key_expires_at, k.revoked_at AS key_revoked_at, k.last_used_at,
           k.last_used_ip, k.secret_sha256, c.plan, c.purpose_of_use_required
      FROM service_account_keys k
      JOIN service_accounts a ON a.clinic_id = k.clinic_id AND a.id = k.service_account_id
      JOIN clinics c ON c.id = k.clinic_id
     WHERE k.clinic_id = $1 AND k.id = $2";

/// [`KEY_CONTEXT_SQL`]'s identity in the statement cache.
struct KeyContextQuery;

#[derive(QueryableByName)]
struct AccountRow {
    #[diesel(sql_type = SqlUuid)]
    clinic_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Array<Text>)]
    permissions: Vec<String>,
    #[diesel(sql_type = Array<Text>)]
    allowed_networks: Vec<String>,
    #[diesel(sql_type = SqlUuid)]
    created_by: Uuid,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    expires_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    revoked_at: Option<DateTime<Utc>>,
}

impl AccountRow {
    fn account(self) -> ServiceAccount {
        ServiceAccount {
            id: ServiceAccountId(self.id),
            name: self.name,
            permissions: PermissionSet::from_codes(&self.permissions),
            allowed_networks: self.allowed_networks,
            created_by: MembershipId(self.created_by),
            created_at: self.created_at,
            expires_at: self.expires_at,
            revoked_at: self.revoked_at,
        }
    }
}

#[derive(QueryableByName)]
struct KeyRow {
    #[diesel(sql_type = SqlUuid)]
    key_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    service_account_id: Uuid,
    #[diesel(sql_type = Timestamptz)]
    key_created_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    key_expires_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    key_revoked_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    last_used_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Text>)]
    last_used_ip: Option<String>,
}

impl KeyRow {
    fn key(self) -> ApiKey {
        ApiKey {
            id: ApiKeyId(self.key_id),
            service_account: ServiceAccountId(self.service_account_id),
            created_at: self.key_created_at,
            expires_at: self.key_expires_at,
            revoked_at: self.key_revoked_at,
            last_used_at: self.last_used_at,
            last_used_ip: self.last_used_ip,
        }
    }
}

#[derive(QueryableByName)]
struct ContextRow {
    #[diesel(embed)]
    account: AccountRow,
    #[diesel(embed)]
    key: KeyRow,
    #[diesel(sql_type = Bytea)]
    secret_sha256: Vec<u8>,
    #[diesel(sql_type = Text)]
    plan: String,
    #[diesel(sql_type = Bool)]
    purpose_of_use_required: bool,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

impl IntegrationsRepo for PgTx<'_> {
    fn insert_service_account(&mut self, clinic: ClinicId, a: &ServiceAccount) -> Res<()> {
        diesel::sql_query(
            "INSERT INTO service_accounts (clinic_id, id, name, permissions, allowed_networks,
                                           created_by, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5::cidr[], $6, $7, $8)",
        )
        .bind::<SqlUuid, _>(clinic.0)
        .bind::<SqlUuid, _>(a.id.0)
        .bind::<Text, _>(&a.name)
        .bind::<Array<Text>, _>(a.permissions.codes())
        .bind::<Array<Text>, _>(&a.allowed_networks)
        .bind::<SqlUuid, _>(a.created_by.0)
        .bind::<Timestamptz, _>(a.created_at)
        .bind::<Timestamptz, _>(a.expires_at)
        .execute(self.conn)
        .map(|_| ())
        .map_err(db_error)
    }

    fn insert_api_key(&mut self, clinic: ClinicId, k: &ApiKey, sha256: &[u8]) -> Res<()> {
        diesel::sql_query(
            "INSERT INTO service_account_keys (clinic_id, id, service_account_id, secret_sha256,
                                               created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind::<SqlUuid, _>(clinic.0)
        .bind::<SqlUuid, _>(k.id.0)
        .bind::<SqlUuid, _>(k.service_account.0)
        .bind::<Bytea, _>(sha256)
        .bind::<Timestamptz, _>(k.created_at)
        .bind::<Timestamptz, _>(k.expires_at)
        .execute(self.conn)
        .map(|_| ())
        .map_err(db_error)
    }

    fn service_accounts(&mut self, clinic: ClinicId) -> Res<Vec<ServiceAccount>> {
        diesel::sql_query(format!(
            "SELECT {ACCOUNT_COLUMNS} FROM service_accounts a WHERE a.clinic_id = $1 ORDER BY a.id"
        ))
        .bind::<SqlUuid, _>(clinic.0)
        .cached()
        .load::<AccountRow>(self.conn)
        .map(|rows| rows.into_iter().map(AccountRow::account).collect())
        .map_err(db_error)
    }

    fn service_account(
        &mut self,
        clinic: ClinicId,
        id: ServiceAccountId,
    ) -> Res<Option<ServiceAccount>> {
        diesel::sql_query(format!(
            "SELECT {ACCOUNT_COLUMNS} FROM service_accounts a WHERE a.clinic_id = $1 AND a.id = $2"
        ))
        .bind::<SqlUuid, _>(clinic.0)
        .bind::<SqlUuid, _>(id.0)
        .cached()
        .get_result::<AccountRow>(self.conn)
        .optional()
        .map(|row| row.map(AccountRow::account))
        .map_err(db_error)
    }

    fn api_keys(
        &mut self,
        clinic: ClinicId,
        account: Option<ServiceAccountId>,
    ) -> Res<Vec<ApiKey>> {
        diesel::sql_query(format!(
            "SELECT {KEY_COLUMNS} FROM service_account_keys k
              WHERE k.clinic_id = $1 AND ($2::uuid IS NULL OR k.service_account_id = $2)
              ORDER BY k.id"
        ))
        .bind::<SqlUuid, _>(clinic.0)
        .bind::<Nullable<SqlUuid>, _>(account.map(|a| a.0))
        .cached()
        .load::<KeyRow>(self.conn)
        .map(|rows| rows.into_iter().map(KeyRow::key).collect())
        .map_err(db_error)
    }

    fn count_live_service_accounts(&mut self, clinic: ClinicId, now: DateTime<Utc>) -> Res<i64> {
        diesel::sql_query(
            "SELECT count(*) AS n FROM service_accounts
              WHERE clinic_id = $1 AND revoked_at IS NULL AND expires_at > $2",
        )
        .bind::<SqlUuid, _>(clinic.0)
        .bind::<Timestamptz, _>(now)
        .cached()
        .get_result::<Count>(self.conn)
        .map(|c| c.n)
        .map_err(db_error)
    }

    fn end_api_keys(
        &mut self,
        clinic: ClinicId,
        account: ServiceAccountId,
        except: ApiKeyId,
        at: DateTime<Utc>,
    ) -> Res<usize> {
        diesel::sql_query(
            "UPDATE service_account_keys SET expires_at = greatest(created_at, least(expires_at, $4))
              WHERE clinic_id = $1 AND service_account_id = $2 AND id <> $3
                AND revoked_at IS NULL AND expires_at > $4",
        )
        .bind::<SqlUuid, _>(clinic.0)
        .bind::<SqlUuid, _>(account.0)
        .bind::<SqlUuid, _>(except.0)
        .bind::<Timestamptz, _>(at)
        .execute(self.conn)
        .map_err(db_error)
    }

    fn revoke_api_key(
        &mut self,
        clinic: ClinicId,
        account: ServiceAccountId,
        key: ApiKeyId,
        at: DateTime<Utc>,
    ) -> Res<bool> {
        diesel::sql_query(
            "UPDATE service_account_keys SET revoked_at = $4
              WHERE clinic_id = $1 AND service_account_id = $2 AND id = $3 AND revoked_at IS NULL",
        )
        .bind::<SqlUuid, _>(clinic.0)
        .bind::<SqlUuid, _>(account.0)
        .bind::<SqlUuid, _>(key.0)
        .bind::<Timestamptz, _>(at)
        .execute(self.conn)
        .map(|n| n == 1)
        .map_err(db_error)
    }

    fn revoke_service_account(
        &mut self,
        clinic: ClinicId,
        id: ServiceAccountId,
        at: DateTime<Utc>,
    ) -> Res<bool> {
        let revoked = diesel::sql_query(
            "UPDATE service_accounts SET revoked_at = $3
              WHERE clinic_id = $1 AND id = $2 AND revoked_at IS NULL",
        )
        .bind::<SqlUuid, _>(clinic.0)
        .bind::<SqlUuid, _>(id.0)
        .bind::<Timestamptz, _>(at)
        .execute(self.conn)
        .map_err(db_error)?;
        diesel::sql_query(
            "UPDATE service_account_keys SET revoked_at = $3
              WHERE clinic_id = $1 AND service_account_id = $2 AND revoked_at IS NULL",
        )
        .bind::<SqlUuid, _>(clinic.0)
        .bind::<SqlUuid, _>(id.0)
        .bind::<Timestamptz, _>(at)
        .execute(self.conn)
        .map_err(db_error)?;
        Ok(revoked == 1)
    }

    fn key_context(&mut self, clinic: ClinicId, key: ApiKeyId) -> Res<Option<KeyContext>> {
        TwoBinds::<KeyContextQuery, SqlUuid, SqlUuid, Uuid, Uuid>::new(
            KEY_CONTEXT_SQL,
            &clinic.0,
            &key.0,
        )
        .get_result::<ContextRow>(self.conn)
        .optional()
        .map(|row| {
            row.map(|r| KeyContext {
                key: r.key.key(),
                secret_sha256: r.secret_sha256,
                account: r.account.account(),
                plan: r.plan,
                purpose_of_use_required: r.purpose_of_use_required,
            })
        })
        .map_err(db_error)
    }

    fn touch_api_key(
        &mut self,
        clinic: ClinicId,
        key: ApiKeyId,
        at: DateTime<Utc>,
        ip: Option<&str>,
    ) -> Res<()> {
        diesel::sql_query(
            "UPDATE service_account_keys SET last_used_at = $3, last_used_ip = left($4, 64)
              WHERE clinic_id = $1 AND id = $2",
        )
        .bind::<SqlUuid, _>(clinic.0)
        .bind::<SqlUuid, _>(key.0)
        .bind::<Timestamptz, _>(at)
        .bind::<Nullable<Text>, _>(ip)
        .execute(self.conn)
        .map(|_| ())
        .map_err(db_error)
    }

    fn service_accounts_ending(
        &mut self,
        now: DateTime<Utc>,
        before: DateTime<Utc>,
        limit: i64,
    ) -> Res<Vec<(ClinicId, ServiceAccount)>> {
        diesel::sql_query(format!(
            "SELECT {ACCOUNT_COLUMNS} FROM service_accounts a
              WHERE a.revoked_at IS NULL AND a.expiry_notified_at IS NULL
                AND a.expires_at < $1 AND a.expires_at > $3
              ORDER BY a.expires_at LIMIT $2"
        ))
        .bind::<Timestamptz, _>(before)
        .bind::<BigInt, _>(limit)
        .bind::<Timestamptz, _>(now)
        .cached()
        .load::<AccountRow>(self.conn)
        .map(|rows| {
            rows.into_iter()
                .map(|r| (ClinicId(r.clinic_id), r.account()))
                .collect()
        })
        .map_err(db_error)
    }

    fn mark_expiry_notified(
        &mut self,
        clinic: ClinicId,
        id: ServiceAccountId,
        at: DateTime<Utc>,
    ) -> Res<bool> {
        diesel::sql_query(
            "UPDATE service_accounts SET expiry_notified_at = $3
              WHERE clinic_id = $1 AND id = $2 AND expiry_notified_at IS NULL",
        )
        .bind::<SqlUuid, _>(clinic.0)
        .bind::<SqlUuid, _>(id.0)
        .bind::<Timestamptz, _>(at)
        .execute(self.conn)
        .map(|n| n == 1)
        .map_err(db_error)
    }
}
