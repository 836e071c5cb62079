//! Security alerts raised by the detectors over the audit trail.

use actix_web::{HttpResponse, get, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use salus_domain::audit::alerts::SecurityAlert;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::extractor::Authenticated;
use crate::blocking::run_blocking;
use crate::problem::{ApiError, FieldError, Problem};
use crate::routes::audit::LogQuery;
use crate::state::Ports;

/// One alert.
#[derive(Debug, Serialize, ToSchema)]
pub struct SecurityAlertResponse {
    /// Its id.
    pub id: Uuid,
    /// `brute_force_account`, `brute_force_address`, `refresh_token_reuse`,
    /// `clinical_read_volume`, `export_volume` or `id_probing`.
    pub kind: String,
    /// Who: an account id or a client address.
    pub subject: String,
    /// Events counted in the window.
    pub event_count: i64,
    /// When the event that crossed the threshold happened.
    pub triggered_at: DateTime<Utc>,
    /// When the alert was raised.
    pub raised_at: DateTime<Utc>,
    /// The rule's description, window and threshold, and the triggering event.
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

/// A page of alerts, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct SecurityAlertList {
    /// The alerts.
    pub items: Vec<SecurityAlertResponse>,
    /// Pass as `cursor` for the next page; absent on the last one.
    pub next_cursor: Option<String>,
}

fn response(a: SecurityAlert) -> SecurityAlertResponse {
    SecurityAlertResponse {
        id: a.id,
        kind: a.kind,
        subject: a.subject,
        event_count: a.event_count,
        triggered_at: a.triggered_at,
        raised_at: a.raised_at,
        details: serde_json::from_str(&a.details).unwrap_or(serde_json::Value::Null),
    }
}

fn invalid(field: &str, message: &str) -> ApiError {
    ApiError::Validation(vec![FieldError {
        field: field.into(),
        code: "invalid".into(),
        message: message.into(),
    }])
}

/// The clinic's security alerts.
#[utoipa::path(
    tag = "audit",
    summary = "List security alerts",
    description = "Alerts raised by the detectors over the audit trail (brute force, refresh-token reuse, unusual volumes of clinical reads or exports, probing for ids), newest first. Each alert is also emailed to the clinic's owners and administrators.",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("audit.read"))),
    params(LogQuery),
    responses(
        (status = 200, description = "A page.", body = SecurityAlertList),
        (status = 401, description = "Not signed in.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Missing permission.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid cursor or limit.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/security-alerts")]
pub async fn list(
    ports: web::Data<Ports>,
    who: Authenticated,
    query: web::Query<LogQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let limit = q.limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(invalid("limit", "must be between 1 and 100"));
    }
    let before = q
        .cursor
        .as_deref()
        .map(|c| {
            URL_SAFE_NO_PAD
                .decode(c)
                .ok()
                .and_then(|b| serde_json::from_slice::<(DateTime<Utc>, Uuid)>(&b).ok())
                .ok_or_else(|| invalid("cursor", "is not a cursor of this list"))
        })
        .transpose()?;
    let identity = ports.identity.clone();
    let alerts = run_blocking(move || identity.security_alerts(&who.0, before, limit)).await?;
    let next_cursor = (i64::try_from(alerts.len()).unwrap_or(0) == limit)
        .then(|| alerts.last().map(|a| (a.raised_at, a.id)))
        .flatten()
        .map(|key| URL_SAFE_NO_PAD.encode(serde_json::to_vec(&key).unwrap_or_default()));
    Ok(HttpResponse::Ok().json(SecurityAlertList {
        items: alerts.into_iter().map(response).collect(),
        next_cursor,
    }))
}
