//! A patient's exported record as a FHIR R4 `Bundle` of type `collection`:
//! `Patient`, `AllergyIntolerance`, `Condition`, `MedicationStatement`,
//! `DocumentReference` (history notes and clinical notes) and `Appointment`.
//! `docs/api.md` ("FHIR mapping") lists the mapping field by field; what FHIR has
//! no clean place for (reminder consent, the restriction, the access log) is in
//! the JSON export only.
//!
//! Resources with an id of ours carry it and the entry's `fullUrl` is
//! `urn:uuid:<id>`; references between them use that URN, so the bundle resolves
//! on its own. Members are referenced by a logical identifier (their membership
//! id): the bundle holds no `Practitioner` resource.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use salus_domain::ports::appointments::{Appointment, Status};
use salus_domain::ports::notes::Note;
use salus_domain::ports::patients::{MedicalHistory, Patient, Sex};
use salus_domain::rights::PatientRecord;
use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use uuid::Uuid;

/// The FHIR JSON media type.
pub const MEDIA_TYPE: &str = "application/fhir+json";

/// A JSON object without its absent members: FHIR allows no `null`, `[]` or `{}`.
fn object(members: impl IntoIterator<Item = (&'static str, Option<Value>)>) -> Value {
    let map: Map<String, Value> = members
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v)))
        .filter(|(_, v)| !matches!(v, Value::Array(a) if a.is_empty()))
        .filter(|(_, v)| !matches!(v, Value::Object(o) if o.is_empty()))
        .collect();
    Value::Object(map)
}

fn urn(id: impl Into<Uuid>) -> String {
    format!("urn:uuid:{}", id.into())
}

/// A reference to a member, by their membership id.
fn member(id: Uuid) -> Value {
    json!({"type": "Practitioner", "identifier": {"value": id.to_string()}})
}

fn text(value: &str) -> Value {
    json!({ "text": value })
}

fn plain_text(body: &str) -> Value {
    json!({"contentType": "text/plain; charset=utf-8", "data": STANDARD.encode(body)})
}

/// A FHIR R4 `Bundle` of type `collection`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Bundle {
    /// Always `Bundle`.
    #[serde(rename = "resourceType")]
    #[schema(example = "Bundle")]
    pub resource_type: &'static str,
    /// Always `collection`.
    #[serde(rename = "type")]
    #[schema(example = "collection")]
    pub kind: &'static str,
    /// When the record was exported.
    pub timestamp: DateTime<Utc>,
    /// The resources: the `Patient` first.
    pub entry: Vec<BundleEntry>,
}

/// One resource of a bundle.
#[derive(Debug, Serialize, ToSchema)]
pub struct BundleEntry {
    /// `urn:uuid:<id>` for resources with an id of ours; absent for the items of
    /// the medical history.
    #[serde(rename = "fullUrl", skip_serializing_if = "Option::is_none")]
    pub full_url: Option<String>,
    /// A `Patient`, `AllergyIntolerance`, `Condition`, `MedicationStatement`,
    /// `DocumentReference` or `Appointment` resource.
    #[schema(value_type = Object)]
    pub resource: Value,
}

/// The bundle of `record`.
pub fn bundle(record: &PatientRecord) -> Bundle {
    let subject = json!({ "reference": urn(record.patient.id) });
    let mut entries = vec![(Some(record.patient.id.uuid()), patient(&record.patient))];
    if let Some(history) = &record.patient.medical_history {
        entries.extend(
            medical_history(history, &record.patient, &subject)
                .into_iter()
                .map(|r| (None, r)),
        );
    }
    entries.extend(
        record
            .notes
            .iter()
            .map(|n| (Some(n.stored.id.uuid()), note(n, &subject))),
    );
    entries.extend(
        record
            .appointments
            .iter()
            .map(|a| (Some(a.stored.id.uuid()), appointment(a, &subject))),
    );
    Bundle {
        resource_type: "Bundle",
        kind: "collection",
        timestamp: record.exported_at,
        entry: entries
            .into_iter()
            .map(|(id, resource)| BundleEntry {
                full_url: id.map(urn),
                resource,
            })
            .collect(),
    }
}

fn gender(sex: Sex) -> &'static str {
    match sex {
        Sex::Female => "female",
        Sex::Male => "male",
        Sex::Other => "other",
        Sex::Unknown => "unknown",
    }
}

fn patient(p: &Patient) -> Value {
    let f = &p.fields;
    let telecom: Vec<Value> = [("phone", &f.phone), ("email", &f.email)]
        .into_iter()
        .filter_map(|(system, value)| {
            value
                .as_ref()
                .map(|v| json!({"system": system, "value": v}))
        })
        .collect();
    object([
        ("resourceType", Some(json!("Patient"))),
        ("id", Some(json!(p.id.to_string()))),
        ("meta", Some(json!({ "lastUpdated": p.updated_at }))),
        (
            "identifier",
            f.national_id.as_ref().map(|n| {
                json!([{"use": "official", "type": {"text": "National identification number"}, "value": n}])
            }),
        ),
        ("active", Some(json!(p.archived_at.is_none()))),
        (
            "name",
            Some(json!([{"use": "official", "family": f.family_name, "given": [f.given_name]}])),
        ),
        ("telecom", Some(json!(telecom))),
        ("gender", Some(json!(gender(f.sex)))),
        ("birthDate", Some(json!(f.birth_date))),
        (
            "address",
            f.address.as_ref().map(|a| {
                json!([object([
                    ("line", Some(json!(a.lines))),
                    ("postalCode", a.postal_code.as_ref().map(|v| json!(v))),
                    ("city", a.city.as_ref().map(|v| json!(v))),
                    ("country", a.country.as_ref().map(|v| json!(v))),
                ])])
            }),
        ),
        (
            "contact",
            f.emergency_contact.as_ref().map(|c| {
                json!([object([
                    (
                        "relationship",
                        c.relationship.as_ref().map(|r| json!([text(r)])),
                    ),
                    ("name", Some(text(&c.name))),
                    (
                        "telecom",
                        c.phone
                            .as_ref()
                            .map(|p| json!([{"system": "phone", "value": p}])),
                    ),
                ])])
            }),
        ),
        (
            "communication",
            f.preferred_language.as_ref().map(|l| {
                json!([{"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": l}]}, "preferred": true}])
            }),
        ),
    ])
}

/// The medical history's lists as the resources FHIR has for them (each item
/// current: the record keeps current lists), and its free text as a document.
fn medical_history(h: &MedicalHistory, p: &Patient, subject: &Value) -> Vec<Value> {
    let id = |kind: &str, n: usize| json!(format!("{}-{kind}-{}", p.id, n + 1));
    let mut out = Vec::new();
    for (n, allergy) in h.allergies.iter().enumerate() {
        out.push(json!({
            "resourceType": "AllergyIntolerance",
            "id": id("allergy", n),
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "code": "active"}]},
            "code": text(allergy),
            "patient": subject,
        }));
    }
    for (n, condition) in h.conditions.iter().enumerate() {
        out.push(json!({
            "resourceType": "Condition",
            "id": id("condition", n),
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]},
            "code": text(condition),
            "subject": subject,
        }));
    }
    for (n, medication) in h.medications.iter().enumerate() {
        out.push(json!({
            "resourceType": "MedicationStatement",
            "id": id("medication", n),
            "status": "active",
            "medicationCodeableConcept": text(medication),
            "subject": subject,
        }));
    }
    if let Some(notes) = h.notes.as_deref().filter(|n| !n.is_empty()) {
        out.push(json!({
            "resourceType": "DocumentReference",
            "id": id("history", 0),
            "status": "current",
            "type": text("Medical history"),
            "subject": subject,
            "content": [{"attachment": plain_text(notes)}],
        }));
    }
    out
}

fn note(n: &Note, subject: &Value) -> Value {
    let s = &n.stored;
    object([
        ("resourceType", Some(json!("DocumentReference"))),
        ("id", Some(json!(s.id.to_string()))),
        ("status", Some(json!("current"))),
        (
            "docStatus",
            Some(json!(if s.signed_at.is_some() {
                "final"
            } else {
                "preliminary"
            })),
        ),
        ("type", Some(text("Clinical note"))),
        ("subject", Some(subject.clone())),
        ("date", Some(json!(s.created_at))),
        ("author", Some(json!([member(s.author.uuid())]))),
        (
            "relatesTo",
            s.amends_id.map(
                |original| json!([{"code": "appends", "target": {"reference": urn(original)}}]),
            ),
        ),
        (
            "content",
            Some(json!([{ "attachment": if n.unavailable.is_empty() {
                plain_text(&n.body)
            } else {
                json!({"contentType": "text/plain; charset=utf-8"})
            } }])),
        ),
        (
            "context",
            s.appointment_id
                .map(|a| json!({"related": [{"reference": urn(a)}]})),
        ),
    ])
}

/// Our status in FHIR's `Appointment.status` set.
fn appointment_status(status: Status) -> &'static str {
    match status {
        Status::Scheduled | Status::Confirmed => "booked",
        Status::CheckedIn => "checked-in",
        Status::InProgress => "arrived",
        Status::Completed => "fulfilled",
        Status::Cancelled => "cancelled",
        Status::NoShow => "noshow",
    }
}

fn appointment(a: &Appointment, subject: &Value) -> Value {
    let s = &a.stored;
    object([
        ("resourceType", Some(json!("Appointment"))),
        ("id", Some(json!(s.id.to_string()))),
        ("meta", Some(json!({ "lastUpdated": s.updated_at }))),
        ("status", Some(json!(appointment_status(s.status)))),
        ("cancelationReason", s.cancel_reason.as_deref().map(text)),
        ("reasonCode", a.reason.as_deref().map(|r| json!([text(r)]))),
        ("start", Some(json!(s.starts_at))),
        ("end", Some(json!(s.ends_at))),
        ("created", Some(json!(s.created_at))),
        (
            "participant",
            Some(json!([
                {"actor": subject, "status": "accepted"},
                {"actor": member(s.practitioner_id.uuid()), "status": "accepted"},
            ])),
        ),
    ])
}
