//! Storage of keys: the repository trait and the rows it reads and writes
//! (implemented by the persistence crate).

use chrono::{DateTime, Utc};

use crate::DomainError;
use crate::ids::{AccountId, ClinicId};
use crate::ports::patients::WrappedKeys;

/// An account's sealed TOTP secrets: the confirmed one and a pending enrolment's.
pub type TotpSecrets = (Option<Vec<u8>>, Option<Vec<u8>>);

/// Storage used by the rotation.
pub trait KeysRepo {
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
