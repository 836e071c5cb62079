//! Every service of the domain, built over one shared core: what the HTTP layer
//! and the server's jobs call.

use crate::appointments::Appointments;
use crate::audit::alerts::Alerts;
use crate::audit::service::Audit;
use crate::clinic::Clinics;
use crate::closure::Closures;
use crate::export::ClinicExports;
use crate::idempotency::Idempotency;
use crate::identity::service::Auth;
use crate::integrations::Integrations;
use crate::keyring::data_key::DataKeyRotation;
use crate::keyring::rotation::KeyRotation;
use crate::notes::Notes;
use crate::patients::Patients;
use crate::platform::Platform;
use crate::queue::Queue;
use crate::rights::PatientRights;
use crate::roles::Roles;
use crate::schedule::Schedule;
use crate::secrets::Secrets;
use crate::seeding::Seeding;
use crate::shared::Core;
use crate::staff::Staff;
use crate::vulns::Vulnerabilities;
use crate::webhooks::Webhooks;

/// The services, one per area.
#[derive(Clone)]
pub struct Services {
    /// Sign-up, sign-in, sessions, MFA and the account flows.
    pub auth: Auth,
    /// Staff members, invitations and the plan.
    pub staff: Staff,
    /// Custom roles and permission overrides.
    pub roles: Roles,
    /// The clinic's settings.
    pub clinics: Clinics,
    /// Clinic closures and their certificates of destruction.
    pub closures: Closures,
    /// Exports of every record of a clinic.
    pub exports: ClinicExports,
    /// Patient records.
    pub patients: Patients,
    /// Patients' rights: restriction, export, change history.
    pub rights: PatientRights,
    /// Appointments.
    pub appointments: Appointments,
    /// Practitioners' hours, absences and availability.
    pub schedule: Schedule,
    /// Clinical notes.
    pub notes: Notes,
    /// The waiting queue.
    pub queue: Queue,
    /// The audit trail.
    pub audit: Audit,
    /// The threat detectors and their alerts.
    pub alerts: Alerts,
    /// The platform's operators: their accounts, sessions and operations.
    pub platform: Platform,
    /// Master-key rotation.
    pub keys: KeyRotation,
    /// Clinic data-key rotation.
    pub data_keys: DataKeyRotation,
    /// The ages of the secrets and keys in use.
    pub secrets: Secrets,
    /// Bulk loading of synthetic data (the seeders).
    pub seeding: Seeding,
    /// Known vulnerabilities of the platform's dependencies and their deadlines.
    pub vulns: Vulnerabilities,
    /// Idempotent requests: claims and the answers replayed for retries.
    pub idempotency: Idempotency,
    /// Webhook endpoints, their deliveries and the delivery worker's steps.
    pub webhooks: Webhooks,
    /// Service accounts and their API keys.
    pub integrations: Integrations,
    core: Core,
}

impl Services {
    /// Every service over `core`.
    pub fn new(core: Core) -> Self {
        Self {
            auth: Auth::new(core.clone()),
            staff: Staff::new(core.clone()),
            roles: Roles::new(core.clone()),
            clinics: Clinics::new(core.clone()),
            closures: Closures::new(core.clone()),
            exports: ClinicExports::new(core.clone()),
            patients: Patients::new(core.clone()),
            rights: PatientRights::new(core.clone()),
            appointments: Appointments::new(core.clone()),
            schedule: Schedule::new(core.clone()),
            notes: Notes::new(core.clone()),
            queue: Queue::new(core.clone()),
            audit: Audit::new(core.clone()),
            alerts: Alerts::new(core.clone()),
            platform: Platform::new(core.clone()),
            keys: KeyRotation::new(core.clone()),
            data_keys: DataKeyRotation::new(core.clone()),
            secrets: Secrets::new(core.clone()),
            seeding: Seeding::new(core.clone()),
            vulns: Vulnerabilities::new(core.clone()),
            idempotency: Idempotency::new(core.clone()),
            webhooks: Webhooks::new(core.clone()),
            integrations: Integrations::new(core.clone()),
            core,
        }
    }

    /// The same services over another store and source of randomness (a test
    /// records the statements and random draws of a flow through wrappers of the
    /// real ones).
    pub fn with_io(
        &self,
        store: std::sync::Arc<dyn crate::store::Store>,
        random: std::sync::Arc<dyn crate::Random>,
    ) -> Self {
        Self::new(self.core.with_io(store, random))
    }

    /// The same services for one request: its session check and the first
    /// transaction of the service it calls share one database transaction
    /// ([`crate::store::Store::hold`]).
    pub fn for_request(&self) -> Self {
        Self::new(self.core.for_request())
    }

    /// The current time, by the services' clock.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.core.now()
    }

    /// Argon2 computations the services' password hasher has run (the proof
    /// that unknown accounts cost the same hashing work as known ones).
    pub fn password_hash_computations(&self) -> u64 {
        self.core.hasher().computations()
    }

    /// The settings the services run with.
    pub fn settings(&self) -> &crate::shared::Settings {
        self.core.settings()
    }
}
