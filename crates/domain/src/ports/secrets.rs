//! Storage of the secret inventory: when each secret or key in use was first
//! seen, and when each clinic's data key was made.

use chrono::{DateTime, Utc};

use crate::DomainError;
use crate::ids::ClinicId;

/// Storage of the secret inventory.
pub trait SecretsRepo {
    /// Records that `(kind, key_id)` is in use at `now`; true when it was seen
    /// for the first time.
    fn note_secret(
        &mut self,
        kind: &str,
        key_id: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, DomainError>;
    /// When `(kind, key_id)` was first seen.
    fn secret_first_seen(
        &mut self,
        kind: &str,
        key_id: &str,
    ) -> Result<Option<DateTime<Utc>>, DomainError>;
    /// When each clinic's data key was made.
    fn clinic_key_ages(&mut self) -> Result<Vec<(ClinicId, DateTime<Utc>)>, DomainError>;
}
