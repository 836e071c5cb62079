//! Practitioners' schedules over HTTP: who sees patients (and their specialty),
//! their weekly working hours, their absences and the free slots they have. The
//! routes keep the `appointments` tag of the contract, as they are part of booking.

use actix_web::{HttpResponse, get, post, put, web};
use chrono::{DateTime, Utc};
use salus_domain::ids::MembershipId;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use crate::auth::client::Client;
use crate::auth::extractor::Authenticated;
use crate::json::ValidatedJson;
use crate::preconditions::IfMatch;
use crate::problem::{ApiError, FieldError, Problem};
use crate::state::Ports;

/// A practitioner.
#[derive(Debug, Serialize, ToSchema)]
pub struct PractitionerResponse {
    /// The membership.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Specialty.
    pub specialty: String,
    /// The membership's version: its ETag is `"v<version>"`, to send in `If-Match`
    /// to change the profile or the hours.
    pub version: i32,
}

/// The clinic's practitioners.
#[derive(Debug, Serialize, ToSchema)]
pub struct PractitionerList {
    /// Practitioners by family name.
    pub items: Vec<PractitionerResponse>,
    /// Always null.
    pub next_cursor: Option<String>,
}

/// Flag a member as practitioner.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"specialty": "General practice"}))]
pub struct PractitionerRequest {
    /// Specialty.
    #[validate(length(min = 1, max = 100))]
    #[schema(min_length = 1, max_length = 100)]
    pub specialty: String,
}

/// Lists practitioners.
#[utoipa::path(operation_id = "practitioners_list", tag = "appointments", summary = "List practitioners", security(("bearer" = [])),
    extensions(("x-permission" = json!("appointments.read"))),
    responses(
        (status = 200, description = "Practitioners.", body = PractitionerList),
    ))]
#[get("/api/v1/practitioners")]
pub async fn practitioners(
    ports: web::Data<Ports>,
    who: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let found = ports
        .call_as(&who, move |services, actor| {
            services.schedule.list_practitioners(actor)
        })
        .await?;
    let items = found
        .into_iter()
        .map(|p| PractitionerResponse {
            id: p.membership.uuid(),
            name: p.name,
            specialty: p.specialty,
            version: p.version,
        })
        .collect();
    Ok(HttpResponse::Ok().json(PractitionerList {
        items,
        next_cursor: None,
    }))
}

/// Flags a member as practitioner.
#[utoipa::path(operation_id = "practitioners_update", tag = "appointments", summary = "Make a member a practitioner", security(("bearer" = [])),
    extensions(("x-permission" = json!("staff.update"))),
    params(("id" = Uuid, Path, description = "The membership."), ("If-Match" = String, Header, description = "The ETag of the version read, or `*`.")),
    request_body = PractitionerRequest,
    responses(
        (status = 204, description = "Done; the membership's new `ETag`.", headers(("ETag" = String, description = "The version: send it back in `If-Match` to change it."))),
        (status = 404, description = "No such member.", body = Problem, content_type = "application/problem+json"),
    ))]
#[put("/api/v1/practitioners/{id}")]
pub async fn set_practitioner(
    ports: web::Data<Ports>,
    client: Client,
    who: Authenticated,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: ValidatedJson<PractitionerRequest>,
) -> Result<HttpResponse, ApiError> {
    let specialty = body.into_inner().specialty;
    let id = MembershipId(id.into_inner());
    let version = ports
        .call_as(&who, move |services, actor| {
            services
                .schedule
                .set_practitioner(actor, id, &specialty, if_match.0, &client.0)
        })
        .await?;
    Ok(crate::preconditions::with_etag(&mut HttpResponse::NoContent(), version).finish())
}

/// One weekly working interval, in the clinic's time zone.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoursDto {
    /// ISO weekday: 1 = Monday ... 7 = Sunday.
    #[validate(range(min = 1, max = 7))]
    #[schema(minimum = 1, maximum = 7)]
    pub weekday: u32,
    /// Start, `HH:MM`.
    #[validate(length(equal = 5))]
    #[schema(min_length = 5, max_length = 5)]
    pub starts: String,
    /// End, `HH:MM`.
    #[validate(length(equal = 5))]
    #[schema(min_length = 5, max_length = 5)]
    pub ends: String,
}

/// A practitioner's weekly hours (replacing the old ones).
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"hours": [{"weekday": 1, "starts": "09:00", "ends": "12:30"}, {"weekday": 1, "starts": "14:00", "ends": "18:00"}, {"weekday": 3, "starts": "09:00", "ends": "13:00"}]}))]
pub struct HoursRequest {
    /// The intervals.
    #[validate(length(max = 50), nested)]
    pub hours: Vec<HoursDto>,
}

/// A time off.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"starts_at": "2030-08-01T00:00:00Z", "ends_at": "2030-08-15T00:00:00Z"}))]
pub struct AbsenceRequest {
    /// Start.
    pub starts_at: DateTime<Utc>,
    /// End.
    pub ends_at: DateTime<Utc>,
}

/// The interval recorded.
#[derive(Debug, Serialize, ToSchema)]
pub struct SlotResponse {
    /// Start.
    pub starts_at: DateTime<Utc>,
    /// End.
    pub ends_at: DateTime<Utc>,
}

/// Free slots.
#[derive(Debug, Serialize, ToSchema)]
pub struct Availability {
    /// In time order.
    pub items: Vec<SlotResponse>,
    /// Always null.
    pub next_cursor: Option<String>,
}

/// Window and slot length of an availability query.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AvailabilityQuery {
    /// From.
    pub from: DateTime<Utc>,
    /// To (at most 31 days after `from`).
    pub to: DateTime<Utc>,
    /// Slot length in minutes, 5 to 480 (default 30).
    #[param(minimum = 5, maximum = 480, default = 30)]
    pub slot_minutes: Option<i64>,
}

fn parse_hours(
    dto: &[HoursDto],
) -> Result<Vec<salus_domain::ports::schedule::WorkingHours>, ApiError> {
    dto.iter()
        .enumerate()
        .map(|(i, h)| {
            let time = |v: &str, f: &str| {
                let refused = || {
                    ApiError::Validation(vec![FieldError {
                        field: format!("hours[{i}].{f}"),
                        code: "time".into(),
                        message: "must be HH:MM, 00:00 to 23:59".into(),
                    }])
                };
                if !salus_domain::formats::is_time_of_day(v) {
                    return Err(refused());
                }
                chrono::NaiveTime::parse_from_str(v, "%H:%M").map_err(|_| refused())
            };
            Ok(salus_domain::ports::schedule::WorkingHours {
                weekday: h.weekday,
                starts: time(&h.starts, "starts")?,
                ends: time(&h.ends, "ends")?,
            })
        })
        .collect()
}

/// Sets a practitioner's weekly hours.
#[utoipa::path(operation_id = "practitioners_set_hours", tag = "appointments", summary = "Set working hours",
    description = "Weekly intervals in the clinic's time zone. Bookings outside them are refused (409 `outside_working_hours`) unless `override_hours` is given by a member with `appointments.override`. A practitioner without hours accepts any time.",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("staff.update"))),
    params(("id" = Uuid, Path, description = "The practitioner (membership)."), ("If-Match" = String, Header, description = "The ETag of the version read, or `*`.")),
    request_body = HoursRequest,
    responses(
        (status = 204, description = "Set; the membership's new `ETag`.", headers(("ETag" = String, description = "The version: send it back in `If-Match` to change it."))),
        (status = 404, description = "No such practitioner.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid intervals.", body = Problem, content_type = "application/problem+json"),
    ))]
#[put("/api/v1/practitioners/{id}/hours")]
pub async fn set_hours(
    ports: web::Data<Ports>,
    client: Client,
    who: Authenticated,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: ValidatedJson<HoursRequest>,
) -> Result<HttpResponse, ApiError> {
    let hours = parse_hours(&body.into_inner().hours)?;
    let id = MembershipId(id.into_inner());
    let version = ports
        .call_as(&who, move |services, actor| {
            services
                .schedule
                .set_working_hours(actor, id, &hours, if_match.0, &client.0)
        })
        .await?;
    Ok(crate::preconditions::with_etag(&mut HttpResponse::NoContent(), version).finish())
}

/// Records an absence.
#[utoipa::path(operation_id = "practitioners_add_absence", tag = "appointments", summary = "Record an absence", security(("bearer" = [])),
    extensions(("x-permission" = json!("staff.update"))),
    params(("id" = Uuid, Path, description = "The practitioner (membership).")),
    request_body = AbsenceRequest,
    responses(
        (status = 201, description = "Recorded.", body = SlotResponse),
        (status = 404, description = "No such practitioner.", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/api/v1/practitioners/{id}/absences")]
pub async fn add_absence(
    ports: web::Data<Ports>,
    client: Client,
    who: Authenticated,
    id: web::Path<Uuid>,
    body: ValidatedJson<AbsenceRequest>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let id = MembershipId(id.into_inner());
    let a = ports
        .call_as(&who, move |services, actor| {
            services
                .schedule
                .add_absence(actor, id, b.starts_at, b.ends_at, &client.0)
        })
        .await?;
    Ok(HttpResponse::Created().json(SlotResponse {
        starts_at: a.starts_at,
        ends_at: a.ends_at,
    }))
}

/// A practitioner's free slots.
#[utoipa::path(operation_id = "practitioners_availability", tag = "appointments", summary = "Practitioner availability",
    description = "Free slots inside working hours, outside absences and active appointments.",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("appointments.read"))),
    params(("id" = Uuid, Path, description = "The practitioner (membership)."), AvailabilityQuery),
    responses(
        (status = 200, description = "Free slots.", body = Availability),
        (status = 404, description = "No such practitioner.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid window or slot length.", body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/api/v1/practitioners/{id}/availability")]
pub async fn availability(
    ports: web::Data<Ports>,
    who: Authenticated,
    id: web::Path<Uuid>,
    query: web::Query<AvailabilityQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let id = MembershipId(id.into_inner());
    let minutes = q.slot_minutes.unwrap_or(30);
    if !(5..=480).contains(&minutes) {
        return Err(ApiError::Validation(vec![FieldError {
            field: "slot_minutes".into(),
            code: "range".into(),
            message: "must be between 5 and 480".into(),
        }]));
    }
    let slot = chrono::Duration::minutes(minutes);
    let slots = ports
        .call_as(&who, move |services, actor| {
            services
                .schedule
                .availability(actor, id, q.from, q.to, slot)
        })
        .await?;
    let items = slots
        .into_iter()
        .map(|(starts_at, ends_at)| SlotResponse { starts_at, ends_at })
        .collect();
    Ok(HttpResponse::Ok().json(Availability {
        items,
        next_cursor: None,
    }))
}
