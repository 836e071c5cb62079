//! The incident register's routes: the operators' under
//! `/api/v1/platform/incidents` (declare, read, timeline, status, breach,
//! authority notification, clinics' notifications, evidence, post-mortem), and
//! `GET /api/v1/incidents`, where a clinic's owners read those that concern it.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use salus_domain::ids::{ClinicId, IncidentId};
use salus_domain::platform::{IncidentView, NewIncident};
use salus_domain::ports::incidents::{
    AffectedClinic, Incident, IncidentStatus, Notice, PersonalData, Severity,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use crate::auth::client::Client;
use crate::auth::extractor::Authenticated;
use crate::auth::operator::Operator;
use crate::json::ValidatedJson;
use crate::problem::{ApiError, Problem};
use crate::state::Ports;

/// How bad an incident is (see `docs/operations.md`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
pub enum SeverityDto {
    /// A confirmed or likely breach, or the service down for every clinic.
    P1,
    /// A partial outage, or a suspected breach.
    P2,
    /// Degraded service.
    P3,
    /// A minor issue.
    P4,
}

impl From<SeverityDto> for Severity {
    fn from(s: SeverityDto) -> Self {
        match s {
            SeverityDto::P1 => Self::P1,
            SeverityDto::P2 => Self::P2,
            SeverityDto::P3 => Self::P3,
            SeverityDto::P4 => Self::P4,
        }
    }
}

/// Where an incident stands.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IncidentStatusDto {
    /// Declared, being handled.
    Open,
    /// The harm no longer spreads.
    Contained,
    /// The cause is removed.
    Resolved,
    /// Done (needs the post-mortem).
    Closed,
}

impl From<IncidentStatusDto> for IncidentStatus {
    fn from(s: IncidentStatusDto) -> Self {
        match s {
            IncidentStatusDto::Open => Self::Open,
            IncidentStatusDto::Contained => Self::Contained,
            IncidentStatusDto::Resolved => Self::Resolved,
            IncidentStatusDto::Closed => Self::Closed,
        }
    }
}

/// Whether personal data is involved.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PersonalDataDto {
    /// None involved.
    None,
    /// A breach is suspected.
    Suspected,
    /// A breach is confirmed.
    Confirmed,
}

impl From<PersonalDataDto> for PersonalData {
    fn from(p: PersonalDataDto) -> Self {
        match p {
            PersonalDataDto::None => Self::None,
            PersonalDataDto::Suspected => Self::Suspected,
            PersonalDataDto::Confirmed => Self::Confirmed,
        }
    }
}

/// An incident as an operator declares it.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"title": "API unreachable for every clinic", "severity": "P1", "clinic_ids": ["0190f5a2-7c4e-7a31-9c1d-2b8e4f6a9d10"], "personal_data": "none", "text": "Health checks fail since 09:12 UTC."}))]
pub struct DeclareIncidentRequest {
    /// What happened, in a line.
    #[validate(length(min = 1, max = 200))]
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    /// How bad.
    pub severity: SeverityDto,
    /// The clinics it affects.
    #[validate(length(min = 1, max = 1000))]
    #[schema(min_items = 1, max_items = 1000)]
    pub clinic_ids: Vec<Uuid>,
    /// Whether personal data is involved (`confirmed` starts the 72-hour clocks now).
    pub personal_data: PersonalDataDto,
    /// The timeline's first entry.
    #[validate(length(min = 1, max = 10000))]
    #[schema(min_length = 1, max_length = 10000)]
    pub text: String,
}

/// A timeline entry.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"text": "Failover to the standby database started."}))]
pub struct IncidentEntryRequest {
    /// What happened.
    #[validate(length(min = 1, max = 10000))]
    #[schema(min_length = 1, max_length = 10000)]
    pub text: String,
}

/// A new status.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"status": "contained"}))]
pub struct IncidentStatusRequest {
    /// The status.
    pub status: IncidentStatusDto,
}

/// The post-mortem.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"root_cause": "An expired certificate on the database proxy.", "preventive_measures": "Certificate expiry is monitored and alerted 30 days ahead."}))]
pub struct PostmortemRequest {
    /// The root cause.
    #[validate(length(min = 1, max = 10000))]
    #[schema(min_length = 1, max_length = 10000)]
    pub root_cause: String,
    /// The preventive measures.
    #[validate(length(min = 1, max = 10000))]
    #[schema(min_length = 1, max_length = 10000)]
    pub preventive_measures: String,
}

/// The supervisory authority's notification.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"at": "2031-03-03T10:00:00Z", "reference": "DPA-2031-0042"}))]
pub struct AuthorityNotificationRequest {
    /// When the authority was notified.
    pub at: DateTime<Utc>,
    /// The authority's reference.
    #[validate(length(min = 1, max = 200))]
    #[schema(min_length = 1, max_length = 200)]
    pub reference: String,
}

/// What the clinics are told (GDPR articles 33 and 34).
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"nature": "Unauthorised access to the appointment service.", "categories_and_numbers": "About 120 patients: names and appointment times.", "likely_consequences": "Unwanted contact; no clinical data was exposed.", "measures_taken": "Access revoked, credentials rotated, logs preserved.", "contact": "security@salus.example, +33 1 23 45 67 89"}))]
pub struct NoticeBody {
    /// The nature of the incident or breach.
    #[validate(length(min = 1, max = 4000))]
    #[schema(min_length = 1, max_length = 4000)]
    pub nature: String,
    /// The categories and approximate numbers of people and records concerned.
    #[validate(length(min = 1, max = 4000))]
    #[schema(min_length = 1, max_length = 4000)]
    pub categories_and_numbers: String,
    /// The likely consequences.
    #[validate(length(min = 1, max = 4000))]
    #[schema(min_length = 1, max_length = 4000)]
    pub likely_consequences: String,
    /// The measures taken or proposed.
    #[validate(length(min = 1, max = 4000))]
    #[schema(min_length = 1, max_length = 4000)]
    pub measures_taken: String,
    /// Whom to contact for more.
    #[validate(length(min = 1, max = 4000))]
    #[schema(min_length = 1, max_length = 4000)]
    pub contact: String,
}

impl From<NoticeBody> for Notice {
    fn from(n: NoticeBody) -> Self {
        Self {
            nature: n.nature,
            categories_and_numbers: n.categories_and_numbers,
            likely_consequences: n.likely_consequences,
            measures_taken: n.measures_taken,
            contact: n.contact,
        }
    }
}

impl From<Notice> for NoticeBody {
    fn from(n: Notice) -> Self {
        Self {
            nature: n.nature,
            categories_and_numbers: n.categories_and_numbers,
            likely_consequences: n.likely_consequences,
            measures_taken: n.measures_taken,
            contact: n.contact,
        }
    }
}

/// A deadline of an incident.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeadlineResponse {
    /// `clinics_p1` (a P1's clinics within 4 hours of declaration),
    /// `clinics_breach` (a confirmed breach's clinics within 72 hours of
    /// awareness) or `authority` (the authority within 72 hours of awareness).
    pub kind: &'static str,
    /// Due then.
    pub due_at: DateTime<Utc>,
    /// Met then (null: not yet).
    pub met_at: Option<DateTime<Utc>>,
    /// Not met and past due.
    pub overdue: bool,
}

/// A clinic an incident affects.
#[derive(Debug, Serialize, ToSchema)]
pub struct AffectedClinicResponse {
    /// The clinic.
    pub clinic_id: Uuid,
    /// When its owners and administrators were last notified.
    pub notified_at: Option<DateTime<Utc>>,
}

/// A timeline entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentEntryResponse {
    /// Its position.
    pub seq: i32,
    /// When.
    pub at: DateTime<Utc>,
    /// By which operator.
    pub operator_id: Uuid,
    /// `declared`, `note`, `status`, `breach`, `authority`, `notification`,
    /// `evidence` or `postmortem`.
    pub kind: &'static str,
    /// What happened.
    pub text: String,
}

/// Evidence preserved.
#[derive(Debug, Serialize, ToSchema)]
pub struct EvidenceResponse {
    /// The clinic.
    pub clinic_id: Uuid,
    /// The events its audit export held.
    pub events: i64,
    /// The SHA-256 of the export's NDJSON bytes, hexadecimal.
    pub sha256: String,
    /// Taken when.
    pub taken_at: DateTime<Utc>,
}

/// An incident as operators read it.
#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentResponse {
    /// Its id.
    pub id: Uuid,
    /// What happened.
    pub title: String,
    /// `P1` to `P4`.
    pub severity: &'static str,
    /// `open`, `contained`, `resolved` or `closed`.
    pub status: &'static str,
    /// `none`, `suspected` or `confirmed`.
    pub personal_data: &'static str,
    /// Declared when.
    pub declared_at: DateTime<Utc>,
    /// By which operator.
    pub declared_by: Uuid,
    /// When the breach was confirmed.
    pub aware_at: Option<DateTime<Utc>>,
    /// When the authority was notified.
    pub authority_notified_at: Option<DateTime<Utc>>,
    /// The authority's reference.
    pub authority_reference: Option<String>,
    /// The post-mortem's root cause.
    pub root_cause: Option<String>,
    /// The post-mortem's preventive measures.
    pub preventive_measures: Option<String>,
    /// Closed when.
    pub closed_at: Option<DateTime<Utc>>,
    /// The clinics it affects.
    pub clinics: Vec<AffectedClinicResponse>,
    /// The timeline.
    pub timeline: Vec<IncidentEntryResponse>,
    /// The evidence preserved.
    pub evidence: Vec<EvidenceResponse>,
    /// The deadlines, now.
    pub deadlines: Vec<DeadlineResponse>,
}

impl From<IncidentView> for IncidentResponse {
    fn from(v: IncidentView) -> Self {
        let i = v.incident;
        Self {
            id: i.id.uuid(),
            title: i.title,
            severity: i.severity.as_str(),
            status: i.status.as_str(),
            personal_data: i.personal_data.as_str(),
            declared_at: i.declared_at,
            declared_by: i.declared_by.uuid(),
            aware_at: i.aware_at,
            authority_notified_at: i.authority_notified_at,
            authority_reference: i.authority_reference,
            root_cause: i.root_cause,
            preventive_measures: i.preventive_measures,
            closed_at: i.closed_at,
            clinics: v
                .clinics
                .into_iter()
                .map(|c| AffectedClinicResponse {
                    clinic_id: c.clinic_id.uuid(),
                    notified_at: c.notified_at,
                })
                .collect(),
            timeline: v
                .entries
                .into_iter()
                .map(|e| IncidentEntryResponse {
                    seq: e.seq,
                    at: e.at,
                    operator_id: e.operator_id.uuid(),
                    kind: e.kind,
                    text: e.text,
                })
                .collect(),
            evidence: v
                .evidence
                .into_iter()
                .map(|e| EvidenceResponse {
                    clinic_id: e.clinic_id.uuid(),
                    events: e.events,
                    sha256: salus_domain::audit::export::hex(&e.sha256),
                    taken_at: e.taken_at,
                })
                .collect(),
            deadlines: v
                .deadlines
                .into_iter()
                .map(|d| DeadlineResponse {
                    kind: d.kind.as_str(),
                    due_at: d.due_at,
                    met_at: d.met_at,
                    overdue: d.overdue,
                })
                .collect(),
        }
    }
}

/// An incident as a clinic's owners read it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClinicIncidentResponse {
    /// Its id.
    pub id: Uuid,
    /// What happened.
    pub title: String,
    /// `P1` to `P4`.
    pub severity: &'static str,
    /// `open`, `contained`, `resolved` or `closed`.
    pub status: &'static str,
    /// `none`, `suspected` or `confirmed`.
    pub personal_data: &'static str,
    /// Declared when.
    pub declared_at: DateTime<Utc>,
    /// When the breach was confirmed.
    pub aware_at: Option<DateTime<Utc>>,
    /// When the clinic was last notified.
    pub notified_at: Option<DateTime<Utc>>,
    /// What it was told (null: not notified yet).
    pub notice: Option<NoticeBody>,
    /// Closed when.
    pub closed_at: Option<DateTime<Utc>>,
}

impl From<(Incident, AffectedClinic)> for ClinicIncidentResponse {
    fn from((i, c): (Incident, AffectedClinic)) -> Self {
        Self {
            id: i.id.uuid(),
            title: i.title,
            severity: i.severity.as_str(),
            status: i.status.as_str(),
            personal_data: i.personal_data.as_str(),
            declared_at: i.declared_at,
            aware_at: i.aware_at,
            notified_at: c.notified_at,
            notice: c.notice.map(Into::into),
            closed_at: i.closed_at,
        }
    }
}

fn ok(view: IncidentView) -> HttpResponse {
    HttpResponse::Ok().json(IncidentResponse::from(view))
}

/// Declares an incident.
#[utoipa::path(
    operation_id = "platform_incidents_declare",
    tag = "platform",
    summary = "Declare an incident (operators)",
    description = "Severity P1 to P4 (definitions in docs/operations.md), the affected clinics, whether personal data is involved, and the timeline's first entry. A P1's clinics are due a notification within 4 hours; a confirmed breach's clinics and the authority within 72 hours of awareness. Recorded in the platform's audit chain.",
    security(("operator" = [])),
    extensions(("x-permission" = json!("platform.incidents.manage"))),
    request_body = DeclareIncidentRequest,
    responses(
        (status = 201, description = "Declared.", body = IncidentResponse),
    )
)]
#[post("/api/v1/platform/incidents")]
pub async fn declare(
    ports: web::Data<Ports>,
    client: Client,
    who: Operator,
    body: ValidatedJson<DeclareIncidentRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let new = NewIncident {
        title: body.title,
        severity: body.severity.into(),
        clinics: body.clinic_ids.into_iter().map(ClinicId).collect(),
        personal_data: body.personal_data.into(),
        text: body.text,
    };
    let view = ports
        .call(move |services| services.platform.declare_incident(&who.0, new, &client.0))
        .await?;
    Ok(HttpResponse::Created().json(IncidentResponse::from(view)))
}

/// The incident register.
#[utoipa::path(
    operation_id = "platform_incidents_list",
    tag = "platform",
    summary = "List the incidents (operators)",
    description = "Every incident, the latest declared first, with its clinics, timeline, evidence and deadlines. Recorded in the platform's audit chain.",
    security(("operator" = [])),
    extensions(("x-permission" = json!("platform.incidents.read"))),
    responses(
        (status = 200, description = "The incidents.", body = Vec<IncidentResponse>),
    )
)]
#[get("/api/v1/platform/incidents")]
pub async fn list(
    ports: web::Data<Ports>,
    client: Client,
    who: Operator,
) -> Result<HttpResponse, ApiError> {
    let all = ports
        .call(move |services| services.platform.incidents(&who.0, &client.0))
        .await?;
    let body: Vec<IncidentResponse> = all.into_iter().map(Into::into).collect();
    Ok(HttpResponse::Ok().json(body))
}

/// One incident.
#[utoipa::path(
    operation_id = "platform_incidents_read",
    tag = "platform",
    summary = "One incident (operators)",
    description = "The incident with its timeline, its clinics and their notification state, its evidence and its deadlines (due, met, overdue) by the server's clock.",
    security(("operator" = [])),
    extensions(("x-permission" = json!("platform.incidents.read"))),
    params(("id" = Uuid, Path, description = "The incident.")),
    responses(
        (status = 200, description = "The incident.", body = IncidentResponse),
        (status = 404, description = "No such incident.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/platform/incidents/{id}")]
pub async fn read(
    ports: web::Data<Ports>,
    client: Client,
    who: Operator,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = IncidentId(id.into_inner());
    let view = ports
        .call(move |services| services.platform.incident(&who.0, id, &client.0))
        .await?;
    Ok(ok(view))
}

/// Adds a timeline entry.
#[utoipa::path(
    operation_id = "platform_incidents_entry",
    tag = "platform",
    summary = "Add to an incident's timeline (operators)",
    security(("operator" = [])),
    extensions(("x-permission" = json!("platform.incidents.manage"))),
    params(("id" = Uuid, Path, description = "The incident.")),
    request_body = IncidentEntryRequest,
    responses(
        (status = 200, description = "The incident.", body = IncidentResponse),
        (status = 404, description = "No such incident.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The incident is closed (`incident_closed`).", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/platform/incidents/{id}/entries")]
pub async fn add_entry(
    ports: web::Data<Ports>,
    client: Client,
    who: Operator,
    id: web::Path<Uuid>,
    body: ValidatedJson<IncidentEntryRequest>,
) -> Result<HttpResponse, ApiError> {
    let (id, text) = (IncidentId(id.into_inner()), body.into_inner().text);
    let view = ports
        .call(move |services| {
            services
                .platform
                .add_incident_entry(&who.0, id, text, &client.0)
        })
        .await?;
    Ok(ok(view))
}

/// Changes an incident's status.
#[utoipa::path(
    operation_id = "platform_incidents_status",
    tag = "platform",
    summary = "Change an incident's status (operators)",
    description = "Open, contained, resolved, closed. Closing needs the post-mortem first (`postmortem_required`); a closed incident no longer changes (`incident_closed`).",
    security(("operator" = [])),
    extensions(("x-permission" = json!("platform.incidents.manage"))),
    params(("id" = Uuid, Path, description = "The incident.")),
    request_body = IncidentStatusRequest,
    responses(
        (status = 200, description = "The incident.", body = IncidentResponse),
        (status = 404, description = "No such incident.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No post-mortem yet (`postmortem_required`), or the incident is closed (`incident_closed`).", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/platform/incidents/{id}/status")]
pub async fn set_status(
    ports: web::Data<Ports>,
    client: Client,
    who: Operator,
    id: web::Path<Uuid>,
    body: ValidatedJson<IncidentStatusRequest>,
) -> Result<HttpResponse, ApiError> {
    let (id, status) = (IncidentId(id.into_inner()), body.into_inner().status.into());
    let view = ports
        .call(move |services| {
            services
                .platform
                .set_incident_status(&who.0, id, status, &client.0)
        })
        .await?;
    Ok(ok(view))
}

/// Records the post-mortem.
#[utoipa::path(
    operation_id = "platform_incidents_postmortem",
    tag = "platform",
    summary = "Record an incident's post-mortem (operators)",
    security(("operator" = [])),
    extensions(("x-permission" = json!("platform.incidents.manage"))),
    params(("id" = Uuid, Path, description = "The incident.")),
    request_body = PostmortemRequest,
    responses(
        (status = 200, description = "The incident.", body = IncidentResponse),
        (status = 404, description = "No such incident.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The incident is closed (`incident_closed`).", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/platform/incidents/{id}/postmortem")]
pub async fn postmortem(
    ports: web::Data<Ports>,
    client: Client,
    who: Operator,
    id: web::Path<Uuid>,
    body: ValidatedJson<PostmortemRequest>,
) -> Result<HttpResponse, ApiError> {
    let (id, body) = (IncidentId(id.into_inner()), body.into_inner());
    let view = ports
        .call(move |services| {
            services.platform.record_postmortem(
                &who.0,
                id,
                body.root_cause,
                body.preventive_measures,
                &client.0,
            )
        })
        .await?;
    Ok(ok(view))
}

/// Confirms a breach of personal data.
#[utoipa::path(
    operation_id = "platform_incidents_breach",
    tag = "platform",
    summary = "Confirm a breach (operators)",
    description = "Personal data is confirmed involved now: the clinics and the supervisory authority are due a notification within 72 hours (`breach_already_confirmed` the second time).",
    security(("operator" = [])),
    extensions(("x-permission" = json!("platform.incidents.manage"))),
    params(("id" = Uuid, Path, description = "The incident.")),
    responses(
        (status = 200, description = "The incident.", body = IncidentResponse),
        (status = 404, description = "No such incident.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Confirmed already (`breach_already_confirmed`), or the incident is closed (`incident_closed`).", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/platform/incidents/{id}/breach")]
pub async fn breach(
    ports: web::Data<Ports>,
    client: Client,
    who: Operator,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = IncidentId(id.into_inner());
    let view = ports
        .call(move |services| services.platform.confirm_breach(&who.0, id, &client.0))
        .await?;
    Ok(ok(view))
}

/// Records the supervisory authority's notification.
#[utoipa::path(
    operation_id = "platform_incidents_authority",
    tag = "platform",
    summary = "Record the authority's notification (operators)",
    description = "When the supervisory authority was notified (GDPR art. 33) and its reference.",
    security(("operator" = [])),
    extensions(("x-permission" = json!("platform.incidents.manage"))),
    params(("id" = Uuid, Path, description = "The incident.")),
    request_body = AuthorityNotificationRequest,
    responses(
        (status = 200, description = "The incident.", body = IncidentResponse),
        (status = 404, description = "No such incident.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The incident is closed (`incident_closed`).", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/platform/incidents/{id}/authority-notification")]
pub async fn authority_notification(
    ports: web::Data<Ports>,
    client: Client,
    who: Operator,
    id: web::Path<Uuid>,
    body: ValidatedJson<AuthorityNotificationRequest>,
) -> Result<HttpResponse, ApiError> {
    let (id, body) = (IncidentId(id.into_inner()), body.into_inner());
    let view = ports
        .call(move |services| {
            services.platform.record_authority_notification(
                &who.0,
                id,
                body.at,
                body.reference,
                &client.0,
            )
        })
        .await?;
    Ok(ok(view))
}

/// Notifies the affected clinics.
#[utoipa::path(
    operation_id = "platform_incidents_notify",
    tag = "platform",
    summary = "Notify the affected clinics (operators)",
    description = "One email through the outbox to every active owner and administrator of each affected clinic, with the content GDPR articles 33 and 34 ask for (nature; categories and approximate numbers; likely consequences; measures taken; contact). Each clinic's delivery is recorded (its notification time, a timeline entry) and lands in its own audit trail (`incident.clinic_notified`).",
    security(("operator" = [])),
    extensions(("x-permission" = json!("platform.incidents.manage"))),
    params(("id" = Uuid, Path, description = "The incident.")),
    request_body = NoticeBody,
    responses(
        (status = 200, description = "The incident.", body = IncidentResponse),
        (status = 404, description = "No such incident.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The incident is closed (`incident_closed`).", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/platform/incidents/{id}/notifications")]
pub async fn notify(
    ports: web::Data<Ports>,
    client: Client,
    who: Operator,
    id: web::Path<Uuid>,
    body: ValidatedJson<NoticeBody>,
) -> Result<HttpResponse, ApiError> {
    let (id, notice) = (IncidentId(id.into_inner()), body.into_inner().into());
    let view = ports
        .call(move |services| {
            services
                .platform
                .notify_clinics(&who.0, id, notice, &client.0)
        })
        .await?;
    Ok(ok(view))
}

/// Preserves evidence.
#[utoipa::path(
    operation_id = "platform_incidents_evidence",
    tag = "platform",
    summary = "Preserve evidence (operators)",
    description = "For each affected clinic, the SHA-256 and event count of its audit export (NDJSON, as GET /api/v1/audit-events/export streams it) as it stands now; the preservation lands in the clinic's own trail.",
    security(("operator" = [])),
    extensions(("x-permission" = json!("platform.incidents.manage"))),
    params(("id" = Uuid, Path, description = "The incident.")),
    responses(
        (status = 200, description = "The incident.", body = IncidentResponse),
        (status = 404, description = "No such incident.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The incident is closed (`incident_closed`).", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/platform/incidents/{id}/evidence")]
pub async fn evidence(
    ports: web::Data<Ports>,
    client: Client,
    who: Operator,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = IncidentId(id.into_inner());
    let view = ports
        .call(move |services| services.platform.preserve_evidence(&who.0, id, &client.0))
        .await?;
    Ok(ok(view))
}

/// The incidents that concern the member's clinic.
#[utoipa::path(
    operation_id = "incidents_list",
    tag = "audit",
    summary = "The incidents that concern the clinic",
    description = "Every platform incident that affects this clinic, the latest declared first: title, severity, status, dates and the notification the clinic was sent. Recorded in the clinic's audit trail (`incident.clinic_list_read`).",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("audit.read"))),
    responses(
        (status = 200, description = "The incidents.", body = Vec<ClinicIncidentResponse>),
    )
)]
#[get("/api/v1/incidents")]
pub async fn clinic_list(
    ports: web::Data<Ports>,
    client: Client,
    who: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let found = ports
        .call_as(&who, move |services, actor| {
            services.platform.clinic_incidents(actor, &client.0)
        })
        .await?;
    let body: Vec<ClinicIncidentResponse> = found.into_iter().map(Into::into).collect();
    Ok(HttpResponse::Ok().json(body))
}
