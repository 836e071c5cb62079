//! Security alerts raised by the detectors over the audit trail.

use actix_web::{HttpResponse, get, web};
use chrono::{DateTime, Utc};
use salus_domain::ports::alerts::{AlertKey, SecurityAlert};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::extractor::Authenticated;
use crate::paging::{ListScope, page_limit};
use crate::problem::{ApiError, Problem};
use crate::routes::audit::LogQuery;
use crate::state::Ports;

/// One alert.
#[derive(Debug, Serialize, ToSchema)]
pub struct SecurityAlertResponse {
    /// Its id.
    pub id: Uuid,
    /// `brute_force_account`, `brute_force_address`, `refresh_token_reuse`,
    /// `clinical_read_volume`, `export_volume` or `id_probing`.
    #[schema(value_type = crate::contract::enums::AlertKind)]
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

impl From<SecurityAlert> for SecurityAlertResponse {
    fn from(a: SecurityAlert) -> Self {
        SecurityAlertResponse {
            id: a.id.0,
            kind: a.kind,
            subject: a.subject,
            event_count: a.event_count,
            triggered_at: a.triggered_at,
            raised_at: a.raised_at,
            details: serde_json::from_str(&a.details).unwrap_or(serde_json::Value::Null),
        }
    }
}

/// The clinic's security alerts.
#[utoipa::path(
    operation_id = "security_alerts_list",
    tag = "audit",
    summary = "List security alerts",
    description = "Alerts raised by the detectors over the audit trail (brute force, refresh-token reuse, unusual volumes of clinical reads or exports, probing for ids), newest first. Each alert is also emailed to the clinic's owners and administrators.",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("audit.read"))),
    params(LogQuery),
    responses(
        (status = 200, description = "A page.", body = SecurityAlertList),
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
    let limit = page_limit(q.limit, 50)?;
    let scope = ListScope::of("security_alerts_list", who.clinic_id());
    let before = ports
        .cursors
        .open::<AlertKey>(&scope, q.cursor.as_deref())?;
    let page = ports
        .call_as(&who, move |services, actor| {
            services.alerts.security_alerts(actor, before, limit)
        })
        .await?;
    Ok(HttpResponse::Ok().json(SecurityAlertList {
        next_cursor: ports.cursors.seal(&scope, page.next.as_ref())?,
        items: page
            .items
            .into_iter()
            .map(SecurityAlertResponse::from)
            .collect(),
    }))
}
