//! The patient a kept answer names, so that a patient's erasure takes it with
//! the patient's other rows: the patient of the path (`/api/v1/patients/{id}/...`),
//! the one created (`Location: /api/v1/patients/{id}`), or the `patient_id` of
//! the answer's body (an appointment, a queue entry).

use serde_json::Value;
use uuid::Uuid;

const PATIENTS: &str = "/api/v1/patients/";

/// The patient named by a request's path, its answer's `Location` or body.
pub fn patient_named(path: &str, location: Option<&str>, body: &[u8]) -> Option<Uuid> {
    let in_path = |path: &str| {
        let id = path.strip_prefix(PATIENTS)?.split('/').next()?;
        Uuid::parse_str(id).ok()
    };
    in_path(path)
        .or_else(|| location.and_then(in_path))
        .or_else(|| {
            let body: Value = serde_json::from_slice(body).ok()?;
            Uuid::parse_str(body.get("patient_id")?.as_str()?).ok()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "01a25163-5b63-79ab-b936-24968abe642d";

    #[test]
    fn the_path_the_location_or_the_body_names_the_patient() {
        let id = Uuid::parse_str(ID).ok();
        let notes = format!("/api/v1/patients/{ID}/notes");
        assert_eq!(patient_named(&notes, None, b"{}"), id);
        let created = format!("/api/v1/patients/{ID}");
        assert_eq!(patient_named("/api/v1/patients", Some(&created), b"{}"), id);
        let booked = format!(r#"{{"id": "x", "patient_id": "{ID}"}}"#);
        assert_eq!(
            patient_named("/api/v1/appointments", None, booked.as_bytes()),
            id
        );
    }

    #[test]
    fn an_answer_about_no_patient_names_none() {
        assert_eq!(
            patient_named("/api/v1/roles", Some("/api/v1/roles/x"), b"{}"),
            None
        );
        assert_eq!(patient_named("/api/v1/patients", None, b"not json"), None);
        assert_eq!(patient_named("/api/v1/queue/call-next", None, b""), None);
    }
}
