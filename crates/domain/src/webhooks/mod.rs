//! Webhooks (issue 19): a clinic subscribes endpoints to event types, and every
//! event of those types is delivered to them signed (Standard Webhooks), from
//! an outbox written in the transaction of the change, retried with backoff
//! for three days (`schedule`), never to an inside address (`address`,
//! `target`). This service is the members' side (business plan,
//! `webhooks.manage`; changes with a step-up) and the delivery worker's
//! (`delivery`); the services that change records emit the events
//! (`Core::emit`, `events`).

pub mod address;
pub mod delivery;
pub mod events;
pub mod schedule;
pub mod signature;
pub mod target;

use chrono::{DateTime, Utc};

use crate::DomainError;
use crate::access::Permission;
use crate::actor::Actor;
use crate::audit::actions;
use crate::audit::record::AuditRecord;
use crate::concurrency::{Expected, lock_checked};
use crate::crypto::ClinicKeys;
use crate::identity::model::ClientInfo;
use crate::ids::{ClinicId, WebhookEndpointId, WebhookEventId};
use crate::paging::{MAX_PAGE, Page};
use crate::ports::webhooks::{
    Delivery, DeliveryKey, DeliveryState, DisabledReason, EndpointKey, StoredEndpoint,
    WebhookEndpoint,
};
use crate::shared::{Core, transactions};
use crate::store::{Scope, WebhooksTx};
use events::EventType;
use signature::SigningSecret;

/// The table whose secrets are sealed (part of each seal's binding).
pub const TABLE: &str = "webhook_endpoints";
/// The secret's column, as bound in its seal.
pub const SECRET: &str = "secret";
/// The previous secret's column, as bound in its seal.
pub const PREVIOUS_SECRET: &str = "previous_secret";

/// Endpoints a clinic may have: each event is delivered once to each.
pub const MAX_ENDPOINTS: i64 = 20;

/// The longest description.
pub const MAX_DESCRIPTION_CHARS: usize = 200;

/// A new endpoint, as a member asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEndpoint {
    /// Where to POST events.
    pub url: String,
    /// A note for the clinic.
    pub description: String,
    /// What it receives (at least one type, each once).
    pub event_types: Vec<EventType>,
}

/// Changes to an endpoint: each field given replaces the current one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EndpointChanges {
    /// A new URL.
    pub url: Option<String>,
    /// A new description.
    pub description: Option<String>,
    /// New event types.
    pub event_types: Option<Vec<EventType>>,
    /// Enables (true) or disables (false) it.
    pub enabled: Option<bool>,
}

/// An endpoint and its new secret, shown this once. Its `Debug` hides the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct EndpointWithSecret {
    /// The endpoint.
    pub endpoint: WebhookEndpoint,
    /// The signing secret, `whsec_...`.
    pub secret: String,
}

impl std::fmt::Debug for EndpointWithSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndpointWithSecret")
            .field("endpoint", &self.endpoint)
            .field("secret", &"[REDACTED]")
            .finish()
    }
}

fn description_of(raw: &str) -> Result<String, DomainError> {
    if raw.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(DomainError::invalid(
            "description",
            "length",
            format!("must be at most {MAX_DESCRIPTION_CHARS} characters"),
        ));
    }
    Ok(raw.to_owned())
}

fn event_types_of(types: Vec<EventType>) -> Result<Vec<EventType>, DomainError> {
    if types.is_empty() {
        return Err(DomainError::invalid(
            "event_types",
            "length",
            "must name at least one event type",
        ));
    }
    let mut sorted = types.clone();
    sorted.sort_unstable();
    sorted.dedup();
    if sorted.len() != types.len() {
        return Err(DomainError::invalid(
            "event_types",
            "duplicate",
            "names an event type twice",
        ));
    }
    Ok(types)
}

/// Refuses unless the clinic is on the business plan.
fn require_business(tx: &mut dyn WebhooksTx, clinic: ClinicId) -> Result<(), DomainError> {
    let clinic = tx.clinic(clinic)?.ok_or(DomainError::NotFound)?;
    crate::plans::require_business(&clinic.plan, "Webhooks")
}

/// The names of the fields a change alters (names only, for the audit trail).
fn changed_fields(current: &WebhookEndpoint, changes: &EndpointChanges) -> Vec<&'static str> {
    [
        (
            "url",
            changes.url.as_ref().is_some_and(|u| *u != current.url),
        ),
        (
            "description",
            changes
                .description
                .as_ref()
                .is_some_and(|d| *d != current.description),
        ),
        (
            "event_types",
            changes
                .event_types
                .as_ref()
                .is_some_and(|t| *t != current.event_types),
        ),
        (
            "enabled",
            changes
                .enabled
                .is_some_and(|e| e != current.disabled.is_none()),
        ),
    ]
    .into_iter()
    .filter_map(|(name, changed)| changed.then_some(name))
    .collect()
}

/// Webhook endpoints, their deliveries, and the delivery worker's steps.
#[derive(Clone)]
pub struct Webhooks {
    core: Core,
}

impl Webhooks {
    /// The service over the shared core.
    pub fn new(core: Core) -> Self {
        Self { core }
    }

    transactions!(WebhooksTx);

    /// A secret sealed under the clinic's data key, bound to the endpoint.
    fn seal(
        &self,
        keys: &ClinicKeys,
        id: WebhookEndpointId,
        column: &str,
        secret: &SigningSecret,
    ) -> Result<Vec<u8>, DomainError> {
        keys.seal_field(self.core.random(), TABLE, column, id, secret.bytes())
    }

    /// A page of the clinic's endpoints, oldest first.
    pub fn list_endpoints(
        &self,
        actor: &Actor,
        after: Option<EndpointKey>,
        limit: i64,
    ) -> Result<Page<WebhookEndpoint, EndpointKey>, DomainError> {
        actor.require(Permission::WebhooksManage)?;
        self.tx(Scope::Clinic(actor.clinic_id), |tx| {
            tx.webhook_endpoints(actor.clinic_id, after, limit.clamp(1, MAX_PAGE))
        })
    }

    /// One endpoint (another clinic's answers like a missing one).
    pub fn endpoint(
        &self,
        actor: &Actor,
        id: WebhookEndpointId,
    ) -> Result<WebhookEndpoint, DomainError> {
        actor.require(Permission::WebhooksManage)?;
        self.tx(Scope::Clinic(actor.clinic_id), |tx| {
            tx.webhook_endpoint(actor.clinic_id, id)?
                .map(|e| e.endpoint)
                .ok_or(DomainError::NotFound)
        })
    }

    /// Subscribes a new endpoint (business plan, step-up): enabled, with a new
    /// secret shown in the answer only.
    pub fn create_endpoint(
        &self,
        actor: &Actor,
        new: NewEndpoint,
        client: &ClientInfo,
    ) -> Result<EndpointWithSecret, DomainError> {
        actor.require(Permission::WebhooksManage)?;
        let now = self.core.now();
        actor.require_step_up(now)?;
        let url = target::check_target(&new.url, self.core.settings().webhook_targets)?;
        let description = description_of(&new.description)?;
        let event_types = event_types_of(new.event_types)?;
        let id: WebhookEndpointId = self.core.new_id();
        let secret = SigningSecret::generate(self.core.random());
        self.tx(Scope::Clinic(actor.clinic_id), |tx| {
            require_business(tx, actor.clinic_id)?;
            if tx.count_webhook_endpoints(actor.clinic_id)? >= MAX_ENDPOINTS {
                return Err(DomainError::Conflict {
                    code: "webhook_endpoint_limit",
                    detail: format!(
                        "A clinic has at most {MAX_ENDPOINTS} webhook endpoints; delete one first."
                    ),
                });
            }
            let keys = self.core.clinic_keys(tx, actor.clinic_id)?;
            let endpoint = WebhookEndpoint {
                id,
                url: url.clone(),
                description: description.clone(),
                event_types: event_types.clone(),
                disabled: None,
                previous_secret_expires_at: None,
                failing_since: None,
                version: 1,
                created_at: now,
                updated_at: now,
            };
            tx.insert_webhook_endpoint(
                actor.clinic_id,
                &StoredEndpoint {
                    endpoint: endpoint.clone(),
                    sealed_secret: self.seal(&keys, id, SECRET, &secret)?,
                    sealed_previous_secret: None,
                },
            )?;
            let types: Vec<&str> = event_types.iter().map(|t| t.code()).collect();
            self.core.audit(
                tx,
                AuditRecord::by(actor, actions::WEBHOOK_ENDPOINT_CREATED)
                    .on("webhook_endpoint", id)
                    .detail("host", target::host_of(&url))
                    .detail("event_types", types),
                client,
            )?;
            Ok(EndpointWithSecret {
                endpoint,
                secret: secret.shown(),
            })
        })
    }

    /// Changes an endpoint if `expected` is its version (step-up). Enabling
    /// one again needs the business plan and starts its failure count afresh;
    /// disabling one gives up its waiting deliveries.
    pub fn update_endpoint(
        &self,
        actor: &Actor,
        id: WebhookEndpointId,
        changes: EndpointChanges,
        expected: Option<Expected>,
        client: &ClientInfo,
    ) -> Result<WebhookEndpoint, DomainError> {
        actor.require(Permission::WebhooksManage)?;
        let now = self.core.now();
        actor.require_step_up(now)?;
        let changes = EndpointChanges {
            url: changes
                .url
                .map(|u| target::check_target(&u, self.core.settings().webhook_targets))
                .transpose()?,
            description: changes
                .description
                .map(|d| description_of(&d))
                .transpose()?,
            event_types: changes.event_types.map(event_types_of).transpose()?,
            enabled: changes.enabled,
        };
        self.tx(Scope::Clinic(actor.clinic_id), |tx| {
            let version = lock_checked(tx, actor.clinic_id, id, expected)?;
            let stored = tx
                .webhook_endpoint(actor.clinic_id, id)?
                .ok_or(DomainError::NotFound)?;
            let current = &stored.endpoint;
            let fields = changed_fields(current, &changes);
            if fields.is_empty() {
                return Ok(stored.endpoint);
            }
            let was_enabled = current.disabled.is_none();
            let enabled = changes.enabled.unwrap_or(was_enabled);
            if enabled && !was_enabled {
                require_business(tx, actor.clinic_id)?;
            }
            let endpoint = WebhookEndpoint {
                url: changes.url.clone().unwrap_or_else(|| current.url.clone()),
                description: changes
                    .description
                    .clone()
                    .unwrap_or_else(|| current.description.clone()),
                event_types: changes
                    .event_types
                    .clone()
                    .unwrap_or_else(|| current.event_types.clone()),
                disabled: match (enabled, was_enabled) {
                    (true, _) => None,
                    (false, true) => Some((DisabledReason::Member, now)),
                    (false, false) => current.disabled,
                },
                // A disabled endpoint, or one enabled again, starts afresh.
                failing_since: if enabled && was_enabled {
                    current.failing_since
                } else {
                    None
                },
                version: version + 1,
                updated_at: now,
                ..current.clone()
            };
            tx.update_webhook_endpoint(
                actor.clinic_id,
                &StoredEndpoint {
                    endpoint: endpoint.clone(),
                    ..stored.clone()
                },
            )?;
            if was_enabled && !enabled {
                tx.give_up_webhook_deliveries(actor.clinic_id, id, "the endpoint was disabled")?;
            }
            self.core.audit(
                tx,
                AuditRecord::by(actor, actions::WEBHOOK_ENDPOINT_UPDATED)
                    .on("webhook_endpoint", id)
                    .detail("fields", fields)
                    .detail("enabled", enabled),
                client,
            )?;
            Ok(endpoint)
        })
    }

    /// Deletes an endpoint and its delivery log (step-up).
    pub fn delete_endpoint(
        &self,
        actor: &Actor,
        id: WebhookEndpointId,
        client: &ClientInfo,
    ) -> Result<(), DomainError> {
        actor.require(Permission::WebhooksManage)?;
        actor.require_step_up(self.core.now())?;
        self.tx(Scope::Clinic(actor.clinic_id), |tx| {
            if !tx.delete_webhook_endpoint(actor.clinic_id, id)? {
                return Err(DomainError::NotFound);
            }
            self.core.audit_action(
                tx,
                actor,
                actions::WEBHOOK_ENDPOINT_DELETED,
                ("webhook_endpoint", id),
                client,
            )
        })
    }

    /// Replaces an endpoint's secret if `expected` is its version (step-up):
    /// deliveries are signed with both the new and the previous secret for
    /// [`schedule::PREVIOUS_SECRET_VALID`], so the receiver can switch without
    /// losing any. The new secret is in the answer only.
    pub fn rotate_secret(
        &self,
        actor: &Actor,
        id: WebhookEndpointId,
        expected: Option<Expected>,
        client: &ClientInfo,
    ) -> Result<EndpointWithSecret, DomainError> {
        actor.require(Permission::WebhooksManage)?;
        let now = self.core.now();
        actor.require_step_up(now)?;
        let secret = SigningSecret::generate(self.core.random());
        self.tx(Scope::Clinic(actor.clinic_id), |tx| {
            let version = lock_checked(tx, actor.clinic_id, id, expected)?;
            let stored = tx
                .webhook_endpoint(actor.clinic_id, id)?
                .ok_or(DomainError::NotFound)?;
            let keys = self.core.clinic_keys(tx, actor.clinic_id)?;
            let previous = SigningSecret::from_bytes(keys.open_field(
                TABLE,
                SECRET,
                id,
                &stored.sealed_secret,
            )?);
            let expires = now + schedule::PREVIOUS_SECRET_VALID;
            let endpoint = WebhookEndpoint {
                previous_secret_expires_at: Some(expires),
                version: version + 1,
                updated_at: now,
                ..stored.endpoint
            };
            tx.update_webhook_endpoint(
                actor.clinic_id,
                &StoredEndpoint {
                    endpoint: endpoint.clone(),
                    sealed_secret: self.seal(&keys, id, SECRET, &secret)?,
                    sealed_previous_secret: Some(self.seal(
                        &keys,
                        id,
                        PREVIOUS_SECRET,
                        &previous,
                    )?),
                },
            )?;
            self.core.audit(
                tx,
                AuditRecord::by(actor, actions::WEBHOOK_SECRET_ROTATED)
                    .on("webhook_endpoint", id)
                    .detail("previous_valid_until", expires.to_rfc3339()),
                client,
            )?;
            Ok(EndpointWithSecret {
                endpoint,
                secret: secret.shown(),
            })
        })
    }

    /// A page of an endpoint's delivery log, newest first.
    pub fn deliveries(
        &self,
        actor: &Actor,
        endpoint: WebhookEndpointId,
        before: Option<DeliveryKey>,
        limit: i64,
    ) -> Result<Page<Delivery, DeliveryKey>, DomainError> {
        actor.require(Permission::WebhooksManage)?;
        self.tx(Scope::Clinic(actor.clinic_id), |tx| {
            if tx.webhook_endpoint(actor.clinic_id, endpoint)?.is_none() {
                return Err(DomainError::NotFound);
            }
            tx.webhook_deliveries(actor.clinic_id, endpoint, before, limit.clamp(1, MAX_PAGE))
        })
    }

    /// Sends an event to an endpoint again, whatever became of it: due at
    /// once, with the same `webhook-id` and body, and retried like a new one
    /// if it fails. The endpoint must be enabled (`409 endpoint_disabled`).
    pub fn redeliver(
        &self,
        actor: &Actor,
        endpoint: WebhookEndpointId,
        event: WebhookEventId,
        client: &ClientInfo,
    ) -> Result<Delivery, DomainError> {
        actor.require(Permission::WebhooksManage)?;
        let now = self.core.now();
        self.tx(Scope::Clinic(actor.clinic_id), |tx| {
            let stored = tx
                .webhook_endpoint(actor.clinic_id, endpoint)?
                .ok_or(DomainError::NotFound)?;
            let delivery = tx
                .webhook_delivery(actor.clinic_id, endpoint, event)?
                .ok_or(DomainError::NotFound)?;
            if stored.endpoint.disabled.is_some() {
                return Err(DomainError::Conflict {
                    code: "endpoint_disabled",
                    detail: "The endpoint is disabled: enable it first.".to_owned(),
                });
            }
            tx.rearm_webhook_delivery(
                actor.clinic_id,
                endpoint,
                event,
                now,
                now + schedule::RETRY_WINDOW,
            )?;
            self.core.audit(
                tx,
                AuditRecord::by(actor, actions::WEBHOOK_REDELIVERY_REQUESTED)
                    .on("webhook_endpoint", endpoint)
                    .detail("event_id", event.to_string())
                    .detail("was", delivery.state.as_str()),
                client,
            )?;
            Ok(Delivery {
                state: DeliveryState::Pending,
                attempts: 0,
                next_attempt_at: Some(now),
                ..delivery
            })
        })
    }
}

/// When an endpoint's previous secret stops signing, if it still does at `now`.
pub fn previous_secret_valid(endpoint: &WebhookEndpoint, now: DateTime<Utc>) -> bool {
    endpoint
        .previous_secret_expires_at
        .is_some_and(|until| now < until)
}
