//! Storage of keys: clinics' wrapped keys and accounts' sealed TOTP secrets
//! (implemented by the persistence crate).

use chrono::{DateTime, Utc};

use crate::DomainError;
use crate::ids::{AccountId, ClinicId};

/// A clinic's wrapped keys as stored: (data key, index key).
pub type WrappedKeys = (Vec<u8>, Vec<u8>);

/// An account's sealed TOTP secrets: the confirmed one and a pending enrolment's.
pub type TotpSecrets = (Option<Vec<u8>>, Option<Vec<u8>>);

/// Storage of clinic keys and sealed TOTP secrets: what the keyring and the
/// master-key rotation read and write.
pub trait KeysRepo {
    /// The clinic's wrapped keys: (data, index).
    fn clinic_keys(&mut self, clinic: ClinicId) -> Result<Option<WrappedKeys>, DomainError>;
    /// Stores a clinic's wrapped keys.
    fn insert_clinic_keys(
        &mut self,
        clinic: ClinicId,
        data: &[u8],
        index: &[u8],
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
    /// Stores the clinic's re-wrapped keys.
    fn store_rewrapped_keys(
        &mut self,
        clinic: ClinicId,
        keys: &WrappedKeys,
        at: DateTime<Utc>,
    ) -> Result<(), DomainError>;
}
