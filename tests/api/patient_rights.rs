//! Patients' rights (promise D4): restriction of processing stops reminders, the
//! whole record exports as JSON and as a FHIR R4 bundle, and the change history
//! names the fields changed, never their values.

use base64::Engine;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use salus_tests::TestApp;
use salus_tests::identity::Member;
use serde_json::{Value, json};

fn at(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn now(app: &TestApp) -> DateTime<Utc> {
    salus_domain::Clock::now(app.clock.as_ref())
}

/// Books `patient` with `practitioner` `days` ahead, with a reason.
async fn book(
    app: &TestApp,
    owner: &Member,
    patient: &str,
    practitioner: &str,
    days: i64,
) -> String {
    let start = now(app) + Duration::days(days);
    app.booking(
        owner,
        json!({"patient_id": patient, "practitioner_id": practitioner, "starts_at": at(start),
               "ends_at": at(start + Duration::minutes(20)), "reason": "RIGHTS-REASON-OTTER"}),
    )
    .await
}

async fn put_restriction(
    app: &TestApp,
    who: &Member,
    patient: &str,
    if_match: Option<&str>,
    restricted: bool,
) -> reqwest::Response {
    let mut request = app
        .client
        .put(format!("{}/api/v1/patients/{patient}/restriction", app.url))
        .bearer_auth(&who.access)
        .json(&json!({ "restricted": restricted }));
    if let Some(etag) = if_match {
        request = request.header("if-match", etag);
    }
    request.send().await.unwrap()
}

async fn reminders(app: &TestApp, who: &Member, appointment: &str) -> Value {
    let view: Value = app
        .get_as(&who.access, &format!("/api/v1/appointments/{appointment}"))
        .await
        .json()
        .await
        .unwrap();
    view["reminders"].clone()
}

#[tokio::test]
async fn a_restriction_withdraws_pending_reminders_and_queues_none_until_lifted() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Harbour Clinic").await;
    let practitioner = app.practitioner(&owner).await;
    let phone = "+33611112222";
    let patient = app
        .patient(
            &owner,
            json!({"family_name": "Objecting", "given_name": "Olga", "birth_date": "1980-03-03", "sex": "female",
                   "phone": phone, "reminder_consent": {"sms": true}}),
        )
        .await;
    let first = book(&app, &owner, &patient.id, &practitioner, 3).await;
    assert_eq!(app.outbox(phone).len(), 1, "consent queues a reminder");

    let unconditional = put_restriction(&app, &owner, &patient.id, None, true).await;
    assert_eq!(unconditional.status(), 428, "If-Match is required");
    let restricted = put_restriction(&app, &owner, &patient.id, Some(&patient.etag), true).await;
    assert_eq!(restricted.status(), 200);
    let etag = restricted.headers()["etag"].to_str().unwrap().to_owned();
    let body: Value = restricted.json().await.unwrap();
    assert_eq!(body["processing_restricted"], true, "{body}");
    assert_eq!(body["reminder_consent"]["sms"], true, "consent is kept");
    assert!(
        app.outbox(phone).is_empty(),
        "the pending reminder was withdrawn"
    );
    assert_eq!(reminders(&app, &owner, &first).await, json!([]));

    // While restricted, a new booking queues nothing, though consent stands.
    let second = book(&app, &owner, &patient.id, &practitioner, 4).await;
    assert!(app.outbox(phone).is_empty(), "no reminder while restricted");
    assert_eq!(reminders(&app, &owner, &second).await, json!([]));
    let read: Value = app
        .get_as(&owner.access, &format!("/api/v1/patients/{}", patient.id))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read["processing_restricted"], true);

    // The same state again is answered as it is.
    let again = put_restriction(&app, &owner, &patient.id, Some("\"v1\""), true).await;
    assert_eq!(again.status(), 200, "idempotent, whatever version named");

    let lifted = put_restriction(&app, &owner, &patient.id, Some(&etag), false).await;
    assert_eq!(lifted.status(), 200);
    let body: Value = lifted.json().await.unwrap();
    assert_eq!(body["processing_restricted"], false);
    assert_eq!(
        app.outbox(phone).len(),
        2,
        "both appointments ahead are reminded again"
    );
    assert_eq!(
        reminders(&app, &owner, &first).await[0]["status"],
        "pending"
    );

    let history: Value = app
        .get_as(
            &owner.access,
            &format!("/api/v1/patients/{}/history", patient.id),
        )
        .await
        .json()
        .await
        .unwrap();
    let actions: Vec<&str> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "patient.processing_resumed",
            "patient.processing_restricted",
            "patient.created"
        ]
    );
}

#[tokio::test]
async fn the_whole_record_exports_as_json_and_as_a_fhir_bundle() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Harbour Clinic").await;
    let practitioner = app.practitioner(&owner).await;
    let patient = app
        .patient(
            &owner,
            json!({"family_name": "Curie", "given_name": "Marie", "birth_date": "1967-11-07", "sex": "female",
                   "national_id": "2671175123456", "phone": "+33612345678", "email": "marie@example.org",
                   "address": {"lines": ["36 quai de Béthune"], "postal_code": "75004", "city": "Paris", "country": "FR"},
                   "preferred_language": "fr",
                   "medical_history": {"allergies": ["penicillin"], "conditions": ["hypertension"],
                                       "medications": ["amlodipine 5 mg"], "notes": "Checks blood pressure at home."}}),
        )
        .await
        .id;
    let appointment = book(&app, &owner, &patient, &practitioner, 2).await;
    let original = app.note(&owner, &patient, "First note.").await;
    let signed = app
        .client
        .put(format!("{}/api/v1/notes/{original}", app.url))
        .header("if-match", "*")
        .bearer_auth(&owner.access)
        .json(&json!({"sign": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), 200);
    let amendment: Value = app
        .post_json_as(
            &owner.access,
            &format!("/api/v1/notes/{original}/amendments"),
            &json!({"body": "Correction to the first note."}),
        )
        .await
        .json()
        .await
        .unwrap();
    let amendment = amendment["id"].as_str().unwrap().to_owned();
    app.get_as(&owner.access, &format!("/api/v1/patients/{patient}"))
        .await;

    let export = |format: &'static str| {
        let path = format!("/api/v1/patients/{patient}/export?format={format}");
        let token = owner.access.clone();
        let app = &app;
        async move { app.get_as(&token, &path).await }
    };
    let json_export = export("json").await;
    assert_eq!(json_export.status(), 200);
    assert_eq!(json_export.headers()["cache-control"], "no-store");
    let record: Value = json_export.json().await.unwrap();
    assert_eq!(record["patient"]["id"], patient.as_str());
    assert_eq!(record["patient"]["national_id"], "2671175123456");
    assert_eq!(
        record["patient"]["medical_history"]["allergies"],
        json!(["penicillin"])
    );
    assert_eq!(record["appointments"][0]["id"], appointment.as_str());
    assert_eq!(record["appointments"][0]["reason"], "RIGHTS-REASON-OTTER");
    assert_eq!(record["notes"].as_array().unwrap().len(), 2, "{record}");
    assert_eq!(record["notes"][1]["amends_id"], original.as_str());
    assert_eq!(record["notes"][1]["body"], "Correction to the first note.");
    let logged: Vec<&str> = record["access_log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(logged.contains(&"patient.clinical_read"), "{logged:?}");
    assert_eq!(
        logged.last(),
        Some(&"patient.created"),
        "oldest last: {logged:?}"
    );

    let fhir = export("fhir").await;
    assert_eq!(fhir.status(), 200);
    assert_eq!(fhir.headers()["content-type"], "application/fhir+json");
    let bundle: Value = fhir.json().await.unwrap();
    assert_eq!(bundle["resourceType"], "Bundle");
    assert_eq!(bundle["type"], "collection");
    let entries = bundle["entry"].as_array().unwrap();
    let of = |kind: &str| -> Vec<&Value> {
        entries
            .iter()
            .map(|e| &e["resource"])
            .filter(|r| r["resourceType"] == kind)
            .collect()
    };
    let subject = format!("urn:uuid:{patient}");
    assert_eq!(entries[0]["fullUrl"], subject.as_str());
    let p = of("Patient")[0];
    assert_eq!(p["name"][0]["family"], "Curie");
    assert_eq!(p["name"][0]["given"], json!(["Marie"]));
    assert_eq!(p["gender"], "female");
    assert_eq!(p["birthDate"], "1967-11-07");
    assert_eq!(p["identifier"][0]["value"], "2671175123456");
    assert_eq!(p["address"][0]["city"], "Paris");
    assert_eq!(p["communication"][0]["language"]["coding"][0]["code"], "fr");
    assert_eq!(p["active"], true);
    assert_eq!(of("AllergyIntolerance")[0]["code"]["text"], "penicillin");
    assert_eq!(
        of("AllergyIntolerance")[0]["patient"]["reference"],
        subject.as_str()
    );
    assert_eq!(of("Condition")[0]["code"]["text"], "hypertension");
    assert_eq!(
        of("MedicationStatement")[0]["medicationCodeableConcept"]["text"],
        "amlodipine 5 mg"
    );
    let visit = of("Appointment")[0];
    assert_eq!(visit["id"], appointment.as_str());
    assert_eq!(visit["status"], "booked");
    assert_eq!(visit["reasonCode"][0]["text"], "RIGHTS-REASON-OTTER");
    assert_eq!(
        visit["participant"][0]["actor"]["reference"],
        subject.as_str()
    );
    let documents = of("DocumentReference");
    let fix = documents
        .iter()
        .find(|d| d["id"] == amendment.as_str())
        .expect("the amendment is a document");
    assert_eq!(fix["docStatus"], "final");
    assert_eq!(fix["relatesTo"][0]["code"], "appends");
    assert_eq!(
        fix["relatesTo"][0]["target"]["reference"],
        format!("urn:uuid:{original}").as_str()
    );
    let text = base64::engine::general_purpose::STANDARD
        .decode(fix["content"][0]["attachment"]["data"].as_str().unwrap())
        .unwrap();
    assert_eq!(text, b"Correction to the first note.");
    assert!(
        documents
            .iter()
            .any(|d| d["type"]["text"] == "Medical history"),
        "the history's notes are a document"
    );

    // Each export is recorded in the patient's access log, with its format.
    let log: Value = app
        .get_as(
            &owner.access,
            &format!("/api/v1/patients/{patient}/access-log"),
        )
        .await
        .json()
        .await
        .unwrap();
    let formats: Vec<&str> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "patient.exported")
        .map(|e| e["details"]["format"].as_str().unwrap())
        .collect();
    assert_eq!(formats, ["fhir", "json"]);

    // The format is a declared, closed parameter.
    assert_eq!(export("xml").await.status(), 422);
    let undeclared = app
        .get_as(
            &owner.access,
            &format!("/api/v1/patients/{patient}/export?pretty=1"),
        )
        .await;
    assert_eq!(undeclared.status(), 422);

    // Ten minutes after the last MFA check, an export needs a new one.
    app.clock.advance(Duration::minutes(11));
    let stale = export("json").await;
    assert_eq!(stale.status(), 403);
    let problem: Value = stale.json().await.unwrap();
    assert_eq!(problem["code"], "step_up_required");
}

#[tokio::test]
async fn the_history_names_the_fields_changed_and_never_their_values() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Harbour Clinic").await;
    let receptionist = app.join_as(&owner, "receptionist").await;
    let base = json!({"family_name": "Lovelace", "given_name": "Ada", "birth_date": "1985-12-10", "sex": "female",
                      "phone": "+33600000001",
                      "medical_history": {"allergies": ["latex"], "conditions": [], "medications": []}});
    let patient = app.patient(&owner, base.clone()).await;
    let update = |etag: String, body: Value| {
        let app = &app;
        let token = owner.access.clone();
        let id = patient.id.clone();
        async move {
            let response = app
                .client
                .put(format!("{}/api/v1/patients/{id}", app.url))
                .header("if-match", etag)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            response.headers()["etag"].to_str().unwrap().to_owned()
        }
    };
    let mut changed = base.clone();
    changed["phone"] = json!("+33699999999");
    changed["medical_history"]["allergies"] = json!(["HISTORY-VALUE-IBIS"]);
    let etag = update(patient.etag.clone(), changed.clone()).await;
    // The same history again changes nothing; a new given name does.
    let mut renamed = changed.clone();
    renamed["given_name"] = json!("Augusta");
    update(etag, renamed).await;

    let answer = app
        .get_as(
            &receptionist.access,
            &format!("/api/v1/patients/{}/history", patient.id),
        )
        .await;
    assert_eq!(answer.status(), 200, "patients.read suffices");
    let text = answer.text().await.unwrap();
    assert!(
        !text.contains("HISTORY-VALUE-IBIS")
            && !text.contains("+33699999999")
            && !text.contains("Augusta"),
        "no value in the history: {text}"
    );
    let history: Value = serde_json::from_str(&text).unwrap();
    let items = history["items"].as_array().unwrap();
    let changes: Vec<(&str, Value)> = items
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["fields"].clone()))
        .collect();
    assert_eq!(
        changes,
        [
            ("patient.updated", json!(["given_name"])),
            ("patient.updated", json!(["phone", "medical_history"])),
            ("patient.created", json!([])),
        ]
    );
    let owner_membership = app.me(&owner).await["membership_id"].clone();
    assert!(items.iter().all(|e| e["membership_id"] == owner_membership));
    assert!(items.iter().all(|e| e["occurred_at"].is_string()));
}
