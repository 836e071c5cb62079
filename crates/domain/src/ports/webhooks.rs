//! Storage of webhooks: a clinic's endpoints and the deliveries of its events
//! (implemented by the persistence crate). Deliveries are written in the
//! transaction of the change that causes them ([`WebhookEventsRepo`]) and
//! claimed by the delivery worker across clinics ([`WebhooksRepo`]).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::DomainError;
use crate::ids::{ClinicId, PatientId, WebhookEndpointId, WebhookEventId};
use crate::paging::Page;
use crate::webhooks::events::EventType;

/// Why an endpoint is disabled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisabledReason {
    /// A member disabled it.
    Member,
    /// It failed every attempt for as long as an event is retried.
    Failing,
    /// It answered `410 Gone`: it wants no more events.
    Gone,
}

impl DisabledReason {
    /// The stored and published name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Member => "member",
            Self::Failing => "failing",
            Self::Gone => "gone",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Member, Self::Failing, Self::Gone]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

/// An endpoint as members see it (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEndpoint {
    /// Its id.
    pub id: WebhookEndpointId,
    /// Where events are POSTed.
    pub url: String,
    /// The clinic's note about it.
    pub description: String,
    /// The event types it receives.
    pub event_types: Vec<EventType>,
    /// Why it is disabled, and since when; `None` while it is enabled.
    pub disabled: Option<(DisabledReason, DateTime<Utc>)>,
    /// Until when the previous secret still signs, after a rotation.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    /// Since when every attempt has failed (none since the last success).
    pub failing_since: Option<DateTime<Utc>>,
    /// Its version (optimistic concurrency).
    pub version: i32,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// An endpoint as stored: with its sealed secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEndpoint {
    /// What members see.
    pub endpoint: WebhookEndpoint,
    /// The signing secret, sealed under the clinic's data key.
    pub sealed_secret: Vec<u8>,
    /// The previous secret while it still signs, sealed.
    pub sealed_previous_secret: Option<Vec<u8>>,
}

/// Where an endpoint list continues: after this id (ids are time-ordered).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointKey {
    /// The last endpoint of the page.
    pub id: Uuid,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    /// Waiting for its first attempt or a retry.
    Pending,
    /// Answered with a 2xx.
    Delivered,
    /// Given up: retried for the whole window, or its endpoint was disabled.
    Failed,
}

impl DeliveryState {
    /// The stored and published name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Delivered, Self::Failed]
            .into_iter()
            .find(|d| d.as_str() == s)
    }
}

/// One event's delivery to one endpoint: a line of the endpoint's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The event (the `webhook-id`).
    pub event_id: WebhookEventId,
    /// Its type.
    pub event_type: EventType,
    /// When the event happened.
    pub created_at: DateTime<Utc>,
    /// Where it stands.
    pub state: DeliveryState,
    /// Attempts since it was (re)armed.
    pub attempts: i32,
    /// When it is tried next (pending only).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When it was last tried.
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// The status the endpoint last answered, if it answered.
    pub last_status: Option<i32>,
    /// Why the last attempt failed (no secret, no body).
    pub last_error: Option<String>,
    /// When it was delivered.
    pub delivered_at: Option<DateTime<Utc>>,
}

/// Where a delivery log continues: before this position (newest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryKey {
    /// The last delivery's position.
    pub seq: i64,
}

/// An event to deliver to every subscribed endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWebhookEvent {
    /// Its id (the `webhook-id`).
    pub id: WebhookEventId,
    /// Its type.
    pub kind: EventType,
    /// The resource it is about (deliveries of one resource keep their order).
    pub resource: Uuid,
    /// The patient it concerns, if any.
    pub patient: Option<PatientId>,
    /// The body to sign and send.
    pub payload: String,
    /// When it happened (and is first due).
    pub at: DateTime<Utc>,
    /// When its retries end.
    pub give_up_at: DateTime<Utc>,
}

/// A delivery the worker claimed, leased until its outcome is settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedDelivery {
    /// The clinic.
    pub clinic: ClinicId,
    /// The endpoint.
    pub endpoint: WebhookEndpointId,
    /// The event.
    pub event: WebhookEventId,
    /// The body to send.
    pub payload: String,
    /// Attempts so far.
    pub attempts: i32,
    /// When its retries end.
    pub give_up_at: DateTime<Utc>,
}

/// What became of a claimed delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settlement {
    /// When it was tried.
    pub attempted_at: DateTime<Utc>,
    /// The status answered, if any.
    pub status: Option<i32>,
    /// Why it failed, if it did.
    pub error: Option<String>,
    /// Its new state.
    pub next: Next,
}

/// A settled delivery's next state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Delivered: done.
    Delivered,
    /// Failed: tried again at this time.
    Retry(DateTime<Utc>),
    /// Failed past its window: given up.
    GiveUp,
}

/// Writes an event's deliveries in the transaction of the change that causes it.
pub trait WebhookEventsRepo {
    /// Queues `event` for every enabled endpoint of `clinic` subscribed to its
    /// type, when the clinic is on the business plan (one statement; none when
    /// nothing subscribes); how many.
    fn enqueue_webhook_event(
        &mut self,
        clinic: ClinicId,
        event: &NewWebhookEvent,
    ) -> Result<usize, DomainError>;
}

/// Storage of endpoints and deliveries (clinic-scoped, except the worker's
/// claim and purge, which run in the platform scope).
pub trait WebhooksRepo {
    /// A page of the clinic's endpoints, oldest first, after `after`.
    fn webhook_endpoints(
        &mut self,
        clinic: ClinicId,
        after: Option<EndpointKey>,
        limit: i64,
    ) -> Result<Page<WebhookEndpoint, EndpointKey>, DomainError>;
    /// How many endpoints the clinic has.
    fn count_webhook_endpoints(&mut self, clinic: ClinicId) -> Result<i64, DomainError>;
    /// One endpoint with its sealed secrets.
    fn webhook_endpoint(
        &mut self,
        clinic: ClinicId,
        id: WebhookEndpointId,
    ) -> Result<Option<StoredEndpoint>, DomainError>;
    /// Inserts an endpoint.
    fn insert_webhook_endpoint(
        &mut self,
        clinic: ClinicId,
        endpoint: &StoredEndpoint,
    ) -> Result<(), DomainError>;
    /// Stores every changeable field of an endpoint, its version included.
    fn update_webhook_endpoint(
        &mut self,
        clinic: ClinicId,
        endpoint: &StoredEndpoint,
    ) -> Result<(), DomainError>;
    /// Records since when an endpoint fails (none: it succeeded), without
    /// changing its version (the worker's observation, not a member's change).
    fn set_webhook_failing_since(
        &mut self,
        clinic: ClinicId,
        id: WebhookEndpointId,
        since: Option<DateTime<Utc>>,
    ) -> Result<(), DomainError>;
    /// Deletes an endpoint and its deliveries; false when there was none.
    fn delete_webhook_endpoint(
        &mut self,
        clinic: ClinicId,
        id: WebhookEndpointId,
    ) -> Result<bool, DomainError>;
    /// A page of an endpoint's deliveries, newest first, before `before`.
    fn webhook_deliveries(
        &mut self,
        clinic: ClinicId,
        endpoint: WebhookEndpointId,
        before: Option<DeliveryKey>,
        limit: i64,
    ) -> Result<Page<Delivery, DeliveryKey>, DomainError>;
    /// One delivery.
    fn webhook_delivery(
        &mut self,
        clinic: ClinicId,
        endpoint: WebhookEndpointId,
        event: WebhookEventId,
    ) -> Result<Option<Delivery>, DomainError>;
    /// Makes a delivery pending again, due at `now`, retried until
    /// `give_up_at`, its attempts counted from zero.
    fn rearm_webhook_delivery(
        &mut self,
        clinic: ClinicId,
        endpoint: WebhookEndpointId,
        event: WebhookEventId,
        now: DateTime<Utc>,
        give_up_at: DateTime<Utc>,
    ) -> Result<(), DomainError>;
    /// Gives up every pending delivery of an endpoint, saying why; how many.
    fn give_up_webhook_deliveries(
        &mut self,
        clinic: ClinicId,
        endpoint: WebhookEndpointId,
        why: &str,
    ) -> Result<usize, DomainError>;
    /// Claims up to `limit` due deliveries of every clinic (`FOR UPDATE SKIP
    /// LOCKED`), oldest due first, none while an earlier delivery of the same
    /// resource to the same endpoint is pending, and leases them (due again at
    /// `lease_until`, should the worker die before settling them).
    fn claim_webhook_deliveries(
        &mut self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<ClaimedDelivery>, DomainError>;
    /// Records an attempt's outcome.
    fn settle_webhook_delivery(
        &mut self,
        clinic: ClinicId,
        endpoint: WebhookEndpointId,
        event: WebhookEventId,
        settlement: &Settlement,
    ) -> Result<(), DomainError>;
    /// Removes settled deliveries of every clinic whose event is older than
    /// `before`; how many.
    fn purge_webhook_deliveries(&mut self, before: DateTime<Utc>) -> Result<usize, DomainError>;
}
