//! The keyring: the one owner of clinic keys. It creates a clinic's data and index
//! keys on first use, unwraps them under the master keys, re-wraps them under the
//! active master key (`rotation`), gives a clinic a new data key version
//! (`data_key`) and destroys them (crypto-shredding); it also holds the master
//! keys that seal accounts' TOTP secrets. Clinic keys reach storage only through
//! [`KeysRepo`].

pub mod cache;
pub mod data_key;
pub mod rotation;

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::crypto::{ClinicKeys, MasterKeys};
use crate::ids::ClinicId;
use crate::keyring::cache::KeyCache;
use crate::ports::keys::KeysRepo;
use crate::{DomainError, Random};

/// What happened to one clinic's keys or one TOTP secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Re-wrapped (or re-sealed) under the active key.
    Rewrapped,
    /// Already under the active key: left alone.
    AlreadyCurrent,
    /// Nothing stored.
    Nothing,
}

/// The master keys and the clinic keys wrapped under them.
#[derive(Clone)]
pub struct Keyring {
    master: Arc<MasterKeys>,
    random: Arc<dyn Random>,
    cache: Arc<KeyCache>,
}

impl Keyring {
    /// A keyring over the configured master keys (the first is the active one).
    pub fn new(master: Arc<MasterKeys>, random: Arc<dyn Random>) -> Self {
        Self {
            master,
            random,
            cache: Arc::default(),
        }
    }

    /// The same keyring drawing randomness from `random` (and sharing its cache).
    pub fn with_random(&self, random: Arc<dyn Random>) -> Self {
        Self {
            random,
            ..self.clone()
        }
    }

    /// How many clinics' keys the cache holds.
    pub fn cached_clinics(&self) -> usize {
        self.cache.len()
    }

    /// The master keys (they seal accounts' TOTP secrets).
    pub fn master(&self) -> &MasterKeys {
        &self.master
    }

    /// The clinic's keys, unwrapped; created (and stored wrapped) on first use for
    /// a clinic that has none. From the cache when the stored keys' fingerprint,
    /// as this transaction sees it, is the cached one's (see [`cache`]).
    pub fn clinic_keys(
        &self,
        tx: &mut dyn KeysRepo,
        clinic: ClinicId,
        now: DateTime<Utc>,
    ) -> Result<ClinicKeys, DomainError> {
        let Some(fingerprint) = tx.clinic_keys_fingerprint(clinic)? else {
            let keys = ClinicKeys::generate(clinic, self.random.as_ref());
            let wrapped = keys.wrap(&self.master, self.random.as_ref())?;
            tx.insert_clinic_keys(clinic, &wrapped, now)?;
            self.cache.put(clinic, wrapped.fingerprint(), keys.clone());
            return Ok(keys);
        };
        if let Some(keys) = self.cache.get(clinic, &fingerprint) {
            return Ok(keys);
        }
        let wrapped = tx.clinic_keys(clinic)?.ok_or_else(|| {
            DomainError::Internal(format!("the keys of clinic {clinic} vanished"))
        })?;
        let keys = ClinicKeys::unwrap(clinic, &self.master, &wrapped)?;
        self.cache.put(clinic, wrapped.fingerprint(), keys.clone());
        Ok(keys)
    }

    /// Re-wraps the clinic's data and index keys under the active master key
    /// (locked until the transaction ends); left alone when already under it.
    pub fn rewrap(
        &self,
        tx: &mut dyn KeysRepo,
        clinic: ClinicId,
        now: DateTime<Utc>,
    ) -> Result<Outcome, DomainError> {
        let Some(wrapped) = tx.lock_clinic_keys(clinic)? else {
            return Ok(Outcome::Nothing);
        };
        match ClinicKeys::rewrap(clinic, &self.master, self.random.as_ref(), &wrapped)? {
            None => Ok(Outcome::AlreadyCurrent),
            Some(rewrapped) => {
                tx.store_rewrapped_keys(clinic, &rewrapped, now)?;
                Ok(Outcome::Rewrapped)
            }
        }
    }

    /// Destroys the clinic's keys: every field sealed under them can never be
    /// opened again (crypto-shredding), whatever copies of the ciphertext remain.
    /// True when there were keys.
    pub fn destroy(&self, tx: &mut dyn KeysRepo, clinic: ClinicId) -> Result<bool, DomainError> {
        self.cache.forget(clinic);
        tx.delete_clinic_keys(clinic)
    }
}
