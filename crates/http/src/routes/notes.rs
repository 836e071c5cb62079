//! Clinical notes.

use actix_web::{HttpResponse, get, post, put, web};
use chrono::{DateTime, Utc};
use salus_domain::ids::{AppointmentId, NoteId, PatientId};
use salus_domain::ports::notes::Note;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use crate::auth::client::Client;
use crate::auth::extractor::Authenticated;
use crate::json::ValidatedJson;
use crate::preconditions::{IfMatch, with_etag};
use crate::problem::{ApiError, Problem};
use crate::state::Ports;

/// A new note.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"body": "Consultation for a persistent cough; chest clear on auscultation.", "appointment_id": "0192f3a4-2222-7333-8444-555566667777"}))]
pub struct NoteRequest {
    /// The text (stored encrypted).
    #[validate(length(min = 1, max = 16000))]
    #[schema(min_length = 1, max_length = 16000)]
    pub body: String,
    /// The appointment it belongs to, if any.
    pub appointment_id: Option<Uuid>,
}

/// A draft's new text, and whether to sign it now.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"body": "Blood pressure 128/82. Continue the current treatment.", "sign": true}))]
pub struct EditNoteRequest {
    /// New text (omitted: unchanged).
    #[validate(length(min = 1, max = 16000))]
    #[schema(min_length = 1, max_length = 16000)]
    pub body: Option<String>,
    /// Sign the note: it becomes immutable.
    #[serde(default)]
    pub sign: bool,
}

/// An amendment of a signed note.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"body": "Correction: blood pressure was 126/82."}))]
pub struct AmendmentRequest {
    /// The correction.
    #[validate(length(min = 1, max = 16000))]
    #[schema(min_length = 1, max_length = 16000)]
    pub body: String,
}

/// A note.
#[derive(Debug, Serialize, ToSchema)]
pub struct NoteResponse {
    /// Its id.
    pub id: Uuid,
    /// The patient.
    pub patient_id: Uuid,
    /// The appointment, if any.
    pub appointment_id: Option<Uuid>,
    /// The author (membership).
    pub author_id: Uuid,
    /// The note this one amends.
    pub amends_id: Option<Uuid>,
    /// The text.
    pub body: String,
    /// Signed when (then immutable).
    pub signed_at: Option<DateTime<Utc>>,
    /// Written.
    pub created_at: DateTime<Utc>,
    /// Its version: its ETag is `"v<version>"`, to send in `If-Match` to edit a draft.
    pub version: i32,
    /// Sealed fields that failed their integrity check (the stored ciphertext was
    /// altered at rest): they are absent from this answer, the event is recorded in
    /// the audit trail and a `sealed_data_integrity` security alert is raised.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unavailable_fields: Vec<String>,
}

/// A patient's notes.
#[derive(Debug, Serialize, ToSchema)]
pub struct NoteList {
    /// In writing order; amendments follow what they amend.
    pub items: Vec<NoteResponse>,
    /// Always null.
    pub next_cursor: Option<String>,
}

impl From<Note> for NoteResponse {
    fn from(n: Note) -> Self {
        let s = n.stored;
        NoteResponse {
            id: s.id.0,
            patient_id: s.patient_id.0,
            appointment_id: s.appointment_id.map(Uuid::from),
            author_id: s.author.uuid(),
            amends_id: s.amends_id.map(Uuid::from),
            body: n.body,
            signed_at: s.signed_at,
            created_at: s.created_at,
            version: s.version,
            unavailable_fields: n.unavailable.iter().map(|f| (*f).to_owned()).collect(),
        }
    }
}

/// Writes a draft note.
#[utoipa::path(operation_id = "notes_create", tag = "notes", summary = "Write a clinical note", security(("bearer" = [])),
    extensions(("x-permission" = json!("clinical.write"))),
    params(("id" = Uuid, Path, description = "The patient.")),
    request_body = NoteRequest,
    responses(
        (status = 201, description = "A draft.", body = NoteResponse),
        (status = 404, description = "No such patient.", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/api/v1/patients/{id}/notes")]
pub async fn write(
    ports: web::Data<Ports>,
    client: Client,
    who: Authenticated,
    id: web::Path<Uuid>,
    body: ValidatedJson<NoteRequest>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let patient = PatientId(id.into_inner());
    let note = ports
        .call_as(&who, move |services, actor| {
            services.notes.write_draft(
                actor,
                patient,
                b.appointment_id.map(AppointmentId),
                &b.body,
                &client.0,
            )
        })
        .await?;
    Ok(HttpResponse::Created().json(NoteResponse::from(note)))
}

/// A patient's notes.
#[utoipa::path(operation_id = "notes_list", tag = "notes", summary = "List a patient's notes", security(("bearer" = [])),
    extensions(("x-permission" = json!("clinical.read"))),
    params(("id" = Uuid, Path, description = "The patient.")),
    responses(
        (status = 200, description = "Notes and amendments in order.", body = NoteList),
        (status = 404, description = "No such patient.", body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/api/v1/patients/{id}/notes")]
pub async fn list(
    ports: web::Data<Ports>,
    who: Authenticated,
    client: Client,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let patient = id.into_inner();
    let notes = ports
        .call_as(&who, move |services, actor| {
            services
                .notes
                .patient_notes(actor, PatientId(patient), &client.0)
        })
        .await?;
    Ok(HttpResponse::Ok().json(NoteList {
        items: notes.into_iter().map(NoteResponse::from).collect(),
        next_cursor: None,
    }))
}

/// Edits or signs a draft.
#[utoipa::path(operation_id = "notes_edit", tag = "notes", summary = "Edit or sign a draft note",
    description = "Only the author; a signed note cannot change (409 `note_signed`).",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("clinical.write"))),
    params(("id" = Uuid, Path, description = "The note."), ("If-Match" = String, Header, description = "The ETag of the version read, or `*`.")),
    request_body = EditNoteRequest,
    responses(
        (status = 200, description = "Changed or signed; new `ETag`.", body = NoteResponse, headers(("ETag" = String, description = "The version: send it back in `If-Match` to change it."))),
        (status = 403, description = "Missing permission, or not the author.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such note.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already signed.", body = Problem, content_type = "application/problem+json"),
    ))]
#[put("/api/v1/notes/{id}")]
pub async fn edit(
    ports: web::Data<Ports>,
    client: Client,
    who: Authenticated,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: ValidatedJson<EditNoteRequest>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let id = id.into_inner();
    let note = ports
        .call_as(&who, move |services, actor| {
            services.notes.edit_note(
                actor,
                NoteId(id),
                b.body.as_deref(),
                b.sign,
                if_match.0,
                &client.0,
            )
        })
        .await?;
    let version = note.stored.version;
    Ok(with_etag(&mut HttpResponse::Ok(), version).json(NoteResponse::from(note)))
}

/// Amends a signed note.
#[utoipa::path(operation_id = "notes_amend", tag = "notes", summary = "Amend a signed note",
    description = "A new signed note linked to the original; both are kept.",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("clinical.write"))),
    params(("id" = Uuid, Path, description = "The signed note.")),
    request_body = AmendmentRequest,
    responses(
        (status = 201, description = "The amendment.", body = NoteResponse),
        (status = 404, description = "No such note.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The note is still a draft.", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/api/v1/notes/{id}/amendments")]
pub async fn amend(
    ports: web::Data<Ports>,
    client: Client,
    who: Authenticated,
    id: web::Path<Uuid>,
    body: ValidatedJson<AmendmentRequest>,
) -> Result<HttpResponse, ApiError> {
    let b = body.into_inner();
    let id = id.into_inner();
    let note = ports
        .call_as(&who, move |services, actor| {
            services
                .notes
                .amend_note(actor, NoteId(id), &b.body, &client.0)
        })
        .await?;
    Ok(HttpResponse::Created().json(NoteResponse::from(note)))
}
