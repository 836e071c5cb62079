//! The clinic's closure (promise D3): asked by an owner, destroyed at the end of
//! a grace period unless cancelled.

use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use salus_domain::ports::closure::Closure;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::client::Client;
use crate::auth::extractor::Authenticated;
use crate::problem::{ApiError, Problem};
use crate::state::Ports;

/// Whether a closure is asked.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClosureState {
    /// No closure is asked.
    None,
    /// The clinic will be destroyed at `due_at` unless an owner cancels.
    Scheduled,
}

/// The clinic's closure.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClosureResponse {
    /// `none` or `scheduled`.
    pub state: ClosureState,
    /// Who asked (their address then); null when none is asked.
    pub requested_by: Option<String>,
    /// When they asked.
    pub requested_at: Option<DateTime<Utc>>,
    /// When every record of the clinic will be deleted and its keys destroyed.
    pub due_at: Option<DateTime<Utc>>,
}

impl From<Option<Closure>> for ClosureResponse {
    fn from(c: Option<Closure>) -> Self {
        match c {
            None => Self {
                state: ClosureState::None,
                requested_by: None,
                requested_at: None,
                due_at: None,
            },
            Some(c) => Self {
                state: ClosureState::Scheduled,
                requested_by: Some(c.requested_by_email),
                requested_at: Some(c.requested_at),
                due_at: Some(c.due_at),
            },
        }
    }
}

/// Asks for the clinic's closure.
#[utoipa::path(
    operation_id = "clinic_closure_request",
    tag = "clinic",
    summary = "Ask for the clinic's closure",
    description = "Step-up MFA; owners only by default. Every active member is emailed. At the end of the grace period (30 days by default) every record of the clinic in every schema is deleted, its keys destroyed, and a signed certificate of destruction is emailed to the owners. Until then an owner can export the clinic's data or cancel.",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("clinic.close"))),
    responses(
        (status = 201, description = "Scheduled.", body = ClosureResponse),
        (status = 403, description = "Missing permission, or no recent MFA check (`step_up_required`).", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A closure is already asked (`closure_already_requested`).", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/clinic/closure")]
pub async fn request_closure(
    ports: web::Data<Ports>,
    client: Client,
    who: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let closure = ports
        .call_as(&who, move |services, actor| {
            services.closures.request_closure(actor, &client.0)
        })
        .await?;
    Ok(HttpResponse::Created().json(ClosureResponse::from(Some(closure))))
}

/// The clinic's closure, if one is asked.
#[utoipa::path(
    operation_id = "clinic_closure_read",
    tag = "clinic",
    summary = "Get the clinic's closure",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("clinic.read"))),
    responses(
        (status = 200, description = "The closure (`state` says whether one is asked).", body = ClosureResponse),
    )
)]
#[get("/api/v1/clinic/closure")]
pub async fn read_closure(
    ports: web::Data<Ports>,
    who: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let closure = ports
        .call_as(&who, move |services, actor| {
            services.closures.closure_status(actor)
        })
        .await?;
    Ok(HttpResponse::Ok().json(ClosureResponse::from(closure)))
}

/// Cancels the clinic's closure.
#[utoipa::path(
    operation_id = "clinic_closure_cancel",
    tag = "clinic",
    summary = "Cancel the clinic's closure",
    description = "Step-up MFA; during the grace period only. Every active member is emailed.",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("clinic.close"))),
    responses(
        (status = 204, description = "Cancelled: nothing will be deleted."),
        (status = 403, description = "Missing permission, or no recent MFA check (`step_up_required`).", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No closure is asked.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/api/v1/clinic/closure")]
pub async fn cancel_closure(
    ports: web::Data<Ports>,
    client: Client,
    who: Authenticated,
) -> Result<HttpResponse, ApiError> {
    ports
        .call_as(&who, move |services, actor| {
            services.closures.cancel_closure(actor, &client.0)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
