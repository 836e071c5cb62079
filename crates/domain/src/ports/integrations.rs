//! Storage of service accounts and their API keys (implemented by the
//! persistence crate).

use chrono::{DateTime, Utc};

use crate::DomainError;
use crate::access::PermissionSet;
use crate::ids::{ApiKeyId, ClinicId, MembershipId, ServiceAccountId};

type Res<T> = Result<T, DomainError>;

/// A service account as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAccount {
    /// Its id (also its actor's account and membership id).
    pub id: ServiceAccountId,
    /// What the clinic calls it.
    pub name: String,
    /// What its keys may do.
    pub permissions: PermissionSet,
    /// The networks (CIDR) it may call from; empty: any.
    pub allowed_networks: Vec<String>,
    /// The member who created it.
    pub created_by: MembershipId,
    /// When.
    pub created_at: DateTime<Utc>,
    /// When it ends, and every key with it.
    pub expires_at: DateTime<Utc>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// An API key as stored, without its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// Its id (the middle part of the key).
    pub id: ApiKeyId,
    /// The account it belongs to.
    pub service_account: ServiceAccountId,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// When it ends (the account's end, or the end of a rotation's overlap).
    pub expires_at: DateTime<Utc>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
    /// When it was last used (written at most once a minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// From which address.
    pub last_used_ip: Option<String>,
}

/// What authenticating a key needs, in one read: the key, its hash, its
/// account and the clinic's plan and purpose-of-use setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyContext {
    /// The key.
    pub key: ApiKey,
    /// The SHA-256 of the whole key.
    pub secret_sha256: Vec<u8>,
    /// Its account.
    pub account: ServiceAccount,
    /// The clinic's plan (stored name).
    pub plan: String,
    /// Whether clinical reads must state their purpose of use.
    pub purpose_of_use_required: bool,
}

/// Service accounts and their keys.
pub trait IntegrationsRepo {
    /// Stores a new service account.
    fn insert_service_account(&mut self, clinic: ClinicId, account: &ServiceAccount) -> Res<()>;
    /// Stores a new key with the SHA-256 of the whole key.
    fn insert_api_key(&mut self, clinic: ClinicId, key: &ApiKey, sha256: &[u8]) -> Res<()>;
    /// The clinic's service accounts, revoked ones included, oldest first.
    fn service_accounts(&mut self, clinic: ClinicId) -> Res<Vec<ServiceAccount>>;
    /// One service account.
    fn service_account(
        &mut self,
        clinic: ClinicId,
        id: ServiceAccountId,
    ) -> Res<Option<ServiceAccount>>;
    /// The keys of the clinic's accounts (of one, when given), oldest first.
    fn api_keys(&mut self, clinic: ClinicId, account: Option<ServiceAccountId>)
    -> Res<Vec<ApiKey>>;
    /// How many of the clinic's service accounts are neither revoked nor ended at `now`.
    fn count_live_service_accounts(&mut self, clinic: ClinicId, now: DateTime<Utc>) -> Res<i64>;
    /// Ends the account's live keys at `at` at the latest (a rotation's
    /// overlap), but `except`; how many.
    fn end_api_keys(
        &mut self,
        clinic: ClinicId,
        account: ServiceAccountId,
        except: ApiKeyId,
        at: DateTime<Utc>,
    ) -> Res<usize>;
    /// Revokes one key of the account at `at`; false when none was live.
    fn revoke_api_key(
        &mut self,
        clinic: ClinicId,
        account: ServiceAccountId,
        key: ApiKeyId,
        at: DateTime<Utc>,
    ) -> Res<bool>;
    /// Revokes the account and every key of it at `at`; false when it was
    /// already revoked or is unknown.
    fn revoke_service_account(
        &mut self,
        clinic: ClinicId,
        id: ServiceAccountId,
        at: DateTime<Utc>,
    ) -> Res<bool>;
    /// The key, its hash, its account and the clinic's settings.
    fn key_context(&mut self, clinic: ClinicId, key: ApiKeyId) -> Res<Option<KeyContext>>;
    /// Records a key's use.
    fn touch_api_key(
        &mut self,
        clinic: ClinicId,
        key: ApiKeyId,
        at: DateTime<Utc>,
        ip: Option<&str>,
    ) -> Res<()>;
    /// Accounts of every clinic live at `now` that end before `before` and
    /// whose managers were not told yet (platform scope), at most `limit`.
    fn service_accounts_ending(
        &mut self,
        now: DateTime<Utc>,
        before: DateTime<Utc>,
        limit: i64,
    ) -> Res<Vec<(ClinicId, ServiceAccount)>>;
    /// Records that the account's managers were told of its end; false when
    /// another node did first.
    fn mark_expiry_notified(
        &mut self,
        clinic: ClinicId,
        id: ServiceAccountId,
        at: DateTime<Utc>,
    ) -> Res<bool>;
}
