//! Clinic data-key rotation without downtime (promise E3).
//!
//! [`DataKeyRotation::start`] gives the clinic a new data key version: from its
//! commit every new value is sealed under it, and the previous version, the
//! retiring key, only opens. [`DataKeyRotation::advance`] (the rotation job on
//! every node, or `salus keys rotate-clinic` in the foreground) re-encrypts the
//! fields of [`DATA_KEY_COLUMNS`] still under the retiring key, in batches of
//! [`BATCH`] rows, each batch its own transaction with its rows locked
//! `FOR UPDATE SKIP LOCKED` (a row a writer holds is left for the next pass, and
//! two nodes never move the same row). Reads work throughout: the clinic's keys
//! open both versions until the end.
//!
//! The retiring key is destroyed, and the rotation audited, only when both hold
//! in one transaction with the keys locked: no field under it remains, and no
//! transaction that began before the new key was visible is still open (such a
//! transaction may have read the retiring key as the active one and be about to
//! seal a value under it; one that begins later reads the new key). The
//! database's own clock and `pg_stat_activity` decide the second, so a slow
//! request cannot slip a value under a destroyed key. Every step can be
//! interrupted and run again.

use chrono::{DateTime, Utc};

use crate::DomainError;
use crate::audit::{AuditRecord, actions};
use crate::crypto::{ClinicKeys, DATA_KEY_COLUMNS};
use crate::identity::model::ClientInfo;
use crate::ids::ClinicId;
use crate::ports::keys::RotationState;
use crate::shared::{Core, transactions};
use crate::store::Scope;

/// Rows re-encrypted per transaction.
pub const BATCH: i64 = 200;

/// Where a clinic's rotation stands after one [`DataKeyRotation::advance`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Advance {
    /// No rotation is under way for the clinic.
    Idle,
    /// Still under way: `remaining` fields are under the retiring key, or a
    /// transaction that may hold it is still open (`remaining` is then 0).
    Moving {
        /// Fields re-encrypted by this pass.
        resealed: u64,
        /// Fields still under the retiring key.
        remaining: i64,
    },
    /// The retiring key was destroyed: every field is under `version`.
    Finished {
        /// Fields re-encrypted by this pass.
        resealed: u64,
        /// The data key version now the only one.
        version: i32,
    },
}

/// Clinic data-key rotation: start, advance, finish.
#[derive(Clone)]
pub struct DataKeyRotation {
    core: Core,
}

impl DataKeyRotation {
    /// The service over the shared core.
    pub fn new(core: Core) -> Self {
        Self { core }
    }

    transactions!(DataKeyTx);

    /// Gives the clinic's data key a new version (audited in the clinic's chain,
    /// `keys.data_key_rotation_started`, with who asked): the new version.
    /// Refused with `rotation_under_way` while the previous rotation is not over.
    pub fn start(&self, clinic: ClinicId, by: &str) -> Result<i32, DomainError> {
        let now = self.core.now();
        let version = self.tx(Scope::Clinic(clinic), |tx| {
            self.core.clinic_keys(tx, clinic)?;
            let wrapped = tx.lock_clinic_keys(clinic)?.ok_or(DomainError::NotFound)?;
            let keys = ClinicKeys::unwrap(clinic, self.core.master_keys(), &wrapped)?;
            let rotated = keys.rotated(self.core.random())?;
            tx.start_data_key_rotation(
                clinic,
                &rotated.wrap(self.core.master_keys(), self.core.random())?,
                now,
            )?;
            self.core.audit(
                tx,
                AuditRecord::account(actions::KEYS_DATA_KEY_ROTATION_STARTED, None)
                    .in_clinic(Some(clinic))
                    .on("clinic", clinic)
                    .detail("from_version", keys.data_key_version())
                    .detail("to_version", rotated.data_key_version())
                    .detail("operator", by),
                &client(),
            )?;
            Ok(rotated.data_key_version())
        })?;
        self.tx(Scope::Clinic(clinic), |tx| tx.mark_rotation_visible(clinic))?;
        Ok(version)
    }

    /// One pass over the clinic's rotation: the fields still under the retiring
    /// key re-encrypted, batch by batch, then the retiring key destroyed if
    /// nothing can need it any more (`keys.data_key_rotated`, audited in the
    /// same transaction).
    pub fn advance(&self, clinic: ClinicId, by: &str) -> Result<Advance, DomainError> {
        let Some(state) = self.tx(Scope::Clinic(clinic), |tx| tx.lock_rotation(clinic))? else {
            return Ok(Advance::Idle);
        };
        let keys = ClinicKeys::unwrap(clinic, self.core.master_keys(), &state.keys)?;
        let Some(retiring) = keys.retiring_data_key_id() else {
            return Ok(Advance::Idle);
        };
        let Some(visible_at) = state.visible_at else {
            // Started, but the process stopped before it noted when: note it
            // now; transactions older than that are waited for.
            self.tx(Scope::Clinic(clinic), |tx| tx.mark_rotation_visible(clinic))?;
            return Ok(Advance::Moving {
                resealed: 0,
                remaining: 0,
            });
        };
        let resealed = self.reseal_all(clinic, &keys, &retiring)?;
        self.finish(clinic, &retiring, visible_at, &state, resealed, by)
    }

    /// Re-encrypts every field under `retiring` that no writer holds: how many.
    fn reseal_all(
        &self,
        clinic: ClinicId,
        keys: &ClinicKeys,
        retiring: &str,
    ) -> Result<u64, DomainError> {
        let mut resealed = 0;
        for column in DATA_KEY_COLUMNS {
            let mut after = None;
            loop {
                let moved = self.tx(Scope::Clinic(clinic), |tx| {
                    let rows = tx.sealed_under(clinic, column, retiring, after, BATCH)?;
                    for (row, envelope) in &rows {
                        let again = keys.reseal_field(
                            self.core.random(),
                            column.table,
                            column.bound_as,
                            *row,
                            envelope,
                        )?;
                        tx.store_resealed(clinic, column, *row, &again)?;
                    }
                    Ok(rows.last().map(|(row, _)| (*row, rows.len())))
                })?;
                let Some((last, count)) = moved else { break };
                resealed += count as u64;
                after = Some(last);
            }
        }
        Ok(resealed)
    }

    /// Destroys the retiring key when no field is under it and no transaction
    /// from before `visible_at` is open, in one transaction with the keys locked.
    fn finish(
        &self,
        clinic: ClinicId,
        retiring: &str,
        visible_at: DateTime<Utc>,
        state: &RotationState,
        resealed: u64,
        by: &str,
    ) -> Result<Advance, DomainError> {
        let now = self.core.now();
        self.tx(Scope::Clinic(clinic), |tx| {
            if tx.lock_rotation(clinic)?.is_none() {
                return Ok(Advance::Idle);
            }
            let mut remaining = 0;
            for column in DATA_KEY_COLUMNS {
                remaining += tx.count_sealed_under(clinic, column, retiring)?;
            }
            if remaining > 0 || tx.transactions_open_since(visible_at)? {
                return Ok(Advance::Moving {
                    resealed,
                    remaining,
                });
            }
            tx.retire_data_key(clinic)?;
            let version = state.keys.data_version;
            self.core.audit(
                tx,
                AuditRecord::account(actions::KEYS_DATA_KEY_ROTATED, None)
                    .in_clinic(Some(clinic))
                    .on("clinic", clinic)
                    .detail("version", version)
                    .detail("destroyed_key", retiring)
                    .detail("seconds", (now - state.started_at).num_seconds().max(0))
                    .detail("operator", by),
                &client(),
            )?;
            Ok(Advance::Finished { resealed, version })
        })
    }

    /// The clinics whose rotation is under way.
    pub fn rotating_clinics(&self) -> Result<Vec<ClinicId>, DomainError> {
        self.tx(Scope::Platform, |tx| tx.clinics_rotating_data_keys())
    }

    /// One round of the rotation job: every rotation under way advanced once
    /// (the ones that finished, with their clinics).
    pub fn advance_all(&self) -> Result<Vec<(ClinicId, Advance)>, DomainError> {
        let mut done = Vec::new();
        for clinic in self.rotating_clinics()? {
            done.push((clinic, self.advance(clinic, "rotation job")?));
        }
        Ok(done)
    }
}

fn client() -> ClientInfo {
    ClientInfo {
        user_agent: Some("salus data-key rotation".to_owned()),
        ..ClientInfo::default()
    }
}
