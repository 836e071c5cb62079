//! What every service shares: transactions, time, randomness, password hashing,
//! the keyring, the audit sealer and the settings, behind private fields, with the
//! helpers every service uses (audit in the same transaction, outbox messages,
//! throttling, tokens, sealed fields). A service holds a `Core` and reaches
//! storage only through its own transaction view (see [`crate::store`]).

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::audit::chain::stored_time;
use crate::audit::seal::AuditSealer;
use crate::audit::{AuditRecord, NewAuditEvent};
use crate::crypto::{ClinicKeys, MasterKeys, sha256};
use crate::identity::links::Links;
use crate::identity::model::ClientInfo;
use crate::identity::password::PasswordHasher;
use crate::identity::throttle::{LockoutPolicy, RateLimit};
use crate::ids::{ClinicId, PatientId};
use crate::keyring::Keyring;
use crate::outbox::{Channel, NewMessage, OutboxRepo};
use crate::ports::audit::AuditRepo;
use crate::ports::closure::DestructionRegister;
use crate::ports::keys::KeysRepo;
use crate::ports::webhooks::{NewWebhookEvent, WebhookEventsRepo};
use crate::random::uuid_v7;
use crate::store::{Scope, Store, Tx, in_tx};
use crate::webhooks::events::Event;
use crate::webhooks::schedule::RETRY_WINDOW;
use crate::{Actor, Clock, DomainError, Random};

/// The services' settings, from configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Absolute session lifetime (at most 24 hours).
    pub session_lifetime: Duration,
    /// How long an MFA challenge stays open.
    pub mfa_challenge_ttl: Duration,
    /// Wrong codes allowed per MFA challenge.
    pub mfa_max_attempts: i32,
    /// Per-account lock-out.
    pub lockout: LockoutPolicy,
    /// Per-address limit on authentication endpoints.
    pub rate_limit: RateLimit,
    /// Public base URL, for links in emails.
    pub public_url: String,
    /// Where the one-time-token emails send people (the front end's pages).
    pub links: Links,
    /// Issuer shown in authenticator apps.
    pub totp_issuer: String,
    /// Whether security alerts are also sent to the platform's webhook.
    pub alert_webhook: bool,
    /// How long a clinic's closure waits before its data is destroyed.
    pub closure_grace: Duration,
    /// How long after a destruction the backups may still hold what was
    /// destroyed, at the latest: the next full backup, then the retention period.
    pub backup_expiry_horizon: Duration,
    /// Operators' session and enrolment-link lifetimes.
    pub operator_lifetimes: crate::ports::operators::OperatorLifetimes,
    /// The secrets and keys the platform runs with, for their ages.
    pub secrets_in_use: Vec<crate::ports::secrets::SecretInUse>,
    /// Their rotation periods.
    pub rotation_periods: crate::ports::secrets::RotationPeriods,
    /// What webhook endpoints may point at.
    pub webhook_targets: crate::webhooks::target::TargetPolicy,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            session_lifetime: Duration::hours(12),
            mfa_challenge_ttl: Duration::minutes(5),
            mfa_max_attempts: 5,
            lockout: LockoutPolicy::default(),
            rate_limit: RateLimit::default(),
            public_url: "http://127.0.0.1:8080".to_owned(),
            links: Links::new("http://127.0.0.1:8080", None, &[]),
            totp_issuer: "Salus".to_owned(),
            alert_webhook: false,
            closure_grace: Duration::days(30),
            backup_expiry_horizon: Duration::days(31),
            operator_lifetimes: crate::ports::operators::OperatorLifetimes::default(),
            secrets_in_use: Vec::new(),
            rotation_periods: crate::ports::secrets::RotationPeriods {
                critical: Duration::days(30),
                standard: Duration::days(90),
            },
            webhook_targets: crate::webhooks::target::TargetPolicy::default(),
        }
    }
}

/// What a core is made of (the server builds it from configuration).
pub struct CoreParts {
    /// Transactions.
    pub store: Arc<dyn Store>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Randomness.
    pub random: Arc<dyn Random>,
    /// Password hashing.
    pub hasher: Arc<PasswordHasher>,
    /// Master keys (they wrap clinic keys and seal TOTP secrets).
    pub master_keys: Arc<MasterKeys>,
    /// Audit checkpoint signing keys.
    pub sealer: Arc<AuditSealer>,
    /// The destruction register and the backup repository's view of it.
    pub register: Arc<dyn DestructionRegister>,
    /// Settings.
    pub settings: Settings,
}

/// The shared core of every service.
#[derive(Clone)]
pub struct Core {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    hasher: Arc<PasswordHasher>,
    keyring: Keyring,
    sealer: Arc<AuditSealer>,
    register: Arc<dyn DestructionRegister>,
    settings: Arc<Settings>,
}

impl Core {
    /// A core from its parts.
    pub fn new(parts: CoreParts) -> Self {
        Self {
            keyring: Keyring::new(parts.master_keys, parts.random.clone()),
            store: parts.store,
            clock: parts.clock,
            random: parts.random,
            hasher: parts.hasher,
            sealer: parts.sealer,
            register: parts.register,
            settings: Arc::new(parts.settings),
        }
    }

    /// This core over another store and source of randomness.
    pub fn with_io(&self, store: Arc<dyn Store>, random: Arc<dyn Random>) -> Self {
        Self {
            store,
            keyring: self.keyring.with_random(random.clone()),
            random,
            ..self.clone()
        }
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Runs `work` in one transaction: committed when it returns `Ok`.
    pub(crate) fn in_tx<T>(
        &self,
        scope: Scope,
        work: impl FnOnce(&mut dyn Tx) -> Result<T, DomainError>,
    ) -> Result<T, DomainError> {
        in_tx(self.store.as_ref(), scope, work)
    }

    /// Runs `work` in a transaction the next one in the same scope continues
    /// (a request's session check and its first transaction: see
    /// [`Store::hold`]).
    pub(crate) fn in_held_tx<T>(
        &self,
        scope: Scope,
        work: impl FnOnce(&mut dyn Tx) -> Result<T, DomainError>,
    ) -> Result<T, DomainError> {
        crate::store::in_held_tx(self.store.as_ref(), scope, work)
    }

    /// This core over a store for one request (see [`Store::for_request`]);
    /// itself when the store has none.
    pub fn for_request(&self) -> Self {
        match self.store.for_request() {
            Some(store) => Self {
                store,
                ..self.clone()
            },
            None => self.clone(),
        }
    }

    /// Runs `work` in one read-only transaction over one snapshot.
    pub(crate) fn in_snapshot<T>(
        &self,
        scope: Scope,
        work: impl FnOnce(&mut dyn Tx) -> Result<T, DomainError>,
    ) -> Result<T, DomainError> {
        crate::store::in_snapshot(self.store.as_ref(), scope, work)
    }

    /// Randomness.
    pub(crate) fn random(&self) -> &dyn Random {
        self.random.as_ref()
    }

    /// Password hashing.
    pub(crate) fn hasher(&self) -> &PasswordHasher {
        &self.hasher
    }

    /// The keyring.
    pub(crate) fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    /// The master keys (they seal TOTP secrets).
    pub(crate) fn master_keys(&self) -> &MasterKeys {
        self.keyring.master()
    }

    /// The audit checkpoint sealer.
    pub(crate) fn sealer(&self) -> &AuditSealer {
        &self.sealer
    }

    /// Runs `work`, which may keep entries in the destruction register
    /// ([`Core::keep_entry`]) before its transaction commits: the entry must be
    /// out of the database's reach before the destruction is (a restore re-applies
    /// it). When `work` fails, its commit included, the entries it kept are
    /// withdrawn, so no restore applies a destruction that did not happen; only
    /// a crash between the entry and the commit leaves one, and re-applying it
    /// does what was decided (docs/architecture.md).
    pub(crate) fn registering<T>(
        &self,
        work: impl FnOnce(&mut Vec<String>) -> Result<T, DomainError>,
    ) -> Result<T, DomainError> {
        let mut kept = Vec::new();
        let outcome = work(&mut kept);
        if outcome.is_err() {
            for name in &kept {
                // The destruction's own error is the one to report; a withdrawal
                // that fails leaves an entry a restore would apply, as a crash would.
                let _ = self.register.withdraw(name);
            }
        }
        outcome
    }

    /// Keeps a signed entry in the destruction register, noted in `kept` so
    /// [`Core::registering`] can withdraw it if the transaction fails.
    pub(crate) fn keep_entry(
        &self,
        kept: &mut Vec<String>,
        name: &str,
        entry: &[u8],
    ) -> Result<(), DomainError> {
        self.register.keep(name, entry)?;
        kept.push(name.to_owned());
        Ok(())
    }

    /// The clinic's keys, unwrapped; created on first use (see [`Keyring`]).
    pub(crate) fn clinic_keys(
        &self,
        tx: &mut dyn KeysRepo,
        clinic: ClinicId,
    ) -> Result<ClinicKeys, DomainError> {
        self.keyring.clinic_keys(tx, clinic, self.now())
    }

    /// The current time.
    pub(crate) fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// A new UUIDv7, as the id type the caller needs.
    pub(crate) fn new_id<I: From<Uuid>>(&self) -> I {
        I::from(uuid_v7(self.random(), self.now()))
    }

    /// Counts a request against the per-address limit of an authentication
    /// endpoint, in its own transaction (so it holds even when the flow fails).
    pub(crate) fn throttle(&self, endpoint: &str, client: &ClientInfo) -> Result<(), DomainError> {
        let limit = self.settings.rate_limit;
        let now = self.now();
        let key = format!("{endpoint}:{}", client.ip.as_deref().unwrap_or("unknown"));
        let (hits, started) = self.in_tx(Scope::Platform, |tx| {
            tx.hit_rate_limit(&key, now, limit.window_secs)
        })?;
        if hits > limit.max_hits {
            let reopens = started + Duration::seconds(limit.window_secs);
            let secs = (reopens - now).num_seconds().max(1);
            return Err(DomainError::RateLimited {
                retry_after_secs: u64::try_from(secs).unwrap_or(1),
            });
        }
        Ok(())
    }

    /// Queues an email in the current transaction.
    pub(crate) fn email(
        &self,
        tx: &mut dyn OutboxRepo,
        to: &str,
        subject: &str,
        body: String,
    ) -> Result<(), DomainError> {
        tx.enqueue(&NewMessage {
            id: self.new_id(),
            channel: Channel::Email,
            recipient: to.to_owned(),
            subject: subject.to_owned(),
            body,
            created_at: self.now(),
            available_at: self.now(),
        })
    }

    /// Queues a text message in the current transaction.
    pub(crate) fn sms(
        &self,
        tx: &mut dyn OutboxRepo,
        to: &str,
        body: String,
    ) -> Result<(), DomainError> {
        tx.enqueue(&NewMessage {
            id: self.new_id(),
            channel: Channel::Sms,
            recipient: to.to_owned(),
            subject: String::new(),
            body,
            created_at: self.now(),
            available_at: self.now(),
        })
    }

    /// Queues a webhook event in the current transaction (the change's): one
    /// delivery for each enabled endpoint of the clinic subscribed to its type,
    /// sent by the delivery worker once the change commits, never otherwise.
    pub(crate) fn emit(
        &self,
        tx: &mut dyn WebhookEventsRepo,
        clinic: ClinicId,
        event: Event,
    ) -> Result<(), DomainError> {
        let at = self.now();
        tx.enqueue_webhook_event(
            clinic,
            &NewWebhookEvent {
                id: self.new_id(),
                kind: event.kind,
                resource: event.resource,
                patient: event.patient,
                payload: event.payload(at),
                at,
                give_up_at: at + RETRY_WINDOW,
            },
        )?;
        Ok(())
    }

    /// Records an audit event in the current transaction: if it cannot be written,
    /// the action fails with it (fail closed).
    pub(crate) fn audit(
        &self,
        tx: &mut dyn AuditRepo,
        record: AuditRecord,
        client: &ClientInfo,
    ) -> Result<(), DomainError> {
        tx.append_audit(self.audit_event(record, client)?)
    }

    /// Gives every event of the clinic's chain committed so far its position
    /// (`audit::sequencer`), in a transaction of its own: what a reader of the
    /// trail does first, so it sees every earlier event with its position.
    pub(crate) fn settle_audit(
        &self,
        chain: crate::ids::ChainId,
        clinic: Option<ClinicId>,
    ) -> Result<(), DomainError> {
        let scope = clinic.map_or(Scope::Platform, Scope::Clinic);
        self.in_tx(scope, |tx| {
            crate::audit::sequencer::sequence_all(tx, chain).map(|_| ())
        })
    }

    /// The event `record` becomes.
    pub(crate) fn audit_event(
        &self,
        record: AuditRecord,
        client: &ClientInfo,
    ) -> Result<NewAuditEvent, DomainError> {
        let details = serde_json::to_string(&record.details)
            .map_err(|e| DomainError::Internal(format!("audit details: {e}")))?;
        Ok(NewAuditEvent {
            id: self.new_id(),
            clinic_id: record.clinic,
            occurred_at: stored_time(self.now()),
            account_id: record.account,
            membership_id: record.membership,
            session_id: record.session,
            client_ip: client.ip.clone(),
            user_agent: client.user_agent.clone(),
            request_id: client.request_id.clone(),
            action: record.action.to_owned(),
            resource_type: record.resource.map(|r| r.kind.to_owned()),
            resource_id: record.resource.map(|r| r.id),
            outcome: record.outcome,
            details,
        })
    }

    /// Records a read of patients' data by a member: always (production access is
    /// fully logged), as `identifying` when the answer held demographics only and
    /// as `clinical` when the member may read clinical data (the alert detector
    /// counts those; the clinic's purpose-of-use rule applies). `patients` names
    /// every patient a list showed.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn audit_patient_read(
        &self,
        tx: &mut dyn AuditRepo,
        actor: &Actor,
        (identifying, clinical): (&'static str, &'static str),
        resource: (&'static str, impl Into<Uuid>),
        patients: &[PatientId],
        client: &ClientInfo,
    ) -> Result<(), DomainError> {
        let action = if actor
            .permissions
            .contains(crate::access::Permission::ClinicalRead)
        {
            crate::purpose::require(actor.purpose_of_use_required, client.purpose_of_use)?;
            clinical
        } else {
            identifying
        };
        self.audit_read(tx, actor, action, resource, patients, client)
    }

    /// Records a read of clinical data, when the member may read it (the
    /// clinic's purpose-of-use rule applies).
    pub(crate) fn audit_clinical_read(
        &self,
        tx: &mut dyn AuditRepo,
        actor: &Actor,
        action: &'static str,
        resource: (&'static str, impl Into<Uuid>),
        patients: &[PatientId],
        client: &ClientInfo,
    ) -> Result<(), DomainError> {
        if !actor
            .permissions
            .contains(crate::access::Permission::ClinicalRead)
        {
            return Ok(());
        }
        crate::purpose::require(actor.purpose_of_use_required, client.purpose_of_use)?;
        self.audit_read(tx, actor, action, resource, patients, client)
    }

    /// Records a read, naming the patients it showed and the purpose of use
    /// the caller stated.
    fn audit_read(
        &self,
        tx: &mut dyn AuditRepo,
        actor: &Actor,
        action: &'static str,
        resource: (&'static str, impl Into<Uuid>),
        patients: &[PatientId],
        client: &ClientInfo,
    ) -> Result<(), DomainError> {
        let mut record = AuditRecord::by(actor, action).on(resource.0, resource.1);
        if !patients.is_empty() {
            let ids: Vec<String> = patients.iter().map(PatientId::to_string).collect();
            record = record.detail("patients", ids);
        }
        if let Some(purpose) = client.purpose_of_use {
            record = record.detail("purpose_of_use", purpose.code());
        }
        tx.append_read(self.audit_event(record, client)?)
    }

    /// Opens a sealed field. When it fails its integrity check (the ciphertext
    /// was altered, or moved from another row, at rest) the field is answered as
    /// unavailable instead of failing the whole answer: its column joins
    /// `unavailable`, and an audit event (`sealed_data.integrity_failed`) records it
    /// in this transaction, from which the alert detector raises
    /// `sealed_data_integrity`.
    pub(crate) fn open_sealed(
        &self,
        tx: &mut dyn AuditRepo,
        actor: &Actor,
        keys: &crate::crypto::ClinicKeys,
        field: SealedField<'_>,
        unavailable: &mut Vec<&'static str>,
    ) -> Result<Option<Vec<u8>>, DomainError> {
        match keys.open_field(field.table, field.column, field.row, field.sealed) {
            Ok(plain) => Ok(Some(plain)),
            Err(_) => {
                self.audit(
                    tx,
                    AuditRecord::by(actor, crate::audit::actions::SEALED_DATA_INTEGRITY_FAILED)
                        .on(field.resource, field.row)
                        .detail("field", field.column)
                        .failed(),
                    &ClientInfo::default(),
                )?;
                unavailable.push(field.column);
                Ok(None)
            }
        }
    }

    /// Records a member's action on a resource.
    pub(crate) fn audit_action(
        &self,
        tx: &mut dyn AuditRepo,
        actor: &Actor,
        action: &'static str,
        resource: (&'static str, impl Into<Uuid>),
        client: &ClientInfo,
    ) -> Result<(), DomainError> {
        self.audit(
            tx,
            AuditRecord::by(actor, action).on(resource.0, resource.1),
            client,
        )
    }

    /// A token bound to a clinic (`<clinic>.<secret>`) and the hash to store.
    pub(crate) fn clinic_token_pair(&self, clinic: ClinicId) -> (String, Vec<u8>) {
        let token = format!(
            "{}.{}",
            clinic.uuid().simple(),
            crate::random::secret_token(self.random())
        );
        let hash = sha256(token.as_bytes());
        (token, hash)
    }

    /// A fresh secret token and the hash to store.
    pub(crate) fn token_pair(&self) -> (String, Vec<u8>) {
        let token = crate::random::secret_token(self.random());
        let hash = sha256(token.as_bytes());
        (token, hash)
    }
}

/// A sealed field to open: whose, where, and the ciphertext.
#[derive(Debug, Clone, Copy)]
pub struct SealedField<'a> {
    /// The audited resource type (`patient`).
    pub resource: &'static str,
    /// Its table (part of the ciphertext's binding).
    pub table: &'static str,
    /// The column.
    pub column: &'static str,
    /// The row (any sealed table's id: the ciphertext binds it as a plain UUID).
    pub row: Uuid,
    /// The ciphertext.
    pub sealed: &'a [u8],
}

/// Gives a service its transaction helpers over its own view of the ports
/// (`tx`, and `committed` for flows whose failures must still be recorded).
macro_rules! transactions {
    ($vis:vis $view:ident $(, $committed:ident)?) => {
        /// Runs `work` in one transaction that sees only this service's ports.
        $vis fn tx<T>(
            &self,
            scope: crate::store::Scope,
            work: impl FnOnce(&mut dyn crate::store::$view) -> Result<T, crate::DomainError>,
        ) -> Result<T, crate::DomainError> {
            self.core.in_tx(scope, |tx| work(tx))
        }
        $(
            /// Runs `work` in one transaction that commits even when the flow's
            /// outcome is an error the caller must see (a failed sign-in is still
            /// counted).
            $vis fn $committed<T>(
                &self,
                scope: crate::store::Scope,
                work: impl FnOnce(
                    &mut dyn crate::store::$view,
                ) -> Result<Result<T, crate::DomainError>, crate::DomainError>,
            ) -> Result<T, crate::DomainError> {
                self.tx(scope, work)?
            }
        )?
    };
}
pub(crate) use transactions;
