//! Patients: demographics for `patients.*`, medical history for `clinical.*`.
//! Responses carry an `ETag`; updates require `If-Match`.

use actix_web::http::header;
use actix_web::{HttpResponse, get, post, put, web};
use chrono::{DateTime, NaiveDate, Utc};
use salus_domain::ids::PatientId;
use salus_domain::ports::patients::{
    Address, EmergencyContact, MedicalHistory, Patient, PatientFields, PatientKey, PatientQuery,
    Sex,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use crate::auth::client::Client;
use crate::auth::extractor::Authenticated;
use crate::json::ValidatedJson;
use crate::paging::{ListScope, page_limit};
use crate::preconditions::IfMatch;
use crate::problem::{ApiError, FieldError, Problem};
use crate::state::Ports;

/// Administrative sex.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SexDto {
    /// Female.
    Female,
    /// Male.
    Male,
    /// Other.
    Other,
    /// Unknown.
    Unknown,
}

impl From<SexDto> for Sex {
    fn from(s: SexDto) -> Self {
        match s {
            SexDto::Female => Sex::Female,
            SexDto::Male => Sex::Male,
            SexDto::Other => Sex::Other,
            SexDto::Unknown => Sex::Unknown,
        }
    }
}

impl From<Sex> for SexDto {
    fn from(s: Sex) -> Self {
        match s {
            Sex::Female => SexDto::Female,
            Sex::Male => SexDto::Male,
            Sex::Other => SexDto::Other,
            Sex::Unknown => SexDto::Unknown,
        }
    }
}

/// A postal address.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressDto {
    /// Street lines (at most 4, each at most 120 characters).
    #[validate(length(max = 4), custom(function = "short_items"))]
    #[schema(max_items = 4)]
    pub lines: Vec<String>,
    /// Postal code.
    #[validate(length(max = 20))]
    #[schema(max_length = 20)]
    pub postal_code: Option<String>,
    /// City.
    #[validate(length(max = 100))]
    #[schema(max_length = 100)]
    pub city: Option<String>,
    /// Country, ISO 3166-1 alpha-2.
    #[validate(length(equal = 2))]
    #[schema(min_length = 2, max_length = 2)]
    pub country: Option<String>,
}

/// Whom to call in an emergency.
#[derive(Debug, Clone, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmergencyContactDto {
    /// Name.
    #[validate(length(min = 1, max = 200))]
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    /// Relationship.
    #[validate(length(max = 100))]
    #[schema(max_length = 100)]
    pub relationship: Option<String>,
    /// E.164 phone.
    #[validate(length(max = 20))]
    #[schema(max_length = 20)]
    pub phone: Option<String>,
}

/// The longest item of a list of short texts (street lines, allergies, ...), in
/// characters; the contract gives the items this `maxLength`.
pub const SHORT_ITEM_CHARS: usize = 120;

/// `validator` rule: every item of a list is a short text.
fn short_items(items: &[String]) -> Result<(), validator::ValidationError> {
    if items
        .iter()
        .all(|item| item.chars().count() <= SHORT_ITEM_CHARS)
    {
        Ok(())
    } else {
        Err(validator::ValidationError::new("length").with_message(
            format!("each item must be at most {SHORT_ITEM_CHARS} characters").into(),
        ))
    }
}

/// `validator` rule: an email address of [`salus_domain::formats::email_pattern`].
fn email_address(value: &str) -> Result<(), validator::ValidationError> {
    if salus_domain::formats::is_email(value) {
        Ok(())
    } else {
        Err(validator::ValidationError::new("email")
            .with_message("is not a valid email address".into()))
    }
}

/// Medical history (clinical data: needs `clinical.read` to see, `clinical.write` to set).
#[derive(Debug, Clone, Default, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MedicalHistoryDto {
    /// Allergies (at most 50, each at most 120 characters).
    #[validate(length(max = 50), custom(function = "short_items"))]
    #[schema(max_items = 50)]
    pub allergies: Vec<String>,
    /// Conditions (at most 50, each at most 120 characters).
    #[validate(length(max = 50), custom(function = "short_items"))]
    #[schema(max_items = 50)]
    pub conditions: Vec<String>,
    /// Medications (at most 50, each at most 120 characters).
    #[validate(length(max = 50), custom(function = "short_items"))]
    #[schema(max_items = 50)]
    pub medications: Vec<String>,
    /// Free text.
    #[validate(length(max = 16000))]
    #[schema(max_length = 16000)]
    pub notes: Option<String>,
}

/// Consent to reminders per channel (off unless given: privacy by default).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReminderConsent {
    /// By email.
    #[serde(default)]
    pub email: bool,
    /// By SMS.
    #[serde(default)]
    pub sms: bool,
}

/// A patient as written (create, or full replacement with `If-Match`).
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"family_name": "Curie", "given_name": "Marie", "birth_date": "1967-11-07", "sex": "female", "national_id": "2671175123456", "phone": "+33612345678", "email": "marie.curie@example.org", "address": {"lines": ["36 quai de Béthune"], "postal_code": "75004", "city": "Paris", "country": "FR"}, "emergency_contact": {"name": "Pierre Curie", "phone": "+33698765432", "relationship": "spouse"}, "preferred_language": "fr", "reminder_consent": {"email": true, "sms": false}, "medical_history": {"allergies": ["penicillin"], "conditions": ["hypertension"], "medications": ["amlodipine 5 mg"], "notes": "Checks blood pressure at home."}}))]
pub struct PatientRequest {
    /// Family name.
    #[validate(length(min = 1, max = 100))]
    #[schema(min_length = 1, max_length = 100)]
    pub family_name: String,
    /// Given name.
    #[validate(length(min = 1, max = 100))]
    #[schema(min_length = 1, max_length = 100)]
    pub given_name: String,
    /// Birth date.
    pub birth_date: NaiveDate,
    /// Administrative sex.
    pub sex: SexDto,
    /// National identification number (stored encrypted; exact search only).
    #[validate(length(min = 1, max = 40))]
    #[schema(min_length = 1, max_length = 40)]
    pub national_id: Option<String>,
    /// E.164 phone.
    #[validate(length(max = 20))]
    #[schema(max_length = 20)]
    pub phone: Option<String>,
    /// Email.
    #[validate(length(max = 254), custom(function = "email_address"))]
    #[schema(max_length = 254)]
    pub email: Option<String>,
    /// Postal address.
    #[validate(nested)]
    pub address: Option<AddressDto>,
    /// Emergency contact.
    #[validate(nested)]
    pub emergency_contact: Option<EmergencyContactDto>,
    /// Preferred language (BCP 47, such as `fr` or `en-GB`).
    #[validate(length(min = 2, max = 35))]
    #[schema(min_length = 2, max_length = 35)]
    pub preferred_language: Option<String>,
    /// Reminder consent per channel.
    #[serde(default)]
    pub reminder_consent: ReminderConsent,
    /// Medical history; omitted on update keeps the stored one. Needs `clinical.write`.
    #[validate(nested)]
    pub medical_history: Option<MedicalHistoryDto>,
}

/// A patient. `medical_history` is present only for members with `clinical.read`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"id": "0192f3a4-5b6c-7d8e-9f01-23456789abcd", "family_name": "Curie", "given_name": "Marie", "birth_date": "1967-11-07", "sex": "female", "national_id": "2671175123456", "phone": "+33612345678", "email": "marie.curie@example.org", "address": {"lines": ["36 quai de Béthune"], "postal_code": "75004", "city": "Paris", "country": "FR"}, "emergency_contact": {"name": "Pierre Curie", "phone": "+33698765432", "relationship": "spouse"}, "preferred_language": "fr", "reminder_consent": {"email": true, "sms": false}, "medical_history": {"allergies": ["penicillin"], "conditions": ["hypertension"], "medications": ["amlodipine 5 mg"], "notes": "Checks blood pressure at home."}, "archived": false, "processing_restricted": false, "version": 3, "created_at": "2026-11-02T08:15:00Z", "updated_at": "2026-11-20T16:40:12Z"}))]
pub struct PatientResponse {
    /// Its id.
    pub id: Uuid,
    /// Family name.
    pub family_name: String,
    /// Given name.
    pub given_name: String,
    /// Birth date.
    pub birth_date: NaiveDate,
    /// Administrative sex.
    pub sex: SexDto,
    /// National identification number.
    pub national_id: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Postal address.
    pub address: Option<AddressDto>,
    /// Emergency contact.
    pub emergency_contact: Option<EmergencyContactDto>,
    /// Preferred language.
    pub preferred_language: Option<String>,
    /// Reminder consent.
    pub reminder_consent: ReminderConsent,
    /// Medical history (only with `clinical.read`; absent otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub medical_history: Option<MedicalHistoryDto>,
    /// Whether the record is archived.
    pub archived: bool,
    /// Whether the patient restricted processing or objected to it (GDPR articles
    /// 18 and 21): the record serves care only, and no reminder is sent. Set with
    /// `PUT /api/v1/patients/{id}/restriction`.
    pub processing_restricted: bool,
    /// Version, also given as the `ETag`.
    pub version: i32,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Updated.
    pub updated_at: DateTime<Utc>,
    /// Sealed fields that failed their integrity check (the stored ciphertext was
    /// altered at rest): they are absent from this answer, the event is recorded in
    /// the audit trail and a `sealed_data_integrity` security alert is raised.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unavailable_fields: Vec<String>,
}

/// A page of patients.
#[derive(Debug, Serialize, ToSchema)]
pub struct PatientList {
    /// Patients in (family name, given name, id) order.
    pub items: Vec<PatientResponse>,
    /// Pass as `cursor` for the next page; null at the end.
    pub next_cursor: Option<String>,
}

/// Filters and paging of the patient list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PatientListQuery {
    /// Family or given name prefix (case-insensitive).
    pub name: Option<String>,
    /// Exact birth date.
    pub birth_date: Option<NaiveDate>,
    /// Exact phone (E.164).
    pub phone: Option<String>,
    /// Exact national id.
    pub national_id: Option<String>,
    /// Include archived records (`POST .../archive`). Records in the records
    /// archive (no encounter for the clinic's `archive_after_years`) are never
    /// listed: they open by break-the-glass only.
    pub include_archived: Option<bool>,
    /// Page size, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<i64>,
    /// From the previous page's `next_cursor`.
    pub cursor: Option<String>,
}

fn fields(body: &PatientRequest, today: NaiveDate) -> Result<PatientFields, ApiError> {
    let mut errors = Vec::new();
    if body.birth_date > today
        || body.birth_date < NaiveDate::from_ymd_opt(1880, 1, 1).unwrap_or(today)
    {
        errors.push(FieldError {
            field: "birth_date".into(),
            code: "range".into(),
            message: "must be a past date after 1880".into(),
        });
    }
    let mut e164_of = |field: &str, phone: Option<&String>| match phone {
        Some(p) => match salus_domain::identity::phone::parse_e164(p) {
            Ok(p) => Some(p),
            Err(_) => {
                errors.push(FieldError {
                    field: field.into(),
                    code: "e164".into(),
                    message: "must be an international number such as +33612345678".into(),
                });
                None
            }
        },
        None => None,
    };
    let phone = e164_of("phone", body.phone.as_ref());
    let contact_phone = e164_of(
        "emergency_contact.phone",
        body.emergency_contact
            .as_ref()
            .and_then(|c| c.phone.as_ref()),
    );
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    Ok(PatientFields {
        family_name: body.family_name.trim().to_owned(),
        given_name: body.given_name.trim().to_owned(),
        birth_date: body.birth_date,
        sex: body.sex.into(),
        national_id: body.national_id.as_ref().map(|n| n.trim().to_owned()),
        phone,
        email: body.email.as_ref().map(|e| e.trim().to_lowercase()),
        address: body.address.clone().map(|a| Address {
            lines: a.lines,
            postal_code: a.postal_code,
            city: a.city,
            country: a.country,
        }),
        emergency_contact: body.emergency_contact.clone().map(|c| EmergencyContact {
            name: c.name,
            relationship: c.relationship,
            phone: contact_phone,
        }),
        preferred_language: body.preferred_language.clone(),
        reminder_email: body.reminder_consent.email,
        reminder_sms: body.reminder_consent.sms,
    })
}

fn history(dto: Option<MedicalHistoryDto>) -> Option<MedicalHistory> {
    dto.map(|h| MedicalHistory {
        allergies: h.allergies,
        conditions: h.conditions,
        medications: h.medications,
        notes: h.notes,
    })
}

impl From<Patient> for PatientResponse {
    fn from(p: Patient) -> Self {
        let f = p.fields;
        PatientResponse {
            id: p.id.0,
            family_name: f.family_name,
            given_name: f.given_name,
            birth_date: f.birth_date,
            sex: f.sex.into(),
            national_id: f.national_id,
            phone: f.phone,
            email: f.email,
            address: f.address.map(|a| AddressDto {
                lines: a.lines,
                postal_code: a.postal_code,
                city: a.city,
                country: a.country,
            }),
            emergency_contact: f.emergency_contact.map(|c| EmergencyContactDto {
                name: c.name,
                relationship: c.relationship,
                phone: c.phone,
            }),
            preferred_language: f.preferred_language,
            reminder_consent: ReminderConsent {
                email: f.reminder_email,
                sms: f.reminder_sms,
            },
            medical_history: p.medical_history.map(|h| MedicalHistoryDto {
                allergies: h.allergies,
                conditions: h.conditions,
                medications: h.medications,
                notes: h.notes,
            }),
            archived: p.archived_at.is_some(),
            processing_restricted: p.restricted_at.is_some(),
            version: p.version,
            unavailable_fields: p.unavailable.iter().map(|f| (*f).to_owned()).collect(),
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

/// A patient answered with its `ETag`.
pub(crate) fn with_etag(mut builder: actix_web::HttpResponseBuilder, p: Patient) -> HttpResponse {
    crate::preconditions::with_etag(&mut builder, p.version).json(PatientResponse::from(p))
}

/// A patient's place in the list's (family name, given name, id) order.
/// Registers a patient.
#[utoipa::path(
    operation_id = "patients_create",
    tag = "patients",
    summary = "Register a patient",
    description = "Medical history may be given only with `clinical.write`. The national id and the medical history are stored encrypted.",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("patients.create"))),
    request_body = PatientRequest,
    responses(
        (status = 201, description = "Registered; `ETag` and `Location` headers.", body = PatientResponse, headers(("ETag" = String, description = "The version: send it back in `If-Match` to change this record."), ("Location" = String, description = "The new patient's address."))),
        (status = 422, description = "Invalid fields (each listed).", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/patients")]
pub async fn create(
    ports: web::Data<Ports>,
    client: Client,
    who: Authenticated,
    body: ValidatedJson<PatientRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let fields = fields(&body, ports.clock.now().date_naive())?;
    let patient = ports
        .call_as(&who, move |services, actor| {
            services.patients.create_patient(
                actor,
                fields,
                history(body.medical_history),
                &client.0,
            )
        })
        .await?;
    let location = format!("/api/v1/patients/{}", patient.id);
    Ok(with_etag(
        HttpResponse::Created()
            .insert_header((header::LOCATION, location))
            .take(),
        patient,
    ))
}

/// Reads a patient.
#[utoipa::path(
    operation_id = "patients_read",
    tag = "patients",
    summary = "Read a patient",
    description = "Members without `clinical.read` get no `medical_history` field.",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("patients.read"))),
    params(("id" = Uuid, Path, description = "The patient.")),
    responses(
        (status = 200, description = "The patient; `ETag` header.", body = PatientResponse, headers(("ETag" = String, description = "The version: send it back in `If-Match` to change this record."))),
        (status = 404, description = "No such patient.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/patients/{id}")]
pub async fn read(
    ports: web::Data<Ports>,
    who: Authenticated,
    client: Client,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let patient = ports
        .call_as(&who, move |services, actor| {
            services
                .patients
                .get_patient(actor, PatientId(id), &client.0)
        })
        .await?;
    Ok(with_etag(HttpResponse::Ok(), patient))
}

/// Replaces a patient's record.
#[utoipa::path(
    operation_id = "patients_update",
    tag = "patients",
    summary = "Update a patient",
    description = "Full replacement of the demographics; `medical_history` omitted keeps the stored one (setting it needs `clinical.write`). `If-Match` with the ETag read is required.",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("patients.update"))),
    params(
        ("id" = Uuid, Path, description = "The patient."),
        ("If-Match" = String, Header, description = "The ETag of the version read, or `*`."),
    ),
    request_body = PatientRequest,
    responses(
        (status = 200, description = "Updated; new `ETag`.", body = PatientResponse, headers(("ETag" = String, description = "The version: send it back in `If-Match` to change this record."))),
        (status = 404, description = "No such patient.", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The record changed since it was read.", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "`If-Match` missing.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/api/v1/patients/{id}")]
pub async fn update(
    ports: web::Data<Ports>,
    client: Client,
    who: Authenticated,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: ValidatedJson<PatientRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let version = if_match.0;
    let fields = fields(&body, ports.clock.now().date_naive())?;
    let id = id.into_inner();
    let patient = ports
        .call_as(&who, move |services, actor| {
            services.patients.update_patient(
                actor,
                PatientId(id),
                version,
                fields,
                history(body.medical_history),
                &client.0,
            )
        })
        .await?;
    Ok(with_etag(HttpResponse::Ok(), patient))
}

/// Archives a patient.
#[utoipa::path(
    operation_id = "patients_archive",
    tag = "patients",
    summary = "Archive a patient",
    description = "Records are archived, never deleted here; archived patients leave the default list. `If-Match` with the ETag read is required; archiving an archived patient answers it as it is.",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("patients.archive"))),
    params(("id" = Uuid, Path, description = "The patient."), ("If-Match" = String, Header, description = "The ETag of the version read, or `*`.")),
    responses(
        (status = 200, description = "Archived.", body = PatientResponse, headers(("ETag" = String, description = "The version: send it back in `If-Match` to change this record."))),
        (status = 404, description = "No such patient.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/patients/{id}/archive")]
pub async fn archive(
    ports: web::Data<Ports>,
    client: Client,
    who: Authenticated,
    id: web::Path<Uuid>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let patient = ports
        .call_as(&who, move |services, actor| {
            services.patients.set_patient_archived(
                actor,
                PatientId(id),
                true,
                if_match.0,
                &client.0,
            )
        })
        .await?;
    Ok(with_etag(HttpResponse::Ok(), patient))
}

/// Restores an archived patient.
#[utoipa::path(
    operation_id = "patients_restore",
    tag = "patients",
    summary = "Restore a patient",
    description = "`If-Match` with the ETag read is required; restoring a patient who is not archived answers it as it is.",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("patients.archive"))),
    params(("id" = Uuid, Path, description = "The patient."), ("If-Match" = String, Header, description = "The ETag of the version read, or `*`.")),
    responses(
        (status = 200, description = "Restored.", body = PatientResponse, headers(("ETag" = String, description = "The version: send it back in `If-Match` to change this record."))),
        (status = 404, description = "No such patient.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/patients/{id}/restore")]
pub async fn restore(
    ports: web::Data<Ports>,
    client: Client,
    who: Authenticated,
    id: web::Path<Uuid>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let patient = ports
        .call_as(&who, move |services, actor| {
            services.patients.set_patient_archived(
                actor,
                PatientId(id),
                false,
                if_match.0,
                &client.0,
            )
        })
        .await?;
    Ok(with_etag(HttpResponse::Ok(), patient))
}

/// Lists and searches patients.
#[utoipa::path(
    operation_id = "patients_list",
    tag = "patients",
    summary = "List and search patients",
    description = "Filters combine; the national id matches exactly (through a keyed blind index). Cursor pagination in (family name, given name, id) order.",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("patients.read"))),
    params(PatientListQuery),
    responses(
        (status = 200, description = "A page.", body = PatientList),
        (status = 422, description = "Invalid filters or cursor.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/patients")]
pub async fn list(
    ports: web::Data<Ports>,
    who: Authenticated,
    client: Client,
    query: web::Query<PatientListQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let limit = page_limit(q.limit, 20)?;
    let scope = ListScope::of("patients_list", who.clinic_id());
    let after = ports
        .cursors
        .open::<PatientKey>(&scope, q.cursor.as_deref())?;
    let query = PatientQuery {
        name: q
            .name
            .filter(|n| !n.trim().is_empty())
            .map(|n| n.trim().to_owned()),
        birth_date: q.birth_date,
        phone: q.phone,
        national_id: q.national_id,
        include_archived: q.include_archived.unwrap_or(false),
        limit,
        after,
    };
    let page = ports
        .call_as(&who, move |services, actor| {
            services.patients.list_patients(actor, query, &client.0)
        })
        .await?;
    let next_cursor = ports.cursors.seal(&scope, page.next.as_ref())?;
    let items = page.items.into_iter().map(PatientResponse::from).collect();
    Ok(HttpResponse::Ok().json(PatientList { items, next_cursor }))
}
