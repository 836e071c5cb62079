//! The bulk-insert port of development and benchmark data (`salus seed-dev`,
//! `salus seed-bench`): clinics with their keys, staff accounts and patients
//! written in bulk, without the per-request flows (no audit events, no emails:
//! the data is synthetic). No HTTP route reaches it; the server's seeders use it
//! instead of opening transactions of their own.

use uuid::Uuid;

use crate::DomainError;
use crate::identity::model::{Clinic, Role};
use crate::identity::password::Verified;
use crate::ids::{AccountId, ClinicId, MembershipId, PatientId};
use crate::patients::Patients;
use crate::ports::identity::NewAccount;
use crate::ports::patients::{MedicalHistory, PatientFields};
use crate::shared::{Core, transactions};
use crate::store::Scope;

/// A staff member to create: the account and its membership.
#[derive(Debug, Clone)]
pub struct NewMember {
    /// The account (its email counts as verified).
    pub account: NewAccount,
    /// The membership's id.
    pub membership: MembershipId,
    /// The role; practitioners are listed as such ("General practice").
    pub role: Role,
}

/// Writes synthetic data in bulk.
#[derive(Clone)]
pub struct Seeding {
    core: Core,
    patients: Patients,
}

impl Seeding {
    /// The port over the shared core.
    pub fn new(core: Core) -> Self {
        Self {
            patients: Patients::new(core.clone()),
            core,
        }
    }

    transactions!(SeedTx);

    /// A new UUIDv7, as the id type the caller needs.
    pub fn new_id<I: From<Uuid>>(&self) -> I {
        self.core.new_id()
    }

    /// The current time.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.core.now()
    }

    /// An argon2id hash of `password` with the configured parameters.
    pub fn hash_password(&self, password: &str) -> Result<String, DomainError> {
        self.core.hasher().hash(password, self.core.random())
    }

    /// Whether `password` verifies against `hash` (the benchmark times this).
    pub fn verify_password(&self, password: &str, hash: &str) -> bool {
        self.core.hasher().verify(password, Some(hash)) == Verified::Yes
    }

    /// The clinics the account with this email owns (none when there is no such
    /// account).
    pub fn clinics_owned_by(&self, email: &str) -> Result<Vec<ClinicId>, DomainError> {
        let Some(owner) = self.tx(Scope::Platform, |tx| tx.account_by_email(email))? else {
            return Ok(Vec::new());
        };
        let memberships = self.tx(Scope::Account(owner.id), |tx| tx.memberships_of(owner.id))?;
        Ok(memberships
            .into_iter()
            .filter(|m| m.role == Role::Owner)
            .map(|m| m.clinic_id)
            .collect())
    }

    /// Creates a clinic and its keys.
    pub fn create_clinic(&self, clinic: &Clinic) -> Result<(), DomainError> {
        let now = self.core.now();
        self.tx(Scope::Clinic(clinic.id), |tx| {
            tx.insert_clinic(clinic, now)?;
            self.core.clinic_keys(tx, clinic.id).map(|_| ())
        })
    }

    /// Creates a staff member of `clinic`: a verified account and its membership.
    pub fn add_member(
        &self,
        clinic: ClinicId,
        member: &NewMember,
    ) -> Result<AccountId, DomainError> {
        let now = self.core.now();
        let account = member.account.id;
        self.tx(Scope::Clinic(clinic), |tx| {
            tx.insert_account(&member.account)?;
            tx.set_email_verified(account, now)?;
            tx.insert_membership(clinic, member.membership, account, member.role, now)?;
            if member.role == Role::Practitioner {
                tx.upsert_practitioner(clinic, member.membership, "General practice", now)?;
            }
            Ok(account)
        })
    }

    /// Inserts patients in one transaction, their national ids and medical
    /// histories sealed as `create_patient` seals them; returns their ids in order.
    pub fn insert_patients(
        &self,
        clinic: ClinicId,
        patients: &[(PatientFields, Option<MedicalHistory>)],
    ) -> Result<Vec<PatientId>, DomainError> {
        let now = self.core.now();
        self.tx(Scope::Clinic(clinic), |tx| {
            let keys = self.core.clinic_keys(tx, clinic)?;
            let rows = patients
                .iter()
                .map(|(fields, history)| {
                    self.patients.new_stored_patient(
                        &keys,
                        self.core.new_id(),
                        fields,
                        history.as_ref(),
                        now,
                    )
                })
                .collect::<Result<Vec<_>, _>>()?;
            tx.insert_patients(clinic, &rows)?;
            Ok(rows.into_iter().map(|r| r.id).collect())
        })
    }

    /// Destroys a clinic's keys before its rows are removed (`seed-dev --reset`), so
    /// nothing sealed of it can be opened again; true when it had keys.
    pub fn destroy_clinic_keys(&self, clinic: ClinicId) -> Result<bool, DomainError> {
        self.tx(Scope::Clinic(clinic), |tx| {
            self.core.keyring().destroy(tx, clinic)
        })
    }
}
