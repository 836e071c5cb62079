//! The delivery worker's side of the webhooks service: claim the due
//! deliveries of every clinic with what sending them needs (URL, body, the
//! secrets that sign), then settle each attempt: delivered, retried on the
//! schedule, or given up; an endpoint that keeps failing, or answers
//! `410 Gone`, is disabled and the clinic's owners and administrators told.
//! The sending itself (HTTP, the address checks at connection time) is the
//! server's.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use super::schedule::{self, LONGEST_DELAY};
use super::signature::{SigningSecret, signature_header};
use super::{PREVIOUS_SECRET, SECRET, TABLE, Webhooks, previous_secret_valid, target};
use crate::DomainError;
use crate::audit::actions;
use crate::audit::record::AuditRecord;
use crate::concurrency::lock_version;
use crate::crypto::ClinicKeys;
use crate::identity::model::{ClientInfo, Role};
use crate::ids::{ClinicId, WebhookEndpointId, WebhookEventId};
use crate::ports::webhooks::{ClaimedDelivery, DisabledReason, Next, Settlement, StoredEndpoint};
use crate::store::{Scope, WebhooksTx};

/// Which delivery an attempt is, and where its schedule stands.
#[derive(Debug, Clone, Copy)]
struct Slot {
    clinic: ClinicId,
    endpoint: WebhookEndpointId,
    event: WebhookEventId,
    attempts: i32,
    give_up_at: DateTime<Utc>,
}

impl From<&ClaimedDelivery> for Slot {
    fn from(c: &ClaimedDelivery) -> Self {
        Self {
            clinic: c.clinic,
            endpoint: c.endpoint,
            event: c.event,
            attempts: c.attempts,
            give_up_at: c.give_up_at,
        }
    }
}

/// One delivery to send now.
#[derive(Debug, Clone)]
pub struct Attempt {
    slot: Slot,
    /// Where to POST.
    pub url: String,
    /// The body, exactly as signed.
    pub payload: String,
    secrets: Vec<SigningSecret>,
}

impl Attempt {
    /// The endpoint it goes to.
    pub fn endpoint(&self) -> WebhookEndpointId {
        self.slot.endpoint
    }

    /// The event it carries (its id is the `webhook-id`).
    pub fn event(&self) -> WebhookEventId {
        self.slot.event
    }

    /// The Standard Webhooks headers of this attempt at `timestamp` (unix
    /// seconds): `webhook-id`, `webhook-timestamp` and `webhook-signature`
    /// (one signature per secret that signs now).
    pub fn headers(&self, timestamp: i64) -> [(&'static str, String); 3] {
        let id = self.slot.event.to_string();
        let signature = signature_header(&self.secrets, &id, timestamp, self.payload.as_bytes());
        [
            ("webhook-id", id),
            ("webhook-timestamp", timestamp.to_string()),
            ("webhook-signature", signature),
        ]
    }
}

/// What an attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The endpoint answered 2xx.
    Delivered {
        /// The status.
        status: u16,
    },
    /// Anything else: another status, a redirect (never followed), no answer
    /// in time, a refused address, a connection or TLS failure.
    Failed {
        /// The status, when the endpoint answered.
        status: Option<u16>,
        /// Why, for the delivery log (no secret, no body).
        error: String,
        /// How long the endpoint asked to be left alone (`Retry-After`).
        retry_after: Option<Duration>,
    },
}

/// What a claim gave the worker.
#[derive(Debug, Default)]
pub struct Claim {
    /// The deliveries to send now.
    pub attempts: Vec<Attempt>,
    /// Clinics whose deliveries could not be prepared (they stay leased and
    /// are claimed again when the lease ends).
    pub errors: Vec<DomainError>,
}

/// The error an attempt records when it is not sent because its secret does
/// not open (altered at rest): retried like any failure.
const SECRET_UNAVAILABLE: &str = "the endpoint's signing secret cannot be opened";

/// The error recorded on deliveries given up with their endpoint.
const ENDPOINT_DISABLED: &str = "the endpoint was disabled";

impl Webhooks {
    /// Claims up to `limit` due deliveries of every clinic (see
    /// [`crate::ports::webhooks::WebhooksRepo::claim_webhook_deliveries`]) and
    /// prepares each for sending, clinic by clinic.
    pub fn claim_due(&self, limit: i64) -> Result<Claim, DomainError> {
        let now = self.core.now();
        let claimed = self.tx(Scope::Platform, |tx| {
            tx.claim_webhook_deliveries(now, now + schedule::LEASE, limit)
        })?;
        let mut by_clinic: BTreeMap<ClinicId, Vec<ClaimedDelivery>> = BTreeMap::new();
        for delivery in claimed {
            by_clinic.entry(delivery.clinic).or_default().push(delivery);
        }
        let mut claim = Claim::default();
        for (clinic, deliveries) in by_clinic {
            match self.prepare(clinic, deliveries) {
                Ok(attempts) => claim.attempts.extend(attempts),
                Err(e) => claim.errors.push(e),
            }
        }
        Ok(claim)
    }

    /// One clinic's claimed deliveries, ready to send; those of an endpoint
    /// disabled since are given up, those whose secret does not open count a
    /// failed attempt.
    fn prepare(
        &self,
        clinic: ClinicId,
        deliveries: Vec<ClaimedDelivery>,
    ) -> Result<Vec<Attempt>, DomainError> {
        let now = self.core.now();
        self.tx(Scope::Clinic(clinic), |tx| {
            let keys = self.core.clinic_keys(tx, clinic)?;
            let mut ready = Vec::new();
            for claimed in deliveries {
                // Deleted with its deliveries, or disabled since the claim.
                let Some(stored) = tx.webhook_endpoint(clinic, claimed.endpoint)? else {
                    continue;
                };
                if stored.endpoint.disabled.is_some() {
                    // The endpoint's row first, as every writer of its deliveries does.
                    lock_version(tx, clinic, claimed.endpoint)?;
                    tx.give_up_webhook_deliveries(clinic, claimed.endpoint, ENDPOINT_DISABLED)?;
                    continue;
                }
                match secrets(&keys, &stored, now) {
                    Some(secrets) => ready.push(Attempt {
                        slot: Slot::from(&claimed),
                        url: stored.endpoint.url.clone(),
                        payload: claimed.payload,
                        secrets,
                    }),
                    None => {
                        let failed = Outcome::Failed {
                            status: None,
                            error: SECRET_UNAVAILABLE.to_owned(),
                            retry_after: None,
                        };
                        self.settle_in(tx, Slot::from(&claimed), &failed, now)?;
                    }
                }
            }
            Ok(ready)
        })
    }

    /// Records what an attempt came to, in its clinic's transaction.
    pub fn settle(&self, attempt: &Attempt, outcome: &Outcome) -> Result<(), DomainError> {
        let now = self.core.now();
        self.tx(Scope::Clinic(attempt.slot.clinic), |tx| {
            self.settle_in(tx, attempt.slot, outcome, now)
        })
    }

    /// Locks the endpoint's row before any of its deliveries: disabling an
    /// endpoint writes all its deliveries, so two attempts settled at once
    /// must meet on the endpoint, never on each other's delivery rows.
    fn settle_in(
        &self,
        tx: &mut dyn WebhooksTx,
        slot: Slot,
        outcome: &Outcome,
        now: DateTime<Utc>,
    ) -> Result<(), DomainError> {
        let (clinic, endpoint, event) = (slot.clinic, slot.endpoint, slot.event);
        // Deleted with its deliveries: nothing left to settle.
        let Some(version) = lock_version(tx, clinic, endpoint)? else {
            return Ok(());
        };
        let attempts = slot.attempts.saturating_add(1);
        match outcome {
            Outcome::Delivered { status } => {
                let delivered = Settlement {
                    attempted_at: now,
                    status: Some(i32::from(*status)),
                    error: None,
                    next: Next::Delivered,
                };
                tx.settle_webhook_delivery(clinic, endpoint, event, &delivered)?;
                tx.set_webhook_failing_since(clinic, endpoint, None)
            }
            Outcome::Failed {
                status,
                error,
                retry_after,
            } => {
                let mut jitter = [0u8; 4];
                self.core.random().fill(&mut jitter);
                let next = match schedule::next_attempt(
                    now,
                    slot.give_up_at,
                    attempts,
                    schedule::jitter(jitter),
                ) {
                    None => Next::GiveUp,
                    Some(at) => {
                        let asked = retry_after.map(|d| now + d.min(LONGEST_DELAY));
                        Next::Retry(asked.map_or(at, |asked| asked.max(at).min(slot.give_up_at)))
                    }
                };
                let failed = Settlement {
                    attempted_at: now,
                    status: status.map(i32::from),
                    error: Some(error.chars().take(500).collect()),
                    next,
                };
                tx.settle_webhook_delivery(clinic, endpoint, event, &failed)?;
                let gone = *status == Some(410);
                self.endpoint_failed(tx, clinic, endpoint, version, gone, now)
            }
        }
    }

    /// Counts a failure against its endpoint: the first since a success
    /// starts the clock; one [`schedule::DISABLE_AFTER`] later, or a
    /// `410 Gone` at once, disables it. The endpoint's row is locked
    /// (at `version`) by the caller.
    fn endpoint_failed(
        &self,
        tx: &mut dyn WebhooksTx,
        clinic: ClinicId,
        id: WebhookEndpointId,
        version: i32,
        gone: bool,
        now: DateTime<Utc>,
    ) -> Result<(), DomainError> {
        let Some(stored) = tx.webhook_endpoint(clinic, id)? else {
            return Ok(());
        };
        if stored.endpoint.disabled.is_some() {
            return Ok(());
        }
        let reason = match stored.endpoint.failing_since {
            _ if gone => DisabledReason::Gone,
            Some(since) if schedule::disable_due(since, now) => DisabledReason::Failing,
            Some(_) => return Ok(()),
            None => return tx.set_webhook_failing_since(clinic, id, Some(now)),
        };
        self.disable(tx, clinic, stored, version, reason, now)
    }

    /// Disables an endpoint the worker gave up on: its waiting deliveries are
    /// given up, the owners and administrators emailed, the act audited.
    fn disable(
        &self,
        tx: &mut dyn WebhooksTx,
        clinic: ClinicId,
        stored: StoredEndpoint,
        version: i32,
        reason: DisabledReason,
        now: DateTime<Utc>,
    ) -> Result<(), DomainError> {
        let endpoint = &stored.endpoint;
        let failing_since = endpoint.failing_since;
        let disabled = StoredEndpoint {
            endpoint: crate::ports::webhooks::WebhookEndpoint {
                disabled: Some((reason, now)),
                failing_since: None,
                version: version + 1,
                updated_at: now,
                ..endpoint.clone()
            },
            ..stored.clone()
        };
        tx.update_webhook_endpoint(clinic, &disabled)?;
        let given_up = tx.give_up_webhook_deliveries(clinic, endpoint.id, ENDPOINT_DISABLED)?;
        let name = tx.clinic(clinic)?.map(|c| c.name).unwrap_or_default();
        let why = match reason {
            DisabledReason::Gone => "answered 410 Gone (it asks for no more events)".to_owned(),
            _ => format!(
                "failed every delivery for {} days",
                schedule::DISABLE_AFTER.num_days()
            ),
        };
        let body = format!(
            "The webhook endpoint {} of {name} (host {}) {why}, so Salus disabled it.\n\n\
             {given_up} deliveries waiting for it were given up; its delivery log lists them.\n\
             Once the receiver works again, enable the endpoint (PATCH {}/api/v1/webhook-endpoints/{} \
             with {{\"enabled\": true}}) and redeliver the events it missed.\n",
            endpoint.id,
            target::host_of(&endpoint.url),
            self.core.settings().public_url,
            endpoint.id,
        );
        let managers = tx
            .members(clinic)?
            .into_iter()
            .filter(|m| m.active && matches!(m.role, Role::Owner | Role::Administrator));
        for manager in managers {
            self.core.email(
                tx,
                &manager.email,
                "Salus: a webhook endpoint was disabled",
                body.clone(),
            )?;
        }
        let mut record = AuditRecord::account(actions::WEBHOOK_ENDPOINT_DISABLED, None)
            .in_clinic(Some(clinic))
            .on("webhook_endpoint", endpoint.id)
            .detail("reason", reason.as_str())
            .detail("deliveries_given_up", given_up);
        if let Some(since) = failing_since {
            record = record.detail("failing_since", since.to_rfc3339());
        }
        self.core.audit(tx, record, &ClientInfo::default())
    }

    /// Removes settled deliveries older than [`schedule::LOG_RETENTION`], of
    /// every clinic; how many.
    pub fn purge_delivery_log(&self) -> Result<usize, DomainError> {
        let before = self.core.now() - schedule::LOG_RETENTION;
        self.tx(Scope::Platform, |tx| tx.purge_webhook_deliveries(before))
    }
}

/// The secrets that sign an endpoint's deliveries at `now`: its secret, and
/// the previous one while it is still valid; `None` when one does not open.
fn secrets(
    keys: &ClinicKeys,
    stored: &StoredEndpoint,
    now: DateTime<Utc>,
) -> Option<Vec<SigningSecret>> {
    let id = stored.endpoint.id;
    let mut secrets = vec![SigningSecret::from_bytes(
        keys.open_field(TABLE, SECRET, id, &stored.sealed_secret)
            .ok()?,
    )];
    if previous_secret_valid(&stored.endpoint, now)
        && let Some(sealed) = &stored.sealed_previous_secret
    {
        secrets.push(SigningSecret::from_bytes(
            keys.open_field(TABLE, PREVIOUS_SECRET, id, sealed).ok()?,
        ));
    }
    Some(secrets)
}
