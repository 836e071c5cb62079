//! Practitioners and appointments.

use actix_web::{HttpResponse, get, post, put, web};
use chrono::{DateTime, Utc};
use salus_domain::ids::{AppointmentId, MembershipId, PatientId};
use salus_domain::ports::appointments::{
    Appointment, AppointmentKey, AppointmentQuery, HistoryEntry, NewBooking, Status,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use crate::auth::client::Client;
use crate::auth::extractor::Authenticated;
use crate::json::ValidatedJson;
use crate::paging::{ListScope, page_limit};
use crate::preconditions::IfMatch;
use crate::problem::{ApiError, Problem};
use crate::state::Ports;

/// Appointment status.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StatusDto {
    /// Booked.
    Scheduled,
    /// Confirmed.
    Confirmed,
    /// Arrived.
    CheckedIn,
    /// With the practitioner.
    InProgress,
    /// Done.
    Completed,
    /// Called off.
    Cancelled,
    /// Did not come.
    NoShow,
}

impl From<StatusDto> for Status {
    fn from(s: StatusDto) -> Self {
        match s {
            StatusDto::Scheduled => Status::Scheduled,
            StatusDto::Confirmed => Status::Confirmed,
            StatusDto::CheckedIn => Status::CheckedIn,
            StatusDto::InProgress => Status::InProgress,
            StatusDto::Completed => Status::Completed,
            StatusDto::Cancelled => Status::Cancelled,
            StatusDto::NoShow => Status::NoShow,
        }
    }
}

/// Book an appointment.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"patient_id": "0192f3a4-5b6c-7d8e-9f01-23456789abcd", "practitioner_id": "0192f3a4-1111-7222-8333-444455556666", "starts_at": "2030-05-14T09:00:00Z", "ends_at": "2030-05-14T09:30:00Z", "reason": "Follow-up of blood pressure", "override_hours": false}))]
pub struct BookRequest {
    /// The patient.
    pub patient_id: Uuid,
    /// The practitioner (membership id).
    pub practitioner_id: Uuid,
    /// Start.
    pub starts_at: DateTime<Utc>,
    /// End.
    pub ends_at: DateTime<Utc>,
    /// Reason (clinical data, stored encrypted).
    #[validate(length(min = 1, max = 2000))]
    #[schema(min_length = 1, max_length = 2000)]
    pub reason: Option<String>,
    /// Book outside the practitioner's working hours (needs `appointments.override`).
    #[serde(default)]
    pub override_hours: bool,
}

/// Change an appointment's status.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"status": "cancelled", "reason": "The patient asked to move it"}))]
pub struct StatusRequest {
    /// The new status.
    pub status: StatusDto,
    /// Why (required to cancel).
    #[validate(length(min = 1, max = 500))]
    #[schema(min_length = 1, max_length = 500)]
    pub reason: Option<String>,
}

/// Move an appointment.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"starts_at": "2030-05-14T10:00:00Z", "ends_at": "2030-05-14T10:30:00Z"}))]
pub struct ScheduleRequest {
    /// New start.
    pub starts_at: DateTime<Utc>,
    /// New end.
    pub ends_at: DateTime<Utc>,
}

/// An appointment. `reason` only for members with `clinical.read`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": "0192f3a4-2222-7333-8444-555566667777", "patient_id": "0192f3a4-5b6c-7d8e-9f01-23456789abcd", "practitioner_id": "0192f3a4-1111-7222-8333-444455556666", "starts_at": "2030-05-14T09:00:00Z", "ends_at": "2030-05-14T09:30:00Z", "status": "scheduled", "reason": "Follow-up of blood pressure", "cancel_reason": null, "reminders": null, "created_at": "2026-11-20T16:40:12Z", "updated_at": "2026-11-20T16:40:12Z", "version": 2}))]
pub struct AppointmentResponse {
    /// Its id.
    pub id: Uuid,
    /// The patient.
    pub patient_id: Uuid,
    /// The practitioner.
    pub practitioner_id: Uuid,
    /// Start.
    pub starts_at: DateTime<Utc>,
    /// End.
    pub ends_at: DateTime<Utc>,
    /// Status.
    #[schema(value_type = StatusDto)]
    pub status: String,
    /// Why it was cancelled.
    pub cancel_reason: Option<String>,
    /// Reason (only with `clinical.read`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Reminders and their delivery status (on single reads).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reminders: Option<Vec<ReminderResponse>>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Updated.
    pub updated_at: DateTime<Utc>,
    /// Its version: its ETag is `"v<version>"`, to send in `If-Match`.
    pub version: i32,
    /// Sealed fields that failed their integrity check (the stored ciphertext was
    /// altered at rest): they are absent from this answer, the event is recorded in
    /// the audit trail and a `sealed_data_integrity` security alert is raised.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unavailable_fields: Vec<String>,
}

/// A reminder of an appointment.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReminderResponse {
    /// `email` or `sms`.
    #[schema(value_type = crate::contract::enums::ReminderChannel)]
    pub channel: &'static str,
    /// When it goes out.
    pub scheduled_for: DateTime<Utc>,
    /// `pending`, `delivered` or `failed`.
    #[schema(value_type = crate::contract::enums::ReminderStatus)]
    pub status: &'static str,
}

/// A page of appointments.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppointmentList {
    /// In start-time order.
    pub items: Vec<AppointmentResponse>,
    /// Next page, or null.
    pub next_cursor: Option<String>,
}

/// A changed status: what it was (null when the appointment was booked) and is.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatusChange {
    /// Before.
    pub from: Option<StatusDto>,
    /// After.
    pub to: StatusDto,
}

/// A changed time: what it was (null when the appointment was booked) and is.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimeChange {
    /// Before.
    pub from: Option<DateTime<Utc>>,
    /// After.
    pub to: DateTime<Utc>,
}

/// The fields one change touched (schema of `HistoryResponse.change`); fields not
/// changed are absent.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppointmentChange {
    /// The status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<StatusChange>,
    /// The start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<TimeChange>,
    /// The end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<TimeChange>,
}

/// One change of an appointment.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryResponse {
    /// When.
    pub at: DateTime<Utc>,
    /// Who (membership id).
    pub actor: Uuid,
    /// Fields changed: `{"field": {"from": .., "to": ..}}`.
    #[schema(value_type = AppointmentChange)]
    pub change: serde_json::Value,
}

/// The history of an appointment.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryList {
    /// Oldest first.
    pub items: Vec<HistoryResponse>,
    /// Always null.
    pub next_cursor: Option<String>,
}

/// Filters and paging of the appointment list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AppointmentListQuery {
    /// Starting at or after.
    pub from: Option<DateTime<Utc>>,
    /// Starting before.
    pub to: Option<DateTime<Utc>>,
    /// One practitioner.
    pub practitioner_id: Option<Uuid>,
    /// One patient.
    pub patient_id: Option<Uuid>,
    /// One status.
    pub status: Option<StatusDto>,
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<i64>,
    /// From the previous page.
    pub cursor: Option<String>,
}

impl From<Appointment> for AppointmentResponse {
    fn from(a: Appointment) -> Self {
        let s = a.stored;
        AppointmentResponse {
            id: s.id.0,
            patient_id: s.patient_id.0,
            practitioner_id: s.practitioner_id.uuid(),
            starts_at: s.starts_at,
            ends_at: s.ends_at,
            status: s.status.as_str().to_owned(),
            cancel_reason: s.cancel_reason,
            reason: a.reason,
            reminders: a.reminders.map(|items| {
                items
                    .into_iter()
                    .map(|r| ReminderResponse {
                        channel: r.channel.as_str(),
                        scheduled_for: r.scheduled_for,
                        status: r.status.as_str(),
                    })
                    .collect()
            }),
            created_at: s.created_at,
            updated_at: s.updated_at,
            version: s.version,
            unavailable_fields: a.unavailable.iter().map(|f| (*f).to_owned()).collect(),
        }
    }
}

/// An appointment answered with its `ETag`.
fn with_etag(mut builder: actix_web::HttpResponseBuilder, a: Appointment) -> HttpResponse {
    crate::preconditions::with_etag(&mut builder, a.stored.version)
        .json(AppointmentResponse::from(a))
}

/// Books an appointment.
#[utoipa::path(operation_id = "appointments_book", tag = "appointments", summary = "Book an appointment",
    description = "Two bookings overlapping for one practitioner cannot both succeed: the database refuses the second (409 `slot_taken`).",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("appointments.create"))),
    request_body = BookRequest,
    responses(
        (status = 201, description = "Booked; `ETag` and `Location` headers.", body = AppointmentResponse, headers(("ETag" = String, description = "The version: send it back in `If-Match` to change it."), ("Location" = String, description = "The new appointment's address."))),
        (status = 409, description = "The slot is taken.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, unknown patient or practitioner.", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/api/v1/appointments")]
pub async fn book(
    ports: web::Data<Ports>,
    client: Client,
    who: Authenticated,
    body: ValidatedJson<BookRequest>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let appointment = ports
        .call_as(&who, move |services, actor| {
            services.appointments.book(
                actor,
                &NewBooking {
                    patient: PatientId(b.patient_id),
                    practitioner: MembershipId(b.practitioner_id),
                    starts_at: b.starts_at,
                    ends_at: b.ends_at,
                    reason: b.reason,
                    override_hours: b.override_hours,
                },
                &client.0,
            )
        })
        .await?;
    let location = format!("/api/v1/appointments/{}", appointment.stored.id);
    Ok(with_etag(
        HttpResponse::Created()
            .insert_header((actix_web::http::header::LOCATION, location))
            .take(),
        appointment,
    ))
}

/// Reads an appointment.
#[utoipa::path(operation_id = "appointments_read", tag = "appointments", summary = "Read an appointment", security(("bearer" = [])),
    extensions(("x-permission" = json!("appointments.read"))),
    params(("id" = Uuid, Path, description = "The appointment.")),
    responses(
        (status = 200, description = "The appointment; `ETag` header.", body = AppointmentResponse, headers(("ETag" = String, description = "The version: send it back in `If-Match` to change it."))),
        (status = 404, description = "No such appointment.", body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/api/v1/appointments/{id}")]
pub async fn read(
    ports: web::Data<Ports>,
    who: Authenticated,
    client: Client,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let a = ports
        .call_as(&who, move |services, actor| {
            services
                .appointments
                .get_appointment(actor, AppointmentId(id), &client.0)
        })
        .await?;
    Ok(with_etag(HttpResponse::Ok(), a))
}

/// Changes an appointment's status.
#[utoipa::path(operation_id = "appointments_change_status", tag = "appointments", summary = "Change an appointment's status",
    description = "scheduled → confirmed → checked_in → in_progress → completed; cancelled (with a reason, needs `appointments.cancel`) from scheduled, confirmed or checked_in; no_show from scheduled or confirmed. Anything else is 409 naming the current state.",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("appointments.update"))),
    params(("id" = Uuid, Path, description = "The appointment."), ("If-Match" = String, Header, description = "The ETag of the version read, or `*`.")),
    request_body = StatusRequest,
    responses(
        (status = 200, description = "Changed (or already in that status); new `ETag`.", body = AppointmentResponse, headers(("ETag" = String, description = "The version: send it back in `If-Match` to change it."))),
        (status = 404, description = "No such appointment.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Illegal transition.", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/api/v1/appointments/{id}/status")]
pub async fn change_status(
    ports: web::Data<Ports>,
    client: Client,
    who: Authenticated,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: ValidatedJson<StatusRequest>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let id = id.into_inner();
    let a = ports
        .call_as(&who, move |services, actor| {
            services.appointments.change_status(
                actor,
                AppointmentId(id),
                b.status.into(),
                b.reason.as_deref(),
                if_match.0,
                &client.0,
            )
        })
        .await?;
    Ok(with_etag(HttpResponse::Ok(), a))
}

/// Moves an appointment.
#[utoipa::path(operation_id = "appointments_reschedule", tag = "appointments", summary = "Reschedule an appointment", security(("bearer" = [])),
    extensions(("x-permission" = json!("appointments.update"))),
    params(("id" = Uuid, Path, description = "The appointment."), ("If-Match" = String, Header, description = "The ETag of the version read, or `*`.")),
    request_body = ScheduleRequest,
    responses(
        (status = 200, description = "Moved; new `ETag`.", body = AppointmentResponse, headers(("ETag" = String, description = "The version: send it back in `If-Match` to change it."))),
        (status = 404, description = "No such appointment.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The new slot is taken, or the appointment can no longer move.", body = Problem, content_type = "application/problem+json"),
    ))]
#[put("/api/v1/appointments/{id}/schedule")]
pub async fn reschedule(
    ports: web::Data<Ports>,
    client: Client,
    who: Authenticated,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: ValidatedJson<ScheduleRequest>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let id = id.into_inner();
    let a = ports
        .call_as(&who, move |services, actor| {
            services.appointments.reschedule(
                actor,
                AppointmentId(id),
                b.starts_at,
                b.ends_at,
                if_match.0,
                &client.0,
            )
        })
        .await?;
    Ok(with_etag(HttpResponse::Ok(), a))
}

/// Lists appointments.
#[utoipa::path(operation_id = "appointments_list", tag = "appointments", summary = "List appointments", security(("bearer" = [])),
    extensions(("x-permission" = json!("appointments.read"))),
    params(AppointmentListQuery),
    responses(
        (status = 200, description = "A page.", body = AppointmentList),
        (status = 422, description = "Invalid filters.", body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/api/v1/appointments")]
pub async fn list(
    ports: web::Data<Ports>,
    who: Authenticated,
    client: Client,
    query: web::Query<AppointmentListQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let limit = page_limit(q.limit, 20)?;
    let scope = ListScope::of("appointments_list", who.clinic_id());
    let after = ports
        .cursors
        .open::<AppointmentKey>(&scope, q.cursor.as_deref())?;
    let query = AppointmentQuery {
        from: q.from,
        to: q.to,
        practitioner: q.practitioner_id.map(MembershipId),
        patient: q.patient_id.map(PatientId),
        status: q.status.map(Into::into),
        limit,
        after,
    };
    let page = ports
        .call_as(&who, move |services, actor| {
            services
                .appointments
                .list_appointments(actor, query, &client.0)
        })
        .await?;
    let next_cursor = ports.cursors.seal(&scope, page.next.as_ref())?;
    let items = page
        .items
        .into_iter()
        .map(AppointmentResponse::from)
        .collect();
    Ok(HttpResponse::Ok().json(AppointmentList { items, next_cursor }))
}

/// The history of an appointment.
#[utoipa::path(operation_id = "appointments_history", tag = "appointments", summary = "Appointment history",
    description = "Every change: who, when, which fields, from what to what.",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("appointments.read"))),
    params(("id" = Uuid, Path, description = "The appointment.")),
    responses(
        (status = 200, description = "Changes, oldest first.", body = HistoryList),
        (status = 404, description = "No such appointment.", body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/api/v1/appointments/{id}/history")]
pub async fn history(
    ports: web::Data<Ports>,
    who: Authenticated,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let entries = ports
        .call_as(&who, move |services, actor| {
            services
                .appointments
                .appointment_history(actor, AppointmentId(id))
        })
        .await?;
    let items = entries
        .into_iter()
        .map(|e: HistoryEntry| HistoryResponse {
            at: e.at,
            actor: e.actor.uuid(),
            change: e.change,
        })
        .collect();
    Ok(HttpResponse::Ok().json(HistoryList {
        items,
        next_cursor: None,
    }))
}
