//! Master-key rotation (`salus keys rotate-master`): every clinic's data and index
//! keys are re-wrapped, and every TOTP secret re-sealed, under the active (first)
//! master key, so the old key can then leave the ring.
//!
//! Each clinic and each account is its own transaction, and values already under
//! the active key are left alone: a run can be interrupted and started again.
//! Clinics are found through memberships (accounts are platform rows; an account's
//! memberships are visible in its own scope), so no role needs to bypass row-level
//! security. Every clinic has had an owner since sign-up and memberships are
//! deleted only with their clinic (`salus seed-dev --reset`, development), so no
//! clinic is missed.

use crate::DomainError;
use crate::audit::AuditRecord;
use crate::audit::actions;
use crate::identity::mfa;
use crate::identity::model::ClientInfo;
use crate::ids::{AccountId, ClinicId};
use crate::keyring::Outcome;
use crate::shared::{Core, transactions};
use crate::store::Scope;

/// Accounts read per transaction while looking for clinics.
const ACCOUNT_PAGE: i64 = 500;

/// Progress of a rotation, reported as it goes.
#[derive(Debug, Clone, Copy)]
pub enum Progress {
    /// Accounts scanned so far (their TOTP secrets re-sealed, their clinics noted).
    Accounts(usize),
    /// Clinic `done` of `total` handled.
    Clinic {
        /// Clinics handled so far.
        done: usize,
        /// Clinics in all.
        total: usize,
        /// This clinic.
        clinic: ClinicId,
        /// What happened to its keys.
        outcome: Outcome,
    },
}

/// What a rotation did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RotationSummary {
    /// The active master key's id.
    pub active_key: String,
    /// Clinics found.
    pub clinics: usize,
    /// Clinics whose keys were re-wrapped.
    pub rewrapped: usize,
    /// Clinics whose keys were already under the active key.
    pub already_current: usize,
    /// Clinics that have no keys yet (they get them under the active key).
    pub without_keys: usize,
    /// TOTP secrets re-sealed.
    pub totp_resealed: usize,
    /// TOTP secrets already under the active key.
    pub totp_current: usize,
}

/// Master-key rotation over every clinic and account.
#[derive(Clone)]
pub struct KeyRotation {
    core: Core,
}

impl KeyRotation {
    /// The service over the shared core.
    pub fn new(core: Core) -> Self {
        Self { core }
    }

    transactions!(KeysTx);

    /// Re-wraps every clinic's keys and re-seals every TOTP secret under the active
    /// master key, one transaction per account and per clinic; a completed run
    /// is recorded (`keys.master_rotated`, with its counts and who ran it) in the
    /// platform audit chain.
    pub fn rotate_master_key(
        &self,
        by: &str,
        progress: &mut dyn FnMut(Progress),
    ) -> Result<RotationSummary, DomainError> {
        let mut summary = RotationSummary {
            active_key: self.core.master_keys().active_id().to_owned(),
            ..RotationSummary::default()
        };
        let mut clinics = std::collections::BTreeSet::new();
        let mut after = None;
        let mut seen = 0;
        loop {
            let page = self.tx(Scope::Platform, |tx| tx.accounts_after(after, ACCOUNT_PAGE))?;
            let Some(&last) = page.last() else { break };
            for account in page {
                let (of_account, totp) = self
                    .rotate_account(account)
                    .map_err(|e| DomainError::Internal(format!("account {account}: {e:?}")))?;
                clinics.extend(of_account);
                match totp {
                    Outcome::Rewrapped => summary.totp_resealed += 1,
                    Outcome::AlreadyCurrent => summary.totp_current += 1,
                    Outcome::Nothing => {}
                }
                seen += 1;
            }
            progress(Progress::Accounts(seen));
            after = Some(last);
        }
        summary.clinics = clinics.len();
        for (n, clinic) in clinics.into_iter().enumerate() {
            let outcome = self
                .rewrap_clinic_keys(clinic)
                .map_err(|e| DomainError::Internal(format!("clinic {clinic}: {e:?}")))?;
            match outcome {
                Outcome::Rewrapped => summary.rewrapped += 1,
                Outcome::AlreadyCurrent => summary.already_current += 1,
                Outcome::Nothing => summary.without_keys += 1,
            }
            progress(Progress::Clinic {
                done: n + 1,
                total: summary.clinics,
                clinic,
                outcome,
            });
        }
        self.tx(Scope::Platform, |tx| {
            self.core.audit(
                tx,
                AuditRecord::account(actions::KEYS_MASTER_ROTATED, None)
                    .detail("active_key", summary.active_key.as_str())
                    .detail("clinics", summary.clinics)
                    .detail("rewrapped", summary.rewrapped)
                    .detail("totp_resealed", summary.totp_resealed)
                    .detail("operator", by),
                &ClientInfo {
                    user_agent: Some("salus keys rotate-master".to_owned()),
                    ..ClientInfo::default()
                },
            )
        })?;
        Ok(summary)
    }

    /// In the account's scope: its clinics, and its TOTP secret re-sealed.
    fn rotate_account(&self, account: AccountId) -> Result<(Vec<ClinicId>, Outcome), DomainError> {
        self.tx(Scope::Account(account), |tx| {
            let clinics = tx.clinics_of_account(account)?;
            let (confirmed, pending) = tx.lock_totp_secrets(account)?;
            let sealed: Vec<&Vec<u8>> = confirmed.iter().chain(pending.iter()).collect();
            let outcome = if sealed.is_empty() {
                Outcome::Nothing
            } else if sealed.iter().all(|s| self.core.master_keys().is_current(s)) {
                Outcome::AlreadyCurrent
            } else {
                let reseal = |s: &Option<Vec<u8>>| {
                    s.as_ref()
                        .map(|s| {
                            self.core.master_keys().reseal(
                                self.core.random(),
                                s,
                                &mfa::aad(account),
                            )
                        })
                        .transpose()
                };
                tx.store_totp_secrets(account, &(reseal(&confirmed)?, reseal(&pending)?))?;
                Outcome::Rewrapped
            };
            Ok((clinics, outcome))
        })
    }

    /// In the clinic's scope: its data and index keys re-wrapped under the active key.
    pub fn rewrap_clinic_keys(&self, clinic: ClinicId) -> Result<Outcome, DomainError> {
        let now = self.core.now();
        self.tx(Scope::Clinic(clinic), |tx| {
            self.core.keyring().rewrap(tx, clinic, now)
        })
    }
}
