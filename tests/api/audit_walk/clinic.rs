//! The walk's records: the schedule, patients, appointments, the queue, notes,
//! the patient's rights and the records archive, and the clinic's trail.

use diesel::prelude::*;
use diesel::sql_types::Uuid as SqlUuid;
use salus_tests::identity::Member;
use serde_json::json;

use super::walker::{Caller, Walk};

/// Walks every operation on a clinic's records as `owner`.
pub async fn walk(walk: &Walk<'_>, owner: &Member) {
    let app = walk.app;
    let me = app.me(owner).await;
    let membership = me["membership_id"].as_str().unwrap().to_owned();
    let clinic = me["clinic"]["id"].as_str().unwrap().to_owned();
    let by = Caller::member(owner);

    for operation in [
        "practitioners_update",
        "practitioners_set_hours",
        "practitioners_add_absence",
    ] {
        walk.call(operation, &by).id(&membership).send().await;
    }

    let created = walk.call("patients_create", &by).created().send().await;
    let patient = created["id"].as_str().unwrap().to_owned();
    walk.call("patients_update", &by)
        .id(&patient)
        .set("given_name", json!("Maria"))
        .send()
        .await;
    walk.call("patients_list", &by).on(&clinic).send().await;
    walk.call("patients_read", &by).id(&patient).send().await;
    walk.call("patients_history", &by).id(&patient).send().await;

    let booked = walk
        .call("appointments_book", &by)
        .set("patient_id", json!(patient))
        .set("practitioner_id", json!(membership))
        .set("override_hours", json!(true))
        .created()
        .send()
        .await;
    let appointment = booked["id"].as_str().unwrap().to_owned();
    walk.call("appointments_list", &by).on(&clinic).send().await;
    walk.call("appointments_read", &by)
        .id(&appointment)
        .send()
        .await;
    walk.call("appointments_reschedule", &by)
        .id(&appointment)
        .send()
        .await;

    let mut entries = Vec::new();
    for _ in 0..2 {
        let entry = walk
            .call("queue_check_in", &by)
            .set("patient_id", json!(patient))
            .set("practitioner_id", json!(membership))
            .without("appointment_id")
            .created()
            .send()
            .await;
        entries.push(entry["id"].as_str().unwrap().to_owned());
    }
    walk.call("queue_call_next", &by)
        .set("practitioner_id", json!(membership))
        .on(&entries[0])
        .send()
        .await;
    walk.call("queue_start", &by).id(&entries[0]).send().await;
    walk.call("queue_complete", &by)
        .id(&entries[0])
        .send()
        .await;
    walk.call("queue_mark_left", &by)
        .id(&entries[1])
        .send()
        .await;
    walk.call("appointments_change_status", &by)
        .id(&appointment)
        .send()
        .await;

    let note = walk
        .call("notes_create", &by)
        .id(&patient)
        .without("appointment_id")
        .created()
        .send()
        .await;
    let note = note["id"].as_str().unwrap().to_owned();
    walk.call("notes_list", &by).id(&patient).send().await;
    walk.call("notes_edit", &by).id(&note).send().await;
    walk.call("notes_amend", &by)
        .id(&note)
        .created()
        .send()
        .await;

    rights(walk, &by, &patient).await;
    archive(walk, &by).await;
    walk.call("audit_events_export", &by).send().await;
    walk.call("incidents_list", &by).send().await;
}

/// The patient's rights: restriction, the record's export, erasure (refused),
/// and the desk's archive.
async fn rights(walk: &Walk<'_>, by: &Caller, patient: &str) {
    walk.call("patients_restriction_set", by)
        .id(patient)
        .send()
        .await;
    walk.call("patients_export", by).id(patient).send().await;
    walk.call("patients_erasure_request", by)
        .id(patient)
        .send()
        .await;
    walk.call("patients_erasure_decide", by)
        .id(patient)
        .set("decision", json!("refuse"))
        .send()
        .await;
    walk.call("patients_archive", by).id(patient).send().await;
    walk.call("patients_restore", by).id(patient).send().await;
}

/// Break-the-glass into the records archive, and a record brought back. The
/// archive job moves a record after years without an encounter; the walk moves
/// one there directly.
async fn archive(walk: &Walk<'_>, by: &Caller) {
    let created = walk.call("patients_create", by).created().send().await;
    let patient = created["id"].as_str().unwrap().to_owned();
    let mut conn = walk.app.db.superuser();
    diesel::sql_query("UPDATE patients SET records_archived_at = now() WHERE id = $1")
        .bind::<SqlUuid, _>(uuid::Uuid::parse_str(&patient).unwrap())
        .execute(&mut conn)
        .unwrap();
    walk.call("patients_break_glass", by)
        .id(&patient)
        .send()
        .await;
    walk.call("patients_return_from_archive", by)
        .id(&patient)
        .send()
        .await;
}
