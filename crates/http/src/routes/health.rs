//! Liveness and readiness probes.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::blocking::run_blocking;
use crate::problem::{ApiError, Problem};
use crate::state::Ports;

/// The body of a successful probe.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthStatus {
    /// `live` or `ready`.
    pub status: &'static str,
}

/// The process is up and serving requests.
#[utoipa::path(
    operation_id = "health_live",
    tag = "health",
    summary = "Liveness probe",
    description = "Answers 200 while the process serves requests; it checks no dependency.",
    security(()),
    responses(
        (status = 200, description = "The process is up.", body = HealthStatus),
    )
)]
#[get("/health/live")]
pub async fn live() -> HttpResponse {
    HttpResponse::Ok().json(HealthStatus { status: "live" })
}

/// The process can serve traffic: the database answers a round trip.
#[utoipa::path(
    operation_id = "health_ready",
    tag = "health",
    summary = "Readiness probe",
    description = "Answers 200 when the database answers a round trip, 503 otherwise. \
                   It recovers by itself when the database returns.",
    security(()),
    responses(
        (status = 200, description = "Ready to serve.", body = HealthStatus),
        (status = 503, description = "The database is unreachable.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/health/ready")]
pub async fn ready(ports: web::Data<Ports>) -> Result<HttpResponse, ApiError> {
    let readiness = ports.readiness.clone();
    run_blocking(move || readiness.check()).await?;
    Ok(HttpResponse::Ok().json(HealthStatus { status: "ready" }))
}
