//! Transactions as a port: a service runs its repository calls inside one
//! transaction, scoped to a clinic (row-level security) or to the platform.

use crate::DomainError;
use crate::concurrency::VersionsRepo;
use crate::ids::{AccountId, ClinicId};
use crate::outbox::OutboxRepo;
use crate::ports::alerts::AlertsRepo;
use crate::ports::appointments::AppointmentsRepo;
use crate::ports::archive::ArchiveRepo;
use crate::ports::audit::AuditRepo;
use crate::ports::clinic::ClinicRepo;
use crate::ports::closure::ClosureRepo;
use crate::ports::erasure::ErasureRepo;
use crate::ports::export::ExportRepo;
use crate::ports::idempotency::IdempotencyRepo;
use crate::ports::identity::IdentityRepo;
use crate::ports::incidents::IncidentsRepo;
use crate::ports::integrations::IntegrationsRepo;
use crate::ports::keys::{DataKeyRotationRepo, KeysRepo};
use crate::ports::notes::NotesRepo;
use crate::ports::operators::OperatorsRepo;
use crate::ports::patients::PatientsRepo;
use crate::ports::queue::QueueRepo;
use crate::ports::reminders::RemindersRepo;
use crate::ports::roles::RolesRepo;
use crate::ports::schedule::ScheduleRepo;
use crate::ports::secrets::SecretsRepo;
use crate::ports::staff::StaffRepo;
use crate::ports::vulns::VulnsRepo;
use crate::ports::webhooks::{WebhookEventsRepo, WebhooksRepo};

/// What a transaction may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Platform tables only (accounts, sign-in steps): no clinic is set.
    Platform,
    /// One clinic's rows: the clinic is set for row-level security.
    Clinic(ClinicId),
    /// One person's own identity rows across clinics (memberships, sessions).
    Account(AccountId),
}

/// The ports of one service's transaction: each service sees only these (a
/// `&mut dyn Tx` narrows to them by trait upcasting).
macro_rules! views {
    ($($(#[$doc:meta])* $view:ident: $($port:path),+;)+) => {
        $(
            $(#[$doc])*
            pub trait $view: $($port +)+ {}
            impl<T: $($port +)+> $view for T {}
        )+
        /// Every port: what the persistence crate's transaction implements.
        pub trait Tx: $($view +)+ {}
        impl<T: $($view +)+> Tx for T {}
    };
}

views! {
    /// Sign-up, sign-in, sessions, MFA and the account flows.
    AuthTx: IdentityRepo, AuditRepo, OutboxRepo, KeysRepo, IntegrationsRepo;
    /// Reading the audit trail and keeping it (retention, checkpoints).
    AuditTx: AuditRepo, PatientsRepo;
    /// The threat detectors, the backup and incident watches, and the alert list.
    AlertsTx: AlertsRepo, AuditRepo, IdentityRepo, OutboxRepo, StaffRepo, IncidentsRepo;
    /// Patient records (and the webhook events of their changes).
    PatientsTx: PatientsRepo, VersionsRepo, AuditRepo, KeysRepo, WebhookEventsRepo;
    /// Appointment reminders (written with the appointment that schedules them).
    RemindersTx: RemindersRepo, OutboxRepo, PatientsRepo, IdentityRepo;
    /// Appointments and their history.
    AppointmentsTx: RemindersTx, AppointmentsRepo, ScheduleRepo, VersionsRepo, AuditRepo, KeysRepo, WebhookEventsRepo;
    /// Practitioners' hours, absences and availability.
    ScheduleTx: ScheduleRepo, IdentityRepo, VersionsRepo, AuditRepo;
    /// Clinical notes.
    NotesTx: NotesRepo, PatientsRepo, AppointmentsRepo, VersionsRepo, AuditRepo, KeysRepo;
    /// Patients' rights: restriction, the whole record's export, the change
    /// history, erasure, the records archive (and its owners, told of each
    /// break-the-glass read).
    RightsTx: PatientsTx, AppointmentsTx, NotesTx, ErasureRepo, ArchiveRepo, StaffRepo;
    /// The waiting queue.
    QueueTx: QueueRepo, PatientsRepo, AppointmentsRepo, VersionsRepo, AuditRepo, WebhookEventsRepo;
    /// A staff member's record, locked for a change (the guard of every staff action).
    MemberTx: StaffRepo, VersionsRepo;
    /// Staff, invitations and plans.
    StaffTx: MemberTx, IdentityRepo, AuditRepo, OutboxRepo;
    /// Custom roles and members' permissions.
    RolesTx: MemberTx, RolesRepo, IdentityRepo, AuditRepo;
    /// The clinic's settings.
    ClinicTx: ClinicRepo, IdentityRepo, VersionsRepo, AuditRepo;
    /// Clinic closures: the request, the destruction and its certificate.
    ClosureTx: ClosureRepo, StaffRepo, IdentityRepo, KeysRepo, AuditRepo, OutboxRepo;
    /// Clinic exports: the records and the walk over every table.
    ExportTx: ExportRepo, KeysRepo, StaffRepo, IdentityRepo, AuditRepo, OutboxRepo;
    /// Master-key rotation.
    KeysTx: KeysRepo, AuditRepo;
    /// Clinic data-key rotation: the keys, the sealed fields, the audit chain.
    DataKeyTx: KeysRepo, DataKeyRotationRepo, AuditRepo;
    /// The platform's operators, their sessions, the clinics' summaries, and
    /// the incident register.
    OperatorsTx: OperatorsRepo, IncidentsRepo, AuditRepo, OutboxRepo;
    /// Known vulnerabilities of the platform's dependencies, and the platform
    /// audit chain that records every change of them.
    VulnsTx: VulnsRepo, AuditRepo;
    /// The secret inventory and the platform audit chain.
    SecretsTx: SecretsRepo, AuditRepo;
    /// Idempotent requests: the claims, the sealed answers (`crate::idempotency`).
    IdempotencyTx: IdempotencyRepo, KeysRepo;
    /// Webhook endpoints and deliveries: the plan and the managers to tell
    /// (identity, staff), the endpoints' sealed secrets (keys), the emails.
    WebhooksTx: WebhooksRepo, VersionsRepo, IdentityRepo, StaffRepo, KeysRepo, AuditRepo, OutboxRepo;
    /// Service accounts and their keys: the plan, the managers to tell.
    IntegrationsTx: IntegrationsRepo, IdentityRepo, StaffRepo, AuditRepo, OutboxRepo;
    /// Bulk loading of synthetic data (`crate::seeding`).
    SeedTx: IdentityRepo, ScheduleRepo, PatientsRepo, KeysRepo;
}

/// Opens transactions. Object-safe so the HTTP layer can hold it as `dyn Store`.
pub trait Store: Send + Sync {
    /// Runs `work` in one transaction: committed when it returns `Ok`, rolled back
    /// otherwise.
    fn run(
        &self,
        scope: Scope,
        work: &mut dyn FnMut(&mut dyn Tx) -> Result<(), DomainError>,
    ) -> Result<(), DomainError>;

    /// Runs `work` in one read-only transaction that sees one snapshot of the
    /// whole database (for an export that must be consistent across tables);
    /// a store without snapshots runs it as an ordinary transaction.
    fn run_snapshot(
        &self,
        scope: Scope,
        work: &mut dyn FnMut(&mut dyn Tx) -> Result<(), DomainError>,
    ) -> Result<(), DomainError> {
        self.run(scope, work)
    }

    /// Runs `work` in a transaction that the next [`Store::run`] in the same
    /// scope continues (one `BEGIN` for both: a request's session check and its
    /// service's first transaction). A store that cannot hold a transaction
    /// open commits it at once.
    fn hold(
        &self,
        scope: Scope,
        work: &mut dyn FnMut(&mut dyn Tx) -> Result<(), DomainError>,
    ) -> Result<(), DomainError> {
        self.run(scope, work)
    }

    /// A store for one request, that can [`Store::hold`] a transaction open
    /// (`None`: this store cannot, use it as it is).
    fn for_request(&self) -> Option<std::sync::Arc<dyn Store>> {
        None
    }
}

/// Runs `work` in a held transaction (see [`Store::hold`]) and returns its value.
pub fn in_held_tx<T>(
    store: &dyn Store,
    scope: Scope,
    work: impl FnOnce(&mut dyn Tx) -> Result<T, DomainError>,
) -> Result<T, DomainError> {
    returning(|body| store.hold(scope, body), work)
}

/// Runs `work` in one read-only snapshot transaction and returns its value.
pub fn in_snapshot<T>(
    store: &dyn Store,
    scope: Scope,
    work: impl FnOnce(&mut dyn Tx) -> Result<T, DomainError>,
) -> Result<T, DomainError> {
    returning(|body| store.run_snapshot(scope, body), work)
}

/// Runs `work` in one transaction and returns its value.
pub fn in_tx<T>(
    store: &dyn Store,
    scope: Scope,
    work: impl FnOnce(&mut dyn Tx) -> Result<T, DomainError>,
) -> Result<T, DomainError> {
    returning(|body| store.run(scope, body), work)
}

/// Runs `work` once as the body `run` gives a transaction, and returns its value.
fn returning<T>(
    run: impl FnOnce(&mut dyn FnMut(&mut dyn Tx) -> Result<(), DomainError>) -> Result<(), DomainError>,
    work: impl FnOnce(&mut dyn Tx) -> Result<T, DomainError>,
) -> Result<T, DomainError> {
    let mut work = Some(work);
    let mut out = None;
    run(&mut |tx| {
        let work = work
            .take()
            .ok_or_else(|| DomainError::Internal("transaction body ran twice".into()))?;
        out = Some(work(tx)?);
        Ok(())
    })?;
    out.ok_or_else(|| DomainError::Internal("transaction produced no value".into()))
}
