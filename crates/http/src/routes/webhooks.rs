//! Webhooks: a clinic's endpoints, subscribed to event types, their delivery
//! logs and manual redelivery. The partner's guide (`docs/api.md`, "Webhooks")
//! says what arrives and how to verify it.

use actix_web::http::header;
use actix_web::{HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use salus_domain::ids::{WebhookEndpointId, WebhookEventId};
use salus_domain::ports::webhooks::{Delivery, DeliveryKey, EndpointKey, WebhookEndpoint};
use salus_domain::webhooks::events::EventType;
use salus_domain::webhooks::{EndpointChanges, EndpointWithSecret, NewEndpoint};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use crate::auth::client::Client;
use crate::auth::extractor::Authenticated;
use crate::json::ValidatedJson;
use crate::paging::{ListScope, page_limit};
use crate::preconditions::{IfMatch, with_etag};
use crate::problem::{ApiError, FieldError, Problem};
use crate::routes::audit::LogQuery;
use crate::state::Ports;

/// A new endpoint.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"url": "https://hooks.partner.example/salus", "description": "Booking site", "event_types": ["appointment.booked", "appointment.cancelled"]}))]
pub struct CreateWebhookEndpointRequest {
    /// Where events are POSTed: an `https://` URL (`http://` only on a
    /// development server) without credentials or fragment, whose host is a
    /// public name or address. Loopback, private, link-local, multicast,
    /// reserved and cloud metadata addresses are refused (422
    /// `address_refused`), here and again whenever a delivery connects.
    #[validate(length(min = 1, max = 2048))]
    #[schema(min_length = 1, max_length = 2048)]
    pub url: String,
    /// A note for the clinic (who receives it, what for).
    #[validate(length(max = 200))]
    #[schema(max_length = 200)]
    pub description: Option<String>,
    /// The event types it receives, each once.
    #[validate(length(min = 1, max = 12))]
    #[schema(min_items = 1, max_items = 12, value_type = Vec<crate::contract::enums::WebhookEventType>)]
    pub event_types: Vec<String>,
}

/// Changes to an endpoint: each field given replaces the current value.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"event_types": ["appointment.booked", "appointment.rescheduled", "appointment.cancelled"], "enabled": true}))]
pub struct UpdateWebhookEndpointRequest {
    /// A new URL (the rules of creation apply).
    #[validate(length(min = 1, max = 2048))]
    #[schema(min_length = 1, max_length = 2048)]
    pub url: Option<String>,
    /// A new note.
    #[validate(length(max = 200))]
    #[schema(max_length = 200)]
    pub description: Option<String>,
    /// New event types, each once.
    #[validate(length(min = 1, max = 12))]
    #[schema(min_items = 1, max_items = 12, value_type = Option<Vec<crate::contract::enums::WebhookEventType>>)]
    pub event_types: Option<Vec<String>>,
    /// `false` disables the endpoint (its waiting deliveries are given up);
    /// `true` enables it again (business plan), its failures counted afresh.
    pub enabled: Option<bool>,
}

/// An endpoint (its secret is shown only when made).
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookEndpointResponse {
    /// Its id.
    pub id: Uuid,
    /// Where events are POSTed.
    pub url: String,
    /// The clinic's note.
    pub description: String,
    /// The event types it receives.
    #[schema(value_type = Vec<crate::contract::enums::WebhookEventType>)]
    pub event_types: Vec<String>,
    /// Whether events are delivered to it.
    pub enabled: bool,
    /// Why it is disabled: by a member, after failing every attempt for 3
    /// days, or because it answered 410 Gone; null while enabled.
    #[schema(value_type = Option<crate::contract::enums::WebhookDisabledReason>)]
    pub disabled_reason: Option<String>,
    /// Since when it is disabled.
    pub disabled_at: Option<DateTime<Utc>>,
    /// Since when every attempt has failed; null after a success.
    pub failing_since: Option<DateTime<Utc>>,
    /// Until when deliveries are signed with the previous secret as well,
    /// after a rotation.
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    /// Its version: its ETag is `"v<version>"`, to send in `If-Match`.
    pub version: i32,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<WebhookEndpoint> for WebhookEndpointResponse {
    fn from(w: WebhookEndpoint) -> Self {
        Self {
            id: w.id.0,
            url: w.url,
            description: w.description,
            event_types: w.event_types.iter().map(|t| t.code().to_owned()).collect(),
            enabled: w.disabled.is_none(),
            disabled_reason: w.disabled.map(|(r, _)| r.as_str().to_owned()),
            disabled_at: w.disabled.map(|(_, at)| at),
            failing_since: w.failing_since,
            previous_secret_expires_at: w.previous_secret_expires_at,
            version: w.version,
            created_at: w.created_at,
            updated_at: w.updated_at,
        }
    }
}

/// An endpoint with its signing secret, shown in this answer only.
// Its `Debug` (below) hides the secret.
#[derive(Serialize, ToSchema)]
pub struct WebhookEndpointWithSecretResponse {
    /// The endpoint.
    pub endpoint: WebhookEndpointResponse,
    /// The signing secret (`whsec_` and base64): verify each delivery's
    /// `webhook-signature` with it. Keep it like a password; Salus shows it
    /// only here.
    pub secret: String,
}

impl std::fmt::Debug for WebhookEndpointWithSecretResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookEndpointWithSecretResponse")
            .field("endpoint", &self.endpoint)
            .field("secret", &"[REDACTED]")
            .finish()
    }
}

impl From<EndpointWithSecret> for WebhookEndpointWithSecretResponse {
    fn from(w: EndpointWithSecret) -> Self {
        Self {
            endpoint: w.endpoint.into(),
            secret: w.secret,
        }
    }
}

/// A page of endpoints, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookEndpointList {
    /// The endpoints.
    pub items: Vec<WebhookEndpointResponse>,
    /// Pass as `cursor` for the next page; null on the last one.
    pub next_cursor: Option<String>,
}

/// One event's delivery to an endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookDeliveryResponse {
    /// The event's id: the `webhook-id` header of every attempt.
    pub id: Uuid,
    /// Its type.
    #[schema(value_type = crate::contract::enums::WebhookEventType)]
    pub event_type: String,
    /// When the event happened.
    pub created_at: DateTime<Utc>,
    /// `pending` (waiting for an attempt), `delivered` (answered 2xx) or
    /// `failed` (retried for 3 days, or its endpoint was disabled).
    #[schema(value_type = crate::contract::enums::WebhookDeliveryState)]
    pub state: String,
    /// Attempts made (since its last manual redelivery).
    pub attempts: i32,
    /// When it is tried next; null unless pending.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When it was last tried.
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// The HTTP status the endpoint last answered, if it answered.
    pub last_status: Option<i32>,
    /// Why the last attempt failed (`status 500`, `timeout`, `address refused:
    /// private`, ...).
    pub last_error: Option<String>,
    /// When it was delivered.
    pub delivered_at: Option<DateTime<Utc>>,
}

impl From<Delivery> for WebhookDeliveryResponse {
    fn from(d: Delivery) -> Self {
        Self {
            id: d.event_id.0,
            event_type: d.event_type.code().to_owned(),
            created_at: d.created_at,
            state: d.state.as_str().to_owned(),
            attempts: d.attempts,
            next_attempt_at: d.next_attempt_at,
            last_attempt_at: d.last_attempt_at,
            last_status: d.last_status,
            last_error: d.last_error,
            delivered_at: d.delivered_at,
        }
    }
}

/// A page of an endpoint's delivery log, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookDeliveryList {
    /// The deliveries.
    pub items: Vec<WebhookDeliveryResponse>,
    /// Pass as `cursor` for the next page; null on the last one.
    pub next_cursor: Option<String>,
}

/// The event types named, each known: a 422 naming the first unknown one.
fn event_types(field: &str, codes: &[String]) -> Result<Vec<EventType>, ApiError> {
    codes
        .iter()
        .enumerate()
        .map(|(i, code)| {
            EventType::parse(code).ok_or_else(|| {
                ApiError::Validation(vec![FieldError {
                    field: format!("{field}[{i}]"),
                    code: "unknown_event_type".to_owned(),
                    message: format!("{code} is not a webhook event type"),
                }])
            })
        })
        .collect()
}

/// An endpoint answered with its `ETag`.
fn endpoint_with_etag(
    mut builder: actix_web::HttpResponseBuilder,
    w: WebhookEndpoint,
) -> HttpResponse {
    with_etag(&mut builder, w.version).json(WebhookEndpointResponse::from(w))
}

/// Lists the clinic's endpoints.
#[utoipa::path(
    operation_id = "webhook_endpoints_list",
    tag = "webhooks",
    summary = "List webhook endpoints",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("webhooks.manage"))),
    params(LogQuery),
    responses(
        (status = 200, description = "A page, oldest first.", body = WebhookEndpointList),
        (status = 422, description = "Invalid cursor or limit.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/webhook-endpoints")]
pub async fn list(
    ports: web::Data<Ports>,
    who: Authenticated,
    query: web::Query<LogQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let limit = page_limit(q.limit, 50)?;
    let scope = ListScope::of("webhook_endpoints_list", who.clinic_id());
    let after = ports
        .cursors
        .open::<EndpointKey>(&scope, q.cursor.as_deref())?;
    let page = ports
        .call_as(&who, move |services, actor| {
            services.webhooks.list_endpoints(actor, after, limit)
        })
        .await?;
    Ok(HttpResponse::Ok().json(WebhookEndpointList {
        next_cursor: ports.cursors.seal(&scope, page.next.as_ref())?,
        items: page.items.into_iter().map(Into::into).collect(),
    }))
}

/// Subscribes an endpoint.
#[utoipa::path(
    operation_id = "webhook_endpoints_create",
    tag = "webhooks",
    summary = "Subscribe a webhook endpoint",
    description = "Business plan; step-up MFA. Every event of the chosen types is then POSTed to the URL, signed with the secret in this answer (shown only here), retried for 3 days. At most 20 endpoints per clinic.",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("webhooks.manage"))),
    request_body = CreateWebhookEndpointRequest,
    responses(
        (status = 201, description = "Subscribed; `ETag` and `Location` headers.", body = WebhookEndpointWithSecretResponse, headers(("ETag" = String, description = "The version: send it back in `If-Match` to change the endpoint."), ("Location" = String, description = "The new endpoint's address."))),
        (status = 409, description = "`webhook_endpoint_limit`: the clinic has 20 endpoints.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields: a URL that is not `https://`, names an inside address (`address_refused`), an unknown or repeated event type.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/webhook-endpoints")]
pub async fn create(
    ports: web::Data<Ports>,
    client: Client,
    who: Authenticated,
    body: ValidatedJson<CreateWebhookEndpointRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let new = NewEndpoint {
        url: body.url,
        description: body.description.unwrap_or_default(),
        event_types: event_types("event_types", &body.event_types)?,
    };
    let created = ports
        .call_as(&who, move |services, actor| {
            services.webhooks.create_endpoint(actor, new, &client.0)
        })
        .await?;
    let location = format!("/api/v1/webhook-endpoints/{}", created.endpoint.id);
    Ok(with_etag(
        HttpResponse::Created().insert_header((header::LOCATION, location)),
        created.endpoint.version,
    )
    .json(WebhookEndpointWithSecretResponse::from(created)))
}

/// Reads an endpoint.
#[utoipa::path(
    operation_id = "webhook_endpoints_read",
    tag = "webhooks",
    summary = "Read a webhook endpoint",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("webhooks.manage"))),
    params(("id" = Uuid, Path, description = "The endpoint.")),
    responses(
        (status = 200, description = "The endpoint; `ETag` header.", body = WebhookEndpointResponse, headers(("ETag" = String, description = "The version: send it back in `If-Match` to change the endpoint."))),
        (status = 404, description = "No such endpoint.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/webhook-endpoints/{id}")]
pub async fn read(
    ports: web::Data<Ports>,
    who: Authenticated,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = WebhookEndpointId(id.into_inner());
    let endpoint = ports
        .call_as(&who, move |services, actor| {
            services.webhooks.endpoint(actor, id)
        })
        .await?;
    Ok(endpoint_with_etag(HttpResponse::Ok(), endpoint))
}

/// Changes an endpoint.
#[utoipa::path(
    operation_id = "webhook_endpoints_update",
    tag = "webhooks",
    summary = "Change a webhook endpoint",
    description = "Step-up MFA. `enabled: false` disables it and gives up its waiting deliveries; `enabled: true` enables it again (business plan) with its failures counted afresh: redeliver what it missed.",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("webhooks.manage"))),
    params(("id" = Uuid, Path, description = "The endpoint."), ("If-Match" = String, Header, description = "The ETag of the version read, or `*`.")),
    request_body = UpdateWebhookEndpointRequest,
    responses(
        (status = 200, description = "Changed; new `ETag`.", body = WebhookEndpointResponse, headers(("ETag" = String, description = "The version: send it back in `If-Match` to change the endpoint."))),
        (status = 404, description = "No such endpoint.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, as on creation.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/api/v1/webhook-endpoints/{id}")]
pub async fn update(
    ports: web::Data<Ports>,
    client: Client,
    who: Authenticated,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: ValidatedJson<UpdateWebhookEndpointRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let changes = EndpointChanges {
        url: body.url,
        description: body.description,
        event_types: body
            .event_types
            .as_deref()
            .map(|codes| event_types("event_types", codes))
            .transpose()?,
        enabled: body.enabled,
    };
    let id = WebhookEndpointId(id.into_inner());
    let endpoint = ports
        .call_as(&who, move |services, actor| {
            services
                .webhooks
                .update_endpoint(actor, id, changes, if_match.0, &client.0)
        })
        .await?;
    Ok(endpoint_with_etag(HttpResponse::Ok(), endpoint))
}

/// Deletes an endpoint.
#[utoipa::path(
    operation_id = "webhook_endpoints_delete",
    tag = "webhooks",
    summary = "Delete a webhook endpoint",
    description = "Step-up MFA. Its waiting deliveries and its log go with it.",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("webhooks.manage"))),
    params(("id" = Uuid, Path, description = "The endpoint.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 404, description = "No such endpoint.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/api/v1/webhook-endpoints/{id}")]
pub async fn remove(
    ports: web::Data<Ports>,
    client: Client,
    who: Authenticated,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = WebhookEndpointId(id.into_inner());
    ports
        .call_as(&who, move |services, actor| {
            services.webhooks.delete_endpoint(actor, id, &client.0)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Rotates an endpoint's secret.
#[utoipa::path(
    operation_id = "webhook_endpoints_rotate_secret",
    tag = "webhooks",
    summary = "Rotate a webhook endpoint's secret",
    description = "Step-up MFA. A new secret, in this answer only; for 24 hours every delivery carries a signature by the new and one by the previous secret (`previous_secret_expires_at`), so the receiver can switch without losing any.",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("webhooks.manage"))),
    params(("id" = Uuid, Path, description = "The endpoint."), ("If-Match" = String, Header, description = "The ETag of the version read, or `*`.")),
    responses(
        (status = 200, description = "Rotated; new `ETag`.", body = WebhookEndpointWithSecretResponse, headers(("ETag" = String, description = "The version: send it back in `If-Match` to change the endpoint."))),
        (status = 404, description = "No such endpoint.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/webhook-endpoints/{id}/rotate-secret")]
pub async fn rotate_secret(
    ports: web::Data<Ports>,
    client: Client,
    who: Authenticated,
    id: web::Path<Uuid>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let id = WebhookEndpointId(id.into_inner());
    let rotated = ports
        .call_as(&who, move |services, actor| {
            services
                .webhooks
                .rotate_secret(actor, id, if_match.0, &client.0)
        })
        .await?;
    Ok(with_etag(&mut HttpResponse::Ok(), rotated.endpoint.version)
        .json(WebhookEndpointWithSecretResponse::from(rotated)))
}

/// An endpoint's delivery log.
#[utoipa::path(
    operation_id = "webhook_deliveries_list",
    tag = "webhooks",
    summary = "List an endpoint's deliveries",
    description = "Every event sent to the endpoint in the last 30 days, newest first: where it stands, its attempts, the last status or error.",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("webhooks.manage"))),
    params(("id" = Uuid, Path, description = "The endpoint."), LogQuery),
    responses(
        (status = 200, description = "A page, newest first.", body = WebhookDeliveryList),
        (status = 404, description = "No such endpoint.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid cursor or limit.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/webhook-endpoints/{id}/deliveries")]
pub async fn deliveries(
    ports: web::Data<Ports>,
    who: Authenticated,
    id: web::Path<Uuid>,
    query: web::Query<LogQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let q = query.into_inner();
    let limit = page_limit(q.limit, 50)?;
    let scope = ListScope::within("webhook_deliveries_list", who.clinic_id(), id);
    let before = ports
        .cursors
        .open::<DeliveryKey>(&scope, q.cursor.as_deref())?;
    let endpoint = WebhookEndpointId(id);
    let page = ports
        .call_as(&who, move |services, actor| {
            services.webhooks.deliveries(actor, endpoint, before, limit)
        })
        .await?;
    Ok(HttpResponse::Ok().json(WebhookDeliveryList {
        next_cursor: ports.cursors.seal(&scope, page.next.as_ref())?,
        items: page.items.into_iter().map(Into::into).collect(),
    }))
}

/// Sends an event to an endpoint again.
#[utoipa::path(
    operation_id = "webhook_deliveries_redeliver",
    tag = "webhooks",
    summary = "Redeliver an event",
    description = "The event is sent again at once, with the same `webhook-id` and body (a new `webhook-timestamp` and signature), whatever became of it, and retried for 3 days if it fails.",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("webhooks.manage"))),
    params(("id" = Uuid, Path, description = "The endpoint."), ("event_id" = Uuid, Path, description = "The event (a delivery's `id`).")),
    responses(
        (status = 202, description = "Due now.", body = WebhookDeliveryResponse),
        (status = 404, description = "No such endpoint, or no such delivery to it.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`endpoint_disabled`: enable the endpoint first.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/webhook-endpoints/{id}/deliveries/{event_id}/redeliver")]
pub async fn redeliver(
    ports: web::Data<Ports>,
    client: Client,
    who: Authenticated,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (endpoint, event) = path.into_inner();
    let delivery = ports
        .call_as(&who, move |services, actor| {
            services.webhooks.redeliver(
                actor,
                WebhookEndpointId(endpoint),
                WebhookEventId(event),
                &client.0,
            )
        })
        .await?;
    Ok(HttpResponse::Accepted().json(WebhookDeliveryResponse::from(delivery)))
}

#[cfg(test)]
mod tests {
    use salus_domain::webhooks::events::EventType;

    /// The requests' `max_items` of `event_types` (12) is the catalogue's size:
    /// a new event type must raise it, or an endpoint could not take them all.
    #[test]
    fn an_endpoint_can_subscribe_to_every_event_type() {
        assert_eq!(EventType::ALL.len(), 12);
    }
}
