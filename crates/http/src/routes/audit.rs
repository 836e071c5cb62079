//! The audit trail over HTTP: the clinic's events (filtered, paged), a patient's
//! access log, a member's own sign-ins, and the streamed, verifiable export.

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, get, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use salus_domain::Actor;
use salus_domain::audit::chain::{canonical, format_time};
use salus_domain::audit::service::EventPage;
use salus_domain::audit::{AuditEvent, Outcome};
use salus_domain::ids::{AccountId, PatientId};
use salus_domain::ports::audit::{AuditFilter, Checkpoint, Cursor};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::client::Client;
use crate::auth::extractor::Authenticated;
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

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn response(e: AuditEvent) -> AuditEventResponse {
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

fn list(ports: &Ports, scope: &ListScope, page: EventPage) -> Result<AuditEventList, ApiError> {
    Ok(AuditEventList {
        next_cursor: ports.cursors.seal(scope, page.next.as_ref())?,
        items: page.items.into_iter().map(response).collect(),
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
    let scope = ListScope::of("audit_events_list", who.0.clinic_id);
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
        .call(move |services| services.audit.audit_events(&who.0, filter))
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
    let scope = ListScope::within("patients_access_log", who.0.clinic_id, id);
    let before = ports.cursors.open::<Cursor>(&scope, q.cursor.as_deref())?;
    let limit = page_limit(q.limit, 50)?;
    let page = ports
        .call(move |services| {
            services
                .audit
                .patient_access_log(&who.0, PatientId(id), before, limit)
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
    who: Authenticated,
    query: web::Query<LogQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let scope = ListScope::within("me_sign_ins", who.0.clinic_id, who.0.account_id.uuid());
    let before = ports.cursors.open::<Cursor>(&scope, q.cursor.as_deref())?;
    let limit = page_limit(q.limit, 50)?;
    let page = ports
        .call(move |services| services.audit.my_sign_ins(&who.0, before, limit))
        .await?;
    Ok(HttpResponse::Ok().json(list(&ports, &scope, page)?))
}

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Ndjson,
    Csv,
}

const CSV_COLUMNS: &str = "chain_id,seq,id,clinic_id,occurred_at,account_id,membership_id,session_id,client_ip,user_agent,request_id,action,resource_type,resource_id,outcome,details,prev_hash,hash\r\n";

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// One event as a CSV row, in the order of `CSV_COLUMNS`.
fn csv_row(e: &AuditEvent) -> Vec<u8> {
    let ev = &e.event;
    let id = |u: Option<Uuid>| u.map(|u| u.to_string()).unwrap_or_default();
    let text = |t: &Option<String>| t.clone().unwrap_or_default();
    let fields = [
        e.chain_id.to_string(),
        e.seq.to_string(),
        ev.id.to_string(),
        id(ev.clinic_id.map(Uuid::from)),
        format_time(ev.occurred_at),
        id(ev.account_id.map(Uuid::from)),
        id(ev.membership_id.map(Uuid::from)),
        id(ev.session_id.map(Uuid::from)),
        text(&ev.client_ip),
        text(&ev.user_agent),
        text(&ev.request_id),
        ev.action.clone(),
        text(&ev.resource_type),
        id(ev.resource_id),
        ev.outcome.as_str().to_owned(),
        ev.details.clone(),
        hex(&e.prev_hash),
        hex(&e.hash),
    ];
    let mut line = fields
        .iter()
        .map(|f| csv_field(f))
        .collect::<Vec<_>>()
        .join(",")
        .into_bytes();
    line.extend_from_slice(b"\r\n");
    line
}

/// One event as an export line: NDJSON is the canonical encoding with
/// `prev_hash` and `hash` appended (drop those two members to get the hashed
/// bytes back); CSV has the same fields as columns.
fn export_line(e: &AuditEvent, format: Format) -> Vec<u8> {
    match format {
        Format::Ndjson => {
            let mut encoded = canonical(e.chain_id, e.seq, &e.event);
            encoded.pop();
            encoded.extend_from_slice(
                format!(
                    ",\"prev_hash\":\"{}\",\"hash\":\"{}\"}}\n",
                    hex(&e.prev_hash),
                    hex(&e.hash)
                )
                .as_bytes(),
            );
            encoded
        }
        Format::Csv => csv_row(e),
    }
}

#[derive(Serialize)]
struct ExportCheckpoint {
    seq: i64,
    hash: String,
    sealed_at: String,
    key_id: String,
    signature: String,
}

fn export_header(actor: &Actor, checkpoints: &[Checkpoint], keys: Vec<(String, String)>) -> Bytes {
    let header = serde_json::json!({
        "export": {
            "clinic_id": actor.clinic_id.0,
            "encoding": "each line after this one is the event's canonical JSON with prev_hash and hash appended; hash = SHA-256(prev_hash bytes || the line without those two members); see docs/security.md",
            "checkpoint_signature": "Ed25519 over 'salus-audit-checkpoint-v1' || chain id (16 bytes) || seq (i64 BE) || hash (32 bytes) || sealed_at (microseconds since the epoch, i64 BE)",
            "public_keys": keys
                .into_iter()
                .map(|(id, key)| (id, serde_json::Value::String(key)))
                .collect::<serde_json::Map<String, serde_json::Value>>(),
            "checkpoints": checkpoints.iter().map(|c| ExportCheckpoint {
                seq: c.seq,
                hash: hex(&c.hash),
                sealed_at: format_time(c.sealed_at),
                key_id: c.key_id.clone(),
                signature: STANDARD.encode(&c.signature),
            }).collect::<Vec<_>>(),
        }
    });
    let mut line = serde_json::to_vec(&header).unwrap_or_default();
    line.push(b'\n');
    Bytes::from(line)
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
    let actor = who.0;
    let starter = actor.clone();
    let name = if format == Format::Csv {
        "csv"
    } else {
        "ndjson"
    };
    let checkpoints = ports
        .call(move |services| services.audit.start_audit_export(&starter, name, &client.0))
        .await?;
    let keys = ports.services.audit.sealer().public_keys();
    let first = match format {
        Format::Ndjson => export_header(&actor, &checkpoints, keys),
        Format::Csv => Bytes::from_static(CSV_COLUMNS.as_bytes()),
    };
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
                        chunk.extend_from_slice(&export_line(e, format));
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
    let content_type = match format {
        Format::Ndjson => "application/x-ndjson",
        Format::Csv => "text/csv; charset=utf-8",
    };
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .streaming(body))
}
