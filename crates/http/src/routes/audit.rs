//! The audit trail over HTTP: the clinic's events (filtered, paged), a patient's
//! access log, a member's own sign-ins, and the streamed, verifiable export.

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, get, web};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use salus_domain::audit::export::{Format, hex};
use salus_domain::audit::service::EventPage;
use salus_domain::audit::{AuditEvent, Outcome};
use salus_domain::ids::{AccountId, PatientId};
use salus_domain::ports::audit::{AuditFilter, Cursor};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::client::Client;
use crate::auth::extractor::{Authenticated, Member};
use crate::paging::{ListScope, page_limit};
use crate::problem::{ApiError, Problem};
use crate::state::Ports;

/// Events per export batch (each its own short transaction).
const EXPORT_BATCH: i64 = 1_000;

/// How an action ended.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeDto {
    /// It happened.
    Success,
    /// It was attempted and failed.
    Failure,
    /// It was refused for lack of a permission.
    Denied,
}

impl From<OutcomeDto> for Outcome {
    fn from(o: OutcomeDto) -> Self {
        match o {
            OutcomeDto::Success => Self::Success,
            OutcomeDto::Failure => Self::Failure,
            OutcomeDto::Denied => Self::Denied,
        }
    }
}

impl From<Outcome> for OutcomeDto {
    fn from(o: Outcome) -> Self {
        match o {
            Outcome::Success => Self::Success,
            Outcome::Failure => Self::Failure,
            Outcome::Denied => Self::Denied,
        }
    }
}

/// One recorded action.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventResponse {
    /// Event id.
    pub id: Uuid,
    /// When (UTC).
    pub occurred_at: DateTime<Utc>,
    /// Action code, e.g. `patient.updated` or `access.denied`.
    pub action: String,
    /// How it ended.
    pub outcome: OutcomeDto,
    /// Acting account.
    pub account_id: Option<Uuid>,
    /// Acting membership.
    pub membership_id: Option<Uuid>,
    /// Acting session.
    pub session_id: Option<Uuid>,
    /// Client address.
    pub client_ip: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
    /// Request id.
    pub request_id: Option<String>,
    /// Type of the record acted on.
    pub resource_type: Option<String>,
    /// Id of the record acted on.
    pub resource_id: Option<Uuid>,
    /// Non-sensitive details (codes, counts, ids; never health data).
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    /// Position in the clinic's chain.
    pub seq: i64,
    /// The event's chain hash (hex).
    pub hash: String,
}

/// A page of events, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventList {
    /// The events.
    pub items: Vec<AuditEventResponse>,
    /// Pass as `cursor` for the next page; absent on the last one.
    pub next_cursor: Option<String>,
}

impl From<AuditEvent> for AuditEventResponse {
    fn from(e: AuditEvent) -> Self {
        let details = serde_json::from_str(&e.event.details).unwrap_or(serde_json::Value::Null);
        AuditEventResponse {
            id: e.event.id.0,
            occurred_at: e.event.occurred_at,
            action: e.event.action,
            outcome: e.event.outcome.into(),
            account_id: e.event.account_id.map(Uuid::from),
            membership_id: e.event.membership_id.map(Uuid::from),
            session_id: e.event.session_id.map(Uuid::from),
            client_ip: e.event.client_ip,
            user_agent: e.event.user_agent,
            request_id: e.event.request_id,
            resource_type: e.event.resource_type,
            resource_id: e.event.resource_id,
            details,
            seq: e.seq,
            hash: hex(&e.hash),
        }
    }
}

fn list(ports: &Ports, scope: &ListScope, page: EventPage) -> Result<AuditEventList, ApiError> {
    Ok(AuditEventList {
        next_cursor: ports.cursors.seal(scope, page.next.as_ref())?,
        items: page
            .items
            .into_iter()
            .map(AuditEventResponse::from)
            .collect(),
    })
}

/// Filters of the audit trail.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Acting account.
    pub actor: Option<Uuid>,
    /// Action code, e.g. `patient.updated`.
    pub action: Option<String>,
    /// Resource type, e.g. `patient`.
    pub resource_type: Option<String>,
    /// Resource id.
    pub resource_id: Option<Uuid>,
    /// Outcome.
    pub outcome: Option<OutcomeDto>,
    /// At or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Before this time.
    pub to: Option<DateTime<Utc>>,
    /// From a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Page size, 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100, default = 50)]
    pub limit: Option<i64>,
}

/// Paging of a log.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// From a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// Page size, 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100, default = 50)]
    pub limit: Option<i64>,
}

/// The clinic's audit trail.
#[utoipa::path(
    operation_id = "audit_events_list",
    tag = "audit",
    summary = "List audit events",
    description = "The clinic's recorded actions, newest first: sign-ins, refused requests (with the missing permission), every change and every read of clinical data. Filters combine; cursor pagination.",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("audit.read"))),
    params(AuditQuery),
    responses(
        (status = 200, description = "A page.", body = AuditEventList),
        (status = 422, description = "Invalid filters or cursor.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/audit-events")]
pub async fn events(
    ports: web::Data<Ports>,
    who: Authenticated,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let scope = ListScope::of("audit_events_list", who.clinic_id());
    let filter = AuditFilter {
        actor: q.actor.map(AccountId),
        action: q.action,
        resource_type: q.resource_type,
        resource_id: q.resource_id,
        outcome: q.outcome.map(Into::into),
        from: q.from,
        to: q.to,
        before: ports.cursors.open::<Cursor>(&scope, q.cursor.as_deref())?,
        limit: page_limit(q.limit, 50)?,
    };
    let page = ports
        .call_as(&who, move |services, actor| {
            services.audit.audit_events(actor, filter)
        })
        .await?;
    Ok(HttpResponse::Ok().json(list(&ports, &scope, page)?))
}

/// Who read or changed a patient's record.
#[utoipa::path(
    operation_id = "patients_access_log",
    tag = "audit",
    summary = "A patient's access log",
    description = "Every recorded read of this patient's clinical data (including lists that showed it) and every change, newest first.",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("audit.read"))),
    params(("id" = Uuid, Path, description = "Patient id."), LogQuery),
    responses(
        (status = 200, description = "A page.", body = AuditEventList),
        (status = 404, description = "No such patient.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid cursor or limit.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/patients/{id}/access-log")]
pub async fn patient_access_log(
    ports: web::Data<Ports>,
    who: Authenticated,
    id: web::Path<Uuid>,
    query: web::Query<LogQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let id = id.into_inner();
    let scope = ListScope::within("patients_access_log", who.clinic_id(), id);
    let before = ports.cursors.open::<Cursor>(&scope, q.cursor.as_deref())?;
    let limit = page_limit(q.limit, 50)?;
    let page = ports
        .call_as(&who, move |services, actor| {
            services
                .audit
                .patient_access_log(actor, PatientId(id), before, limit)
        })
        .await?;
    Ok(HttpResponse::Ok().json(list(&ports, &scope, page)?))
}

/// The member's own sign-in history.
#[utoipa::path(
    operation_id = "me_sign_ins",
    tag = "me",
    summary = "My sign-ins",
    description = "Sign-ins, failed attempts, lock-outs and MFA checks of the signed-in account (in this clinic, and attempts that named no clinic), newest first.",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("self"))),
    params(LogQuery),
    responses(
        (status = 200, description = "A page.", body = AuditEventList),
        (status = 422, description = "Invalid cursor or limit.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/me/sign-ins")]
pub async fn my_sign_ins(
    ports: web::Data<Ports>,
    who: Member,
    query: web::Query<LogQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let scope = ListScope::within("me_sign_ins", who.clinic_id(), who.account_id().uuid());
    let before = ports.cursors.open::<Cursor>(&scope, q.cursor.as_deref())?;
    let limit = page_limit(q.limit, 50)?;
    let page = ports
        .call_as(&who, move |services, actor| {
            services.audit.my_sign_ins(actor, before, limit)
        })
        .await?;
    Ok(HttpResponse::Ok().json(list(&ports, &scope, page)?))
}

fn chosen_format(req: &HttpRequest) -> Result<Format, ApiError> {
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/x-ndjson");
    if accept.contains("text/csv") {
        Ok(Format::Csv)
    } else if accept.contains("application/x-ndjson")
        || accept.contains("*/*")
        || accept.contains("application/*")
    {
        Ok(Format::Ndjson)
    } else {
        Err(ApiError::NotAcceptable)
    }
}

/// The clinic's whole audit trail, streamed.
#[utoipa::path(
    operation_id = "audit_events_export",
    tag = "audit",
    summary = "Export the audit trail",
    description = "The clinic's whole history in chain order with the chain hashes, so it can be verified offline: NDJSON (`Accept: application/x-ndjson`, the default; the first line holds the signed checkpoints and the public keys) or CSV (`Accept: text/csv`). Streamed in batches: memory stays flat however long the history. Needs a recent MFA check (step-up).",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("audit.export"))),
    responses(
        (status = 200, description = "The history, streamed.", content((String = "application/x-ndjson"), (String = "text/csv"))),
        (status = 403, description = "Missing permission, or no recent MFA check (`step_up_required`).", body = Problem, content_type = "application/problem+json"),
        (status = 406, description = "Neither NDJSON nor CSV is acceptable.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/audit-events/export")]
pub async fn export(
    req: HttpRequest,
    ports: web::Data<Ports>,
    client: Client,
    who: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let format = chosen_format(&req)?;
    let (actor, checkpoints) = ports
        .call_as(&who, move |services, actor| {
            let checkpoints = services
                .audit
                .start_audit_export(actor, format.name(), &client.0)?;
            Ok((actor.clone(), checkpoints))
        })
        .await?;
    let keys = ports.services.audit.sealer().public_keys();
    let first = Bytes::from(format.preamble(actor.clinic_id, &checkpoints, keys));
    let batches = futures_util::stream::unfold(Some(0i64), move |after| {
        let ports = ports.clone();
        let actor = actor.clone();
        async move {
            let after = after?;
            let batch = ports
                .call(move |services| {
                    services
                        .audit
                        .audit_export_batch(&actor, after, EXPORT_BATCH)
                })
                .await;
            match batch {
                Ok(batch) if batch.events.is_empty() => None,
                Ok(batch) => {
                    let next = batch.events.last().map(|e| e.seq);
                    let mut chunk = Vec::with_capacity(batch.events.len() * 512);
                    for e in &batch.events {
                        chunk.extend_from_slice(&format.line(e));
                    }
                    Some((Ok(Bytes::from(chunk)), next))
                }
                Err(e) => {
                    tracing::error!(error = %e, "audit export stopped");
                    Some((Err(e), None))
                }
            }
        }
    });
    let body = futures_util::stream::once(async move { Ok::<_, ApiError>(first) }).chain(batches);
    Ok(HttpResponse::Ok()
        .content_type(format.media_type())
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .streaming(body))
}
