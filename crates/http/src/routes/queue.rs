//! The waiting queue.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use salus_domain::ids::{AppointmentId, MembershipId, PatientId, QueueEntryId};
use salus_domain::ports::queue::{QueueEntry, QueueStatus};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use crate::auth::client::Client;
use crate::auth::extractor::Authenticated;
use crate::json::ValidatedJson;
use crate::preconditions::{IfMatch, with_etag};
use crate::problem::{ApiError, Problem};
use crate::state::Ports;

/// Check a patient in.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"patient_id": "0192f3a4-5b6c-7d8e-9f01-23456789abcd", "appointment_id": "0192f3a4-2222-7333-8444-555566667777", "practitioner_id": "0192f3a4-1111-7222-8333-444455556666"}))]
pub struct CheckInRequest {
    /// The patient.
    pub patient_id: Uuid,
    /// Their appointment, unless a walk-in (it becomes `checked_in`).
    pub appointment_id: Option<Uuid>,
    /// The practitioner to see (default: the appointment's).
    pub practitioner_id: Option<Uuid>,
}

/// Call the next patient.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"practitioner_id": "0192f3a4-1111-7222-8333-444455556666"}))]
pub struct CallNextRequest {
    /// Only patients for this practitioner (or unassigned).
    pub practitioner_id: Option<Uuid>,
}

/// A queue entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueEntryResponse {
    /// Its id.
    pub id: Uuid,
    /// The day.
    pub day: NaiveDate,
    /// Ticket number of the day.
    pub ticket: i32,
    /// The patient.
    pub patient_id: Uuid,
    /// The appointment, unless a walk-in.
    pub appointment_id: Option<Uuid>,
    /// The practitioner.
    pub practitioner_id: Option<Uuid>,
    /// `waiting`, `called`, `in_progress`, `completed` or `left`.
    #[schema(value_type = crate::contract::enums::QueueEntryStatus)]
    pub status: String,
    /// Arrived.
    pub checked_in_at: DateTime<Utc>,
    /// Called.
    pub called_at: Option<DateTime<Utc>>,
    /// Its version: its ETag is `"v<version>"`, to send in `If-Match` to move it.
    pub version: i32,
}

/// Today's queue.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueList {
    /// By practitioner, then ticket.
    pub items: Vec<QueueEntryResponse>,
    /// Always null.
    pub next_cursor: Option<String>,
}

impl From<QueueEntry> for QueueEntryResponse {
    fn from(e: QueueEntry) -> Self {
        QueueEntryResponse {
            id: e.id.0,
            day: e.day,
            ticket: e.ticket,
            patient_id: e.patient_id.0,
            appointment_id: e.appointment_id.map(Uuid::from),
            practitioner_id: e.practitioner_id.map(MembershipId::uuid),
            status: e.status.as_str().to_owned(),
            checked_in_at: e.checked_in_at,
            called_at: e.called_at,
            version: e.version,
        }
    }
}

/// Checks a patient in.
#[utoipa::path(operation_id = "queue_check_in", tag = "queue", summary = "Check a patient in", security(("bearer" = [])),
    extensions(("x-permission" = json!("queue.manage"))),
    request_body = CheckInRequest,
    responses(
        (status = 201, description = "In the queue, with a ticket.", body = QueueEntryResponse),
        (status = 409, description = "The appointment cannot be checked in.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown patient or appointment.", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/api/v1/queue")]
pub async fn check_in(
    ports: web::Data<Ports>,
    client: Client,
    who: Authenticated,
    body: ValidatedJson<CheckInRequest>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let entry = ports
        .call_as(&who, move |services, actor| {
            services.queue.check_in(
                actor,
                PatientId(b.patient_id),
                b.appointment_id.map(AppointmentId),
                b.practitioner_id.map(MembershipId),
                &client.0,
            )
        })
        .await?;
    Ok(HttpResponse::Created().json(QueueEntryResponse::from(entry)))
}

/// Today's queue.
#[utoipa::path(operation_id = "queue_list", tag = "queue", summary = "Today's queue", security(("bearer" = [])),
    extensions(("x-permission" = json!("queue.manage"))),
    responses(
        (status = 200, description = "By practitioner, then ticket.", body = QueueList),
    ))]
#[get("/api/v1/queue")]
pub async fn list(ports: web::Data<Ports>, who: Authenticated) -> Result<HttpResponse, ApiError> {
    let entries = ports
        .call_as(&who, move |services, actor| services.queue.queue(actor))
        .await?;
    Ok(HttpResponse::Ok().json(QueueList {
        items: entries.into_iter().map(QueueEntryResponse::from).collect(),
        next_cursor: None,
    }))
}

/// Calls the next patient.
#[utoipa::path(operation_id = "queue_call_next", tag = "queue", summary = "Call the next patient",
    description = "Two callers at once never get the same patient. 204 when nobody is waiting.",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("queue.manage"))),
    request_body = CallNextRequest,
    responses(
        (status = 200, description = "The patient called.", body = QueueEntryResponse),
        (status = 204, description = "Nobody is waiting."),
    ))]
#[post("/api/v1/queue/call-next")]
pub async fn call_next(
    ports: web::Data<Ports>,
    client: Client,
    who: Authenticated,
    body: ValidatedJson<CallNextRequest>,
) -> Result<HttpResponse, ApiError> {
    let practitioner = body.into_inner().practitioner_id.map(MembershipId);
    Ok(
        match ports
            .call_as(&who, move |services, actor| {
                services.queue.call_next(actor, practitioner, &client.0)
            })
            .await?
        {
            Some(entry) => HttpResponse::Ok().json(QueueEntryResponse::from(entry)),
            None => HttpResponse::NoContent().finish(),
        },
    )
}

async fn advance(
    ports: web::Data<Ports>,
    client: Client,
    who: Authenticated,
    (id, if_match): (Uuid, IfMatch),
    to: QueueStatus,
) -> Result<HttpResponse, ApiError> {
    let entry = ports
        .call_as(&who, move |services, actor| {
            services
                .queue
                .advance_queue(actor, QueueEntryId(id), to, if_match.0, &client.0)
        })
        .await?;
    let version = entry.version;
    Ok(with_etag(&mut HttpResponse::Ok(), version).json(QueueEntryResponse::from(entry)))
}

/// Starts the visit of a called patient.
#[utoipa::path(operation_id = "queue_start", tag = "queue", summary = "Start a visit", security(("bearer" = [])),
    extensions(("x-permission" = json!("queue.manage"))),
    params(("id" = Uuid, Path, description = "The queue entry."), ("If-Match" = String, Header, description = "The ETag of the version read, or `*`.")),
    responses(
        (status = 200, description = "In progress (or already); new `ETag`.", body = QueueEntryResponse),
        (status = 404, description = "No such entry.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not called yet.", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/api/v1/queue/{id}/start")]
pub async fn start(
    ports: web::Data<Ports>,
    client: Client,
    who: Authenticated,
    id: web::Path<Uuid>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    advance(
        ports,
        client,
        who,
        (id.into_inner(), if_match),
        QueueStatus::InProgress,
    )
    .await
}

/// Completes a visit.
#[utoipa::path(operation_id = "queue_complete", tag = "queue", summary = "Complete a visit", security(("bearer" = [])),
    extensions(("x-permission" = json!("queue.manage"))),
    params(("id" = Uuid, Path, description = "The queue entry."), ("If-Match" = String, Header, description = "The ETag of the version read, or `*`.")),
    responses(
        (status = 200, description = "Completed.", body = QueueEntryResponse),
        (status = 404, description = "No such entry.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not in progress.", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/api/v1/queue/{id}/complete")]
pub async fn complete(
    ports: web::Data<Ports>,
    client: Client,
    who: Authenticated,
    id: web::Path<Uuid>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    advance(
        ports,
        client,
        who,
        (id.into_inner(), if_match),
        QueueStatus::Completed,
    )
    .await
}

/// Records that a patient left without being seen.
#[utoipa::path(operation_id = "queue_mark_left", tag = "queue", summary = "Patient left", security(("bearer" = [])),
    extensions(("x-permission" = json!("queue.manage"))),
    params(("id" = Uuid, Path, description = "The queue entry."), ("If-Match" = String, Header, description = "The ETag of the version read, or `*`.")),
    responses(
        (status = 200, description = "Left.", body = QueueEntryResponse),
        (status = 404, description = "No such entry.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already seen.", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/api/v1/queue/{id}/left")]
pub async fn left(
    ports: web::Data<Ports>,
    client: Client,
    who: Authenticated,
    id: web::Path<Uuid>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    advance(
        ports,
        client,
        who,
        (id.into_inner(), if_match),
        QueueStatus::Left,
    )
    .await
}
