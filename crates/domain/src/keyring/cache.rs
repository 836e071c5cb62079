//! Unwrapped clinic keys kept in memory, so a request does not fetch and unwrap
//! its clinic's keys each time.
//!
//! An entry is used only when the clinic's keys as stored still have the
//! fingerprint it was made from ([`fingerprint`]: SHA-256 of the wrapped data
//! key and the retiring one), read in the transaction that uses the keys (for a
//! request, by its session check, at no cost). A data-key rotation's start and
//! end, a master-key re-wrap and a destruction all change or remove the stored
//! keys, so every node sees the change at its next use, in the very transaction
//! that would seal or open. Entries unused for [`IDLE`] are dropped, so a
//! destroyed clinic's keys do not stay in memory; at most [`CAPACITY`] clinics
//! are kept (the least recently used goes first). Every dropped copy is zeroed
//! (`ClinicKeys` zeroes itself).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::crypto::{ClinicKeys, KeysFingerprint};
use crate::ids::ClinicId;

/// Clinics whose keys are kept at most.
pub const CAPACITY: usize = 4_096;

/// How long an entry stays without being used.
pub const IDLE: Duration = Duration::from_secs(600);

struct Entry {
    fingerprint: KeysFingerprint,
    keys: ClinicKeys,
    used: Instant,
}

/// The cache, shared by every service of a process.
#[derive(Default)]
pub struct KeyCache {
    entries: Mutex<HashMap<ClinicId, Entry>>,
}

impl KeyCache {
    /// The clinic's keys, when the cached ones have `fingerprint`.
    pub fn get(&self, clinic: ClinicId, fingerprint: &KeysFingerprint) -> Option<ClinicKeys> {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = entries.get_mut(&clinic)?;
        if entry.fingerprint != *fingerprint {
            entries.remove(&clinic);
            return None;
        }
        entry.used = Instant::now();
        Some(entry.keys.clone())
    }

    /// Keeps the clinic's keys under `fingerprint`, dropping idle entries and,
    /// when full, the least recently used.
    pub fn put(&self, clinic: ClinicId, fingerprint: KeysFingerprint, keys: ClinicKeys) {
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.retain(|_, e| now.duration_since(e.used) < IDLE);
        let full = entries.len() >= CAPACITY && !entries.contains_key(&clinic);
        if let Some(oldest) = entries
            .iter()
            .filter(|_| full)
            .min_by_key(|(_, e)| e.used)
            .map(|(c, _)| *c)
        {
            entries.remove(&oldest);
        }
        entries.insert(
            clinic,
            Entry {
                fingerprint,
                keys,
                used: now,
            },
        );
    }

    /// Forgets the clinic's keys (they were destroyed).
    pub fn forget(&self, clinic: ClinicId) {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&clinic);
    }

    /// How many clinics' keys are kept.
    pub fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether none are.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
