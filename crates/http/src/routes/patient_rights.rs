//! Patients' rights (GDPR, promise D4): restricting processing, exporting the whole
//! record (JSON or FHIR R4), the record's change history, and erasure where the
//! law allows.

use actix_web::http::header;
use actix_web::{HttpResponse, get, post, put, web};
use chrono::{DateTime, Utc};
use salus_domain::ids::PatientId;
use salus_domain::ports::audit::Cursor;
use salus_domain::ports::erasure::{ErasureDecision, ErasureRequest};
use salus_domain::rights::{AccessEntry, ChangeEntry, ErasureStatus, PatientRecord};
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
use crate::routes::appointments::AppointmentResponse;
use crate::routes::audit::{LogQuery, OutcomeDto};
use crate::routes::notes::NoteResponse;
use crate::routes::patients::{PatientResponse, with_etag};
use crate::state::Ports;

/// Whether the patient restricts processing of their record (or objects to it).
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"restricted": true}))]
pub struct RestrictionRequest {
    /// `true` restricts processing to care (no reminders); `false` lifts it.
    pub restricted: bool,
}

/// Restricts or resumes processing of a patient's record.
#[utoipa::path(
    operation_id = "patients_restriction_set",
    tag = "patients",
    summary = "Restrict or resume processing",
    description = "Records the patient's restriction of processing or objection (GDPR articles 18 and 21): while `restricted`, the record serves care only. Setting it withdraws the patient's pending reminders and none is queued while it holds, whatever the consent; lifting it queues them again for appointments still ahead. `If-Match` with the ETag read is required; asking for the state the record is in answers it as it is.",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("patients.update"))),
    params(
        ("id" = Uuid, Path, description = "The patient."),
        ("If-Match" = String, Header, description = "The ETag of the version read, or `*`."),
    ),
    request_body = RestrictionRequest,
    responses(
        (status = 200, description = "The patient as it now stands; new `ETag`.", body = PatientResponse, headers(("ETag" = String, description = "The version: send it back in `If-Match` to change this record."))),
        (status = 404, description = "No such patient.", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The record changed since it was read.", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "`If-Match` missing.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/api/v1/patients/{id}/restriction")]
pub async fn set_restriction(
    ports: web::Data<Ports>,
    client: Client,
    who: Authenticated,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: ValidatedJson<RestrictionRequest>,
) -> Result<HttpResponse, ApiError> {
    let restricted = body.into_inner().restricted;
    let id = id.into_inner();
    let patient = ports
        .call_as(&who, move |services, actor| {
            services
                .rights
                .set_restriction(actor, PatientId(id), restricted, if_match.0, &client.0)
        })
        .await?;
    Ok(with_etag(HttpResponse::Ok(), patient))
}

/// The shape of an export.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    /// The record as this API answers it (`PatientExport`).
    #[default]
    Json,
    /// A FHIR R4 `Bundle` of type `collection` (`application/fhir+json`).
    Fhir,
}

impl ExportFormat {
    fn name(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Fhir => "fhir",
        }
    }
}

/// The export's format.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// `json` (the default) or `fhir`.
    #[param(inline)]
    pub format: Option<ExportFormat>,
}

/// One recorded access to a patient's record.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccessLogEntry {
    /// When (UTC).
    pub occurred_at: DateTime<Utc>,
    /// Action code, e.g. `patient.clinical_read`.
    pub action: String,
    /// How it ended.
    pub outcome: OutcomeDto,
    /// The acting account.
    pub account_id: Option<Uuid>,
    /// The acting membership.
    pub membership_id: Option<Uuid>,
}

impl From<AccessEntry> for AccessLogEntry {
    fn from(e: AccessEntry) -> Self {
        Self {
            occurred_at: e.at,
            action: e.action,
            outcome: e.outcome.into(),
            account_id: e.account.map(Uuid::from),
            membership_id: e.membership.map(Uuid::from),
        }
    }
}

/// A patient's whole record.
#[derive(Debug, Serialize, ToSchema)]
pub struct PatientExport {
    /// When it was exported.
    pub exported_at: DateTime<Utc>,
    /// Demographics, medical history, consent and restriction.
    pub patient: PatientResponse,
    /// Every appointment, in start order, with its reason.
    pub appointments: Vec<AppointmentResponse>,
    /// Every clinical note and amendment, in writing order (an amendment names
    /// the note it amends in `amends_id`).
    pub notes: Vec<NoteResponse>,
    /// Who read or changed the record, newest first, up to this export.
    pub access_log: Vec<AccessLogEntry>,
}

impl From<PatientRecord> for PatientExport {
    fn from(r: PatientRecord) -> Self {
        Self {
            exported_at: r.exported_at,
            patient: r.patient.into(),
            appointments: r.appointments.into_iter().map(Into::into).collect(),
            notes: r.notes.into_iter().map(Into::into).collect(),
            access_log: r.access_log.into_iter().map(Into::into).collect(),
        }
    }
}

/// Exports a patient's whole record.
#[utoipa::path(
    operation_id = "patients_export",
    tag = "patients",
    summary = "Export a patient's record",
    description = "The patient's whole record for the rights of access and portability (GDPR articles 15 and 20): demographics, medical history, appointments with their reasons, clinical notes with their amendments, and the access log (who read or changed the record). `format=json` (the default) answers `PatientExport`; `format=fhir` a FHIR R4 `Bundle` of type `collection` (`application/fhir+json`; the mapping is listed field by field in `docs/api.md`). Needs `clinical.read` as well, and a recent MFA check (step-up). Recorded as `patient.exported`.",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("patients.export"))),
    params(("id" = Uuid, Path, description = "The patient."), ExportQuery),
    responses(
        (status = 200, description = "The record.", content(
            (PatientExport = "application/json"),
            (crate::fhir::Bundle = "application/fhir+json"),
        )),
        (status = 403, description = "Missing permission (`patients.export` or `clinical.read`), or no recent MFA check (`step_up_required`).", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such patient.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/patients/{id}/export")]
pub async fn export(
    ports: web::Data<Ports>,
    client: Client,
    who: Authenticated,
    id: web::Path<Uuid>,
    query: web::Query<ExportQuery>,
) -> Result<HttpResponse, ApiError> {
    let format = query.into_inner().format.unwrap_or_default();
    let id = id.into_inner();
    let record = ports
        .call_as(&who, move |services, actor| {
            services
                .rights
                .export_record(actor, PatientId(id), format.name(), &client.0)
        })
        .await?;
    let mut answer = HttpResponse::Ok();
    answer.insert_header((header::CACHE_CONTROL, "no-store"));
    Ok(match format {
        ExportFormat::Json => answer.json(PatientExport::from(record)),
        ExportFormat::Fhir => {
            let bundle = serde_json::to_string(&crate::fhir::bundle(&record))
                .map_err(|_| ApiError::internal("the FHIR bundle did not serialise"))?;
            answer.content_type(crate::fhir::MEDIA_TYPE).body(bundle)
        }
    })
}

/// One change of a patient's record.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangeResponse {
    /// The id of the audit event that records the change.
    pub id: Uuid,
    /// When (UTC).
    pub occurred_at: DateTime<Utc>,
    /// `patient.created`, `patient.updated`, `patient.archived`, `patient.restored`,
    /// `patient.processing_restricted` or `patient.processing_resumed`.
    pub action: String,
    /// The acting account.
    pub account_id: Option<Uuid>,
    /// The acting membership.
    pub membership_id: Option<Uuid>,
    /// The fields an update changed, by name (never their values); empty for the
    /// other actions.
    pub fields: Vec<String>,
}

impl From<ChangeEntry> for ChangeResponse {
    fn from(c: ChangeEntry) -> Self {
        Self {
            id: c.id.0,
            occurred_at: c.at,
            action: c.action,
            account_id: c.account.map(Uuid::from),
            membership_id: c.membership.map(Uuid::from),
            fields: c.fields,
        }
    }
}

/// A page of a patient's changes.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangeList {
    /// Newest first.
    pub items: Vec<ChangeResponse>,
    /// Pass as `cursor` for the next page; null on the last one.
    pub next_cursor: Option<String>,
}

/// A patient record's change history.
#[utoipa::path(
    operation_id = "patients_history",
    tag = "patients",
    summary = "A patient's change history",
    description = "Who changed the record and when, newest first: registration, each update with the names of the fields it changed (never their values, so no health data), archiving and restoring, restriction of processing. Read from the audit trail; the read is recorded as `patient.history_read`.",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("patients.read"))),
    params(("id" = Uuid, Path, description = "The patient."), LogQuery),
    responses(
        (status = 200, description = "A page.", body = ChangeList),
        (status = 404, description = "No such patient.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid cursor or limit.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/patients/{id}/history")]
pub async fn history(
    ports: web::Data<Ports>,
    client: Client,
    who: Authenticated,
    id: web::Path<Uuid>,
    query: web::Query<LogQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let id = id.into_inner();
    let scope = ListScope::within("patients_history", who.clinic_id(), id);
    let before = ports.cursors.open::<Cursor>(&scope, q.cursor.as_deref())?;
    let limit = page_limit(q.limit, 50)?;
    let page = ports
        .call_as(&who, move |services, actor| {
            services
                .rights
                .patient_history(actor, PatientId(id), before, limit, &client.0)
        })
        .await?;
    Ok(HttpResponse::Ok().json(ChangeList {
        next_cursor: ports.cursors.seal(&scope, page.next.as_ref())?,
        items: page.items.into_iter().map(Into::into).collect(),
    }))
}

/// A patient's erasure request, as a member records it.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "The patient asked in writing on 2030-05-02"}))]
pub struct ErasureRequestBody {
    /// Why, in a few words (never shown in the audit trail; erased with the
    /// patient).
    #[validate(length(min = 1, max = 500))]
    #[schema(min_length = 1, max_length = 500)]
    pub reason: String,
}

/// What the clinic decides.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DecisionDto {
    /// Keep the record (a legal obligation, a claim, ...).
    Refuse,
    /// Erase every row of the patient.
    Erase,
}

impl From<DecisionDto> for ErasureDecision {
    fn from(d: DecisionDto) -> Self {
        match d {
            DecisionDto::Refuse => Self::Refuse,
            DecisionDto::Erase => Self::Erase,
        }
    }
}

impl From<ErasureDecision> for DecisionDto {
    fn from(d: ErasureDecision) -> Self {
        match d {
            ErasureDecision::Refuse => Self::Refuse,
            ErasureDecision::Erase => Self::Erase,
        }
    }
}

/// The clinic's decision on an erasure request.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"decision": "erase", "reason": "No retention obligation remains"}))]
pub struct ErasureDecisionBody {
    /// `refuse` or `erase`.
    pub decision: DecisionDto,
    /// Why, in a few words.
    #[validate(length(min = 1, max = 500))]
    #[schema(min_length = 1, max_length = 500)]
    pub reason: String,
}

/// Where an erasure stands.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErasureState {
    /// Waiting for the clinic's decision.
    Requested,
    /// The clinic refused it; a new request may be recorded.
    Refused,
    /// The patient was erased: only the tombstone remains.
    Erased,
}

/// A patient's erasure: the latest request and its decision, or the tombstone.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErasureResponse {
    /// `requested`, `refused` or `erased`.
    pub state: ErasureState,
    /// The request.
    pub request_id: Uuid,
    /// The patient (once erased, an id that names nothing else).
    pub patient_id: Uuid,
    /// The membership that recorded the request.
    pub requested_by: Uuid,
    /// When it was recorded; null once erased (the tombstone keeps no more).
    pub requested_at: Option<DateTime<Utc>>,
    /// Why it was asked; null once erased.
    pub reason: Option<String>,
    /// The decision, once made.
    pub decision: Option<DecisionDto>,
    /// The membership that decided.
    pub decided_by: Option<Uuid>,
    /// When; for an erasure, when the rows were deleted.
    pub decided_at: Option<DateTime<Utc>>,
    /// Why; null once erased.
    pub decision_reason: Option<String>,
}

impl From<ErasureRequest> for ErasureResponse {
    fn from(r: ErasureRequest) -> Self {
        let state = match &r.decided {
            None => ErasureState::Requested,
            Some(d) if d.decision == ErasureDecision::Refuse => ErasureState::Refused,
            Some(_) => ErasureState::Erased,
        };
        Self {
            state,
            request_id: r.id.0,
            patient_id: r.patient_id.0,
            requested_by: r.requested_by.0,
            requested_at: Some(r.requested_at),
            reason: Some(r.reason),
            decision: r.decided.as_ref().map(|d| d.decision.into()),
            decided_by: r.decided.as_ref().map(|d| d.by.0),
            decided_at: r.decided.as_ref().map(|d| d.at),
            decision_reason: r.decided.map(|d| d.reason),
        }
    }
}

impl From<ErasureStatus> for ErasureResponse {
    fn from(s: ErasureStatus) -> Self {
        match s {
            ErasureStatus::Requested(r) => r.into(),
            ErasureStatus::Erased(t) => Self {
                state: ErasureState::Erased,
                request_id: t.request_id.0,
                patient_id: t.patient_id.0,
                requested_by: t.requested_by.0,
                requested_at: None,
                reason: None,
                decision: Some(DecisionDto::Erase),
                decided_by: Some(t.decided_by.0),
                decided_at: Some(t.erased_at),
                decision_reason: None,
            },
        }
    }
}

/// Records a patient's erasure request.
#[utoipa::path(
    operation_id = "patients_erasure_request",
    tag = "patients",
    summary = "Record an erasure request",
    description = "Records the patient's request to erase their record (GDPR article 17), with a short reason; the clinic then decides (`POST .../erasure/decision`). One request waits at a time. Recorded as `patient.erasure_requested` (the reason stays out of the audit trail).",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("patients.update"))),
    params(("id" = Uuid, Path, description = "The patient.")),
    request_body = ErasureRequestBody,
    responses(
        (status = 201, description = "Recorded.", body = ErasureResponse),
        (status = 404, description = "No such patient.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A request already waits for a decision (`erasure_already_requested`).", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/patients/{id}/erasure")]
pub async fn request_erasure(
    ports: web::Data<Ports>,
    client: Client,
    who: Authenticated,
    id: web::Path<Uuid>,
    body: ValidatedJson<ErasureRequestBody>,
) -> Result<HttpResponse, ApiError> {
    let reason = body.into_inner().reason;
    let id = id.into_inner();
    let request = ports
        .call_as(&who, move |services, actor| {
            services
                .rights
                .request_erasure(actor, PatientId(id), &reason, &client.0)
        })
        .await?;
    Ok(HttpResponse::Created().json(ErasureResponse::from(request)))
}

/// A patient's erasure request and its decision.
#[utoipa::path(
    operation_id = "patients_erasure_read",
    tag = "patients",
    summary = "Get a patient's erasure",
    description = "The latest erasure request and the clinic's decision; once the patient is erased, the tombstone (the request's id, who asked and decided, when: no identity and no reasons remain).",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("patients.read"))),
    params(("id" = Uuid, Path, description = "The patient.")),
    responses(
        (status = 200, description = "The request, or the tombstone.", body = ErasureResponse),
        (status = 404, description = "No such patient, or no request was ever recorded.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/patients/{id}/erasure")]
pub async fn read_erasure(
    ports: web::Data<Ports>,
    who: Authenticated,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let status = ports
        .call_as(&who, move |services, actor| {
            services.rights.erasure_status(actor, PatientId(id))
        })
        .await?;
    Ok(HttpResponse::Ok().json(ErasureResponse::from(status)))
}

/// Decides a patient's erasure request.
#[utoipa::path(
    operation_id = "patients_erasure_decide",
    tag = "patients",
    summary = "Decide an erasure request",
    description = "Step-up MFA; owners only by default. `refuse` records the decision and its reason. `erase` is refused (409 `erasure_under_retention`, the detail naming the date) while the medical record is under legal retention: the clinic's `record_retention_years` (20 by default) after the patient's last appointment or note. Otherwise every row of the patient in every table that names them is deleted at once (appointments and their history and reminders, notes, queue entries, the record and the requests), a tombstone without identity is kept, and a signed entry (`patient_erased`) is kept in the destruction register so no restore brings the patient back. The audit events that name the patient by id stay.",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("patients.erase"))),
    params(("id" = Uuid, Path, description = "The patient.")),
    request_body = ErasureDecisionBody,
    responses(
        (status = 200, description = "Decided: `refused`, or `erased` with the tombstone.", body = ErasureResponse),
        (status = 403, description = "Missing permission, or no recent MFA check (`step_up_required`).", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such patient.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No request waits for a decision (`erasure_not_requested`), or the record is under retention (`erasure_under_retention`).", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/patients/{id}/erasure/decision")]
pub async fn decide_erasure(
    ports: web::Data<Ports>,
    client: Client,
    who: Authenticated,
    id: web::Path<Uuid>,
    body: ValidatedJson<ErasureDecisionBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let id = id.into_inner();
    let status = ports
        .call_as(&who, move |services, actor| {
            services.rights.decide_erasure(
                actor,
                PatientId(id),
                body.decision.into(),
                &body.reason,
                &client.0,
            )
        })
        .await?;
    Ok(HttpResponse::Ok().json(ErasureResponse::from(status)))
}

/// Why a record in the records archive is opened or brought back.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "The patient is back after six years: continuity of care"}))]
pub struct BreakGlassRequest {
    /// The reason, kept in the audit event.
    #[validate(length(min = 1, max = 500))]
    #[schema(min_length = 1, max_length = 500)]
    pub reason: String,
}

/// Opens a record in the records archive, with a reason.
#[utoipa::path(
    operation_id = "patients_break_glass",
    tag = "patients",
    summary = "Open an archived record (break-the-glass)",
    description = "Patients without an encounter for the clinic's `archive_after_years` (5 by default) are in the records archive: out of lists and search (their appointments too), and every operation that reads or changes the record (the patient, its notes, appointments, queue entries, history and export) answers 403 `patient_in_archive`; its access log and the erasure procedure still answer. This answers the record (as `GET` would) to a member with `patients.archive_read` (owner only by default) who states a reason: recorded as `patient.break_glass_read` with the reason, and every owner of the clinic is emailed. It opens any record of the clinic the same way.",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("patients.archive_read"))),
    params(("id" = Uuid, Path, description = "The patient.")),
    request_body = BreakGlassRequest,
    responses(
        (status = 200, description = "The record; `ETag`.", body = PatientResponse, headers(("ETag" = String, description = "The version."))),
        (status = 404, description = "No such patient.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/patients/{id}/break-glass")]
pub async fn break_glass(
    ports: web::Data<Ports>,
    client: Client,
    who: Authenticated,
    id: web::Path<Uuid>,
    body: ValidatedJson<BreakGlassRequest>,
) -> Result<HttpResponse, ApiError> {
    let (reason, id) = (body.into_inner().reason, PatientId(id.into_inner()));
    let patient = ports
        .call_as(&who, move |services, actor| {
            services.rights.break_glass(actor, id, &reason, &client.0)
        })
        .await?;
    Ok(archived_record_answer(patient))
}

/// A record answered to a reason stated for it: never cached.
fn archived_record_answer(patient: salus_domain::ports::patients::Patient) -> HttpResponse {
    let mut answer = HttpResponse::Ok();
    answer.insert_header((header::CACHE_CONTROL, "no-store"));
    with_etag(answer, patient)
}

/// Brings a record back from the records archive, with a reason.
#[utoipa::path(
    operation_id = "patients_return_from_archive",
    tag = "patients",
    summary = "Bring a record back from the records archive",
    description = "For a patient who comes back for care (or asks for their record): the record leaves the records archive and every operation reaches it again (until the archive job moves it once more after `archive_after_years` without an encounter). Needs `patients.archive_read` (owner only by default) and a reason, recorded as `patient.returned_from_archive`; every owner of the clinic is emailed. A record that is not in the archive is answered as it is.",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("patients.archive_read"))),
    params(("id" = Uuid, Path, description = "The patient.")),
    request_body = BreakGlassRequest,
    responses(
        (status = 200, description = "The record, back in use; `ETag`.", body = PatientResponse, headers(("ETag" = String, description = "The version."))),
        (status = 404, description = "No such patient.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/patients/{id}/return-from-archive")]
pub async fn return_from_archive(
    ports: web::Data<Ports>,
    client: Client,
    who: Authenticated,
    id: web::Path<Uuid>,
    body: ValidatedJson<BreakGlassRequest>,
) -> Result<HttpResponse, ApiError> {
    let (reason, id) = (body.into_inner().reason, PatientId(id.into_inner()));
    let patient = ports
        .call_as(&who, move |services, actor| {
            services
                .rights
                .return_from_archive(actor, id, &reason, &client.0)
        })
        .await?;
    Ok(archived_record_answer(patient))
}
