//! Storage of keys: clinics' wrapped keys and accounts' sealed TOTP secrets
//! (implemented by the persistence crate).

use chrono::{DateTime, Utc};

use uuid::Uuid;

use crate::DomainError;
use crate::crypto::{KeysFingerprint, SealedColumn, WrappedKeys};
use crate::ids::{AccountId, ClinicId};

/// An account's sealed TOTP secrets: the confirmed one and a pending enrolment's.
pub type TotpSecrets = (Option<Vec<u8>>, Option<Vec<u8>>);

/// Storage of clinic keys and sealed TOTP secrets: what the keyring and the
/// master-key rotation read and write.
pub trait KeysRepo {
    /// The clinic's wrapped keys.
    fn clinic_keys(&mut self, clinic: ClinicId) -> Result<Option<WrappedKeys>, DomainError>;
    /// The fingerprint of the clinic's stored keys ([`WrappedKeys::fingerprint`])
    /// as this transaction sees them (`None`: the clinic has no keys); free when
    /// the transaction's session check already read it.
    fn clinic_keys_fingerprint(
        &mut self,
        clinic: ClinicId,
    ) -> Result<Option<KeysFingerprint>, DomainError>;
    /// Stores a clinic's first wrapped keys.
    fn insert_clinic_keys(
        &mut self,
        clinic: ClinicId,
        keys: &WrappedKeys,
        at: DateTime<Utc>,
    ) -> Result<(), DomainError>;
    /// Up to `limit` accounts after `after`, in id order (a platform table).
    fn accounts_after(
        &mut self,
        after: Option<AccountId>,
        limit: i64,
    ) -> Result<Vec<AccountId>, DomainError>;
    /// The account's sealed TOTP secrets (confirmed, pending), locked until the
    /// transaction ends.
    fn lock_totp_secrets(&mut self, account: AccountId) -> Result<TotpSecrets, DomainError>;
    /// Replaces the account's sealed TOTP secrets (confirmed, pending).
    fn store_totp_secrets(
        &mut self,
        account: AccountId,
        sealed: &TotpSecrets,
    ) -> Result<(), DomainError>;
    /// Every clinic the account is or was a member of (in the account's scope).
    fn clinics_of_account(&mut self, account: AccountId) -> Result<Vec<ClinicId>, DomainError>;
    /// Deletes the clinic's wrapped keys; true when there were some.
    fn delete_clinic_keys(&mut self, clinic: ClinicId) -> Result<bool, DomainError>;
    /// The clinic's wrapped keys, locked until the transaction ends.
    fn lock_clinic_keys(&mut self, clinic: ClinicId) -> Result<Option<WrappedKeys>, DomainError>;
    /// Stores the clinic's keys re-wrapped under another master key (the same
    /// keys and versions).
    fn store_rewrapped_keys(
        &mut self,
        clinic: ClinicId,
        keys: &WrappedKeys,
        at: DateTime<Utc>,
    ) -> Result<(), DomainError>;
}

/// A clinic's data-key rotation as stored, with its keys locked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationState {
    /// The clinic's wrapped keys (the retiring one among them).
    pub keys: WrappedKeys,
    /// When the rotation started (the service's clock).
    pub started_at: DateTime<Utc>,
    /// The database's clock once the new key was committed: a transaction open
    /// since before it may hold the retiring key as the active one.
    pub visible_at: Option<DateTime<Utc>>,
}

/// Storage of a clinic data-key rotation: the keys' new version, the sealed
/// fields still under the retiring key, and the transactions that may hold it.
pub trait DataKeyRotationRepo {
    /// Stores keys with a new active data key and the previous one retiring.
    fn start_data_key_rotation(
        &mut self,
        clinic: ClinicId,
        keys: &WrappedKeys,
        at: DateTime<Utc>,
    ) -> Result<(), DomainError>;
    /// Records the database's clock as the moment the new key is visible to
    /// every transaction that starts from now.
    fn mark_rotation_visible(&mut self, clinic: ClinicId) -> Result<(), DomainError>;
    /// The clinic's rotation under way, its keys locked until the transaction ends.
    fn lock_rotation(&mut self, clinic: ClinicId) -> Result<Option<RotationState>, DomainError>;
    /// Whether another transaction that began at or before `at` (the database's
    /// clock) is still open.
    fn transactions_open_since(&mut self, at: DateTime<Utc>) -> Result<bool, DomainError>;
    /// Destroys the retiring data key: the rotation is over.
    fn retire_data_key(&mut self, clinic: ClinicId) -> Result<(), DomainError>;
    /// The clinics whose rotation is under way (a platform-scope listing).
    fn clinics_rotating_data_keys(&mut self) -> Result<Vec<ClinicId>, DomainError>;
    /// Up to `limit` rows of `column` after `after` (by id) sealed under `key_id`,
    /// locked `FOR UPDATE SKIP LOCKED` (rows a writer holds are left for a later
    /// pass): (row id, envelope).
    fn sealed_under(
        &mut self,
        clinic: ClinicId,
        column: &SealedColumn,
        key_id: &str,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<(Uuid, Vec<u8>)>, DomainError>;
    /// Replaces one row's envelope in `column`, nothing else of the row (a
    /// signed note's body included: the transaction says it re-encrypts).
    fn store_resealed(
        &mut self,
        clinic: ClinicId,
        column: &SealedColumn,
        row: Uuid,
        envelope: &[u8],
    ) -> Result<(), DomainError>;
    /// How many rows of `column` are sealed under `key_id`.
    fn count_sealed_under(
        &mut self,
        clinic: ClinicId,
        column: &SealedColumn,
        key_id: &str,
    ) -> Result<i64, DomainError>;
}
