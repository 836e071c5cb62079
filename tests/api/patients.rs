//! Patients over HTTP: CRUD with optimistic concurrency, search, field-level
//! access, and health data encrypted at rest.

use diesel::prelude::*;
use diesel::sql_types::{Bytea, Nullable, Text};
use salus_tests::TestApp;
use salus_tests::fixtures::Patient;
use salus_tests::identity::Member;
use serde_json::{Value, json};

fn ada() -> Value {
    json!({
        "family_name": "Lovelace", "given_name": "Ada", "birth_date": "1985-12-10", "sex": "female",
        "national_id": "1 85 12 75 123 456 78", "phone": "+33612345678", "email": "ada@example.test",
        "address": {"lines": ["12 rue des Lilas"], "postal_code": "75011", "city": "Paris", "country": "FR"},
        "emergency_contact": {"name": "Charles Babbage", "relationship": "friend", "phone": "+33698765432"},
        "preferred_language": "fr",
        "medical_history": {"allergies": ["penicillin"], "conditions": ["asthma"], "medications": [], "notes": "ZEBRA-UNIQUE-NOTE-4471"}
    })
}

async fn create(app: &TestApp, who: &Member, body: &Value) -> reqwest::Response {
    app.post_json_as(&who.access, "/api/v1/patients", body)
        .await
}

#[tokio::test]
async fn create_read_update_with_etags() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Harbour Clinic").await;
    let created = create(&app, &owner, &ada()).await;
    assert_eq!(created.status(), 201);
    let etag = created.headers()["etag"].to_str().unwrap().to_owned();
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let body: Value = created.json().await.unwrap();
    assert_eq!(body["national_id"], "1 85 12 75 123 456 78");
    assert_eq!(body["medical_history"]["allergies"][0], "penicillin");
    assert_eq!(
        body["reminder_consent"],
        json!({"email": false, "sms": false}),
        "consent is off by default"
    );

    let read = app.get_as(&owner.access, &location).await;
    assert_eq!(read.headers()["etag"].to_str().unwrap(), etag);

    let mut changed = ada();
    changed["phone"] = json!("+33600000000");
    changed.as_object_mut().unwrap().remove("medical_history");
    let put = |if_match: Option<&str>| {
        let mut r = app
            .client
            .put(format!("{}{location}", app.url))
            .bearer_auth(&owner.access)
            .json(&changed);
        if let Some(tag) = if_match {
            r = r.header("if-match", tag);
        }
        r.send()
    };
    assert_eq!(put(None).await.unwrap().status(), 428);
    let ok = put(Some(&etag)).await.unwrap();
    assert_eq!(ok.status(), 200);
    let new_etag = ok.headers()["etag"].to_str().unwrap().to_owned();
    assert_ne!(new_etag, etag);
    let after: Value = ok.json().await.unwrap();
    assert_eq!(after["phone"], "+33600000000");
    assert_eq!(
        after["medical_history"]["conditions"][0], "asthma",
        "omitted history is kept"
    );
    let stale = put(Some(&etag)).await.unwrap();
    assert_eq!(stale.status(), 412);
    let problem: Value = stale.json().await.unwrap();
    assert_eq!(problem["code"], "precondition_failed");
}

#[tokio::test]
async fn a_receptionist_gets_no_clinical_fields_and_cannot_write_them() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Harbour Clinic").await;
    let receptionist = app.join_as(&owner, "receptionist").await;
    let id = app.patient(&owner, ada()).await.id;
    let seen: Value = app
        .get_as(&receptionist.access, &format!("/api/v1/patients/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(seen["family_name"], "Lovelace");
    assert!(seen.get("medical_history").is_none(), "{seen}");

    let with_history = create(&app, &receptionist, &ada()).await;
    assert_eq!(with_history.status(), 403);
    let mut demographics = ada();
    demographics
        .as_object_mut()
        .unwrap()
        .remove("medical_history");
    assert_eq!(
        create(&app, &receptionist, &demographics).await.status(),
        201
    );
}

#[tokio::test]
async fn search_by_name_prefix_birth_date_phone_and_exact_national_id_with_cursors() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Harbour Clinic").await;
    for (family, given, nid) in [
        ("Martin", "Alice", "A1"),
        ("Martinez", "Bruno", "B2"),
        ("Marx", "Chloe", "C3"),
        ("Dupont", "Denis", "D4"),
    ] {
        let body = json!({"family_name": family, "given_name": given, "birth_date": "1990-01-01", "sex": "unknown", "national_id": nid});
        app.patient(&owner, body).await;
    }
    let names = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["family_name"].as_str().unwrap().to_owned())
            .collect()
    };
    let page1: Value = app
        .get_as(&owner.access, "/api/v1/patients?name=mar&limit=2")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(names(&page1), ["Martin", "Martinez"]);
    let cursor = page1["next_cursor"].as_str().unwrap();
    let page2: Value = app
        .get_as(
            &owner.access,
            &format!("/api/v1/patients?name=mar&limit=2&cursor={cursor}"),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(names(&page2), ["Marx"]);
    assert!(page2["next_cursor"].is_null());

    let by_id: Value = app
        .get_as(&owner.access, "/api/v1/patients?national_id=b2")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        names(&by_id),
        ["Martinez"],
        "exact, normalised match through the blind index"
    );
    let partial: Value = app
        .get_as(&owner.access, "/api/v1/patients?national_id=B")
        .await
        .json()
        .await
        .unwrap();
    assert!(
        partial["items"].as_array().unwrap().is_empty(),
        "no partial matches on the national id"
    );
    assert_eq!(
        app.get_as(&owner.access, "/api/v1/patients?limit=500")
            .await
            .status(),
        422
    );
    assert_eq!(
        app.get_as(&owner.access, "/api/v1/patients?cursor=garbage")
            .await
            .status(),
        422
    );
}

#[tokio::test]
async fn archived_patients_leave_the_list_and_come_back() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Harbour Clinic").await;
    let Patient { id, etag } = app.patient(&owner, ada()).await;
    let archive = app
        .post(&format!("/api/v1/patients/{id}/archive"))
        .header("if-match", "*")
        .bearer_auth(&owner.access)
        .header("if-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(archive.status(), 200);
    let etag = archive.headers()["etag"].to_str().unwrap().to_owned();
    let list: Value = app
        .get_as(&owner.access, "/api/v1/patients")
        .await
        .json()
        .await
        .unwrap();
    assert!(list["items"].as_array().unwrap().is_empty());
    let all: Value = app
        .get_as(&owner.access, "/api/v1/patients?include_archived=true")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["items"][0]["archived"], true);
    let restore = app
        .post(&format!("/api/v1/patients/{id}/restore"))
        .header("if-match", "*")
        .bearer_auth(&owner.access)
        .header("if-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(restore.status(), 200);
    let list: Value = app
        .get_as(&owner.access, "/api/v1/patients")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn bad_input_lists_each_field() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Harbour Clinic").await;
    let body = json!({"family_name": "", "given_name": "X", "birth_date": "2999-01-01", "sex": "female", "email": "nope", "phone": "123"});
    let response = create(&app, &owner, &body).await;
    assert_eq!(response.status(), 422);
    let problem: Value = response.json().await.unwrap();
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"family_name") && fields.contains(&"email"),
        "{problem}"
    );
    let body = json!({"family_name": "A", "given_name": "X", "birth_date": "2999-01-01", "sex": "female", "phone": "123"});
    let problem: Value = create(&app, &owner, &body).await.json().await.unwrap();
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["birth_date", "phone"]);
}

#[derive(QueryableByName)]
struct Raw {
    #[diesel(sql_type = Text)]
    whole: String,
    #[diesel(sql_type = Nullable<Bytea>)]
    history: Option<Vec<u8>>,
    #[diesel(sql_type = Nullable<Bytea>)]
    national_id: Option<Vec<u8>>,
}

#[tokio::test]
async fn the_raw_table_holds_no_plaintext_health_data() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Harbour Clinic").await;
    app.patient(&owner, ada()).await;
    // Read as the table's owner would, bypassing the API entirely.
    let mut conn = app.db.superuser();
    let raw: Raw = diesel::sql_query(
        "SELECT p::text AS whole, medical_history AS history, national_id FROM patients p",
    )
    .get_result(&mut conn)
    .unwrap();
    for secret in [
        "ZEBRA-UNIQUE-NOTE-4471",
        "penicillin",
        "asthma",
        "123 456 78",
    ] {
        assert!(!raw.whole.contains(secret), "{secret} is stored in clear");
        let bytes = secret.as_bytes();
        for column in [raw.history.as_deref(), raw.national_id.as_deref()]
            .into_iter()
            .flatten()
        {
            assert!(
                !column.windows(bytes.len()).any(|w| w == bytes),
                "{secret} in clear in a sealed column"
            );
        }
    }
    assert!(
        raw.whole.contains("Lovelace"),
        "demographic names are searchable in clear"
    );
}
