//! Purpose of use (issue 15, D4): a clinic that sets `purpose_of_use_required`
//! refuses every clinical read that does not say why (`X-Purpose-Of-Use`, an
//! HL7 PurposeOfUse code), and every clinical read's audit event keeps the
//! purpose. Proven by walking every read of the contract: exactly the
//! operations that declare the header refuse without it, and no clinical-read
//! event is written without a purpose.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use salus_tests::TestApp;
use salus_tests::contract::{document, operations};
use serde_json::{Value, json};

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The audit actions of clinical reads.
const CLINICAL_READS: &[&str] = &[
    "patient.clinical_read",
    "patient.list_clinical_read",
    "appointment.clinical_read",
    "appointment.list_clinical_read",
    "note.list_read",
    "patient.exported",
];

/// `METHOD path` of every operation the contract declares the header on.
fn declaring_the_header() -> Vec<String> {
    let doc = document();
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let declares = op["parameters"].as_array().is_some_and(|ps| {
                ps.iter()
                    .any(|p| p["$ref"] == "#/components/parameters/PurposeOfUse")
            });
            if declares {
                out.push(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    out.sort();
    out
}

fn clinical_events(app: &TestApp, with_purpose: Option<&str>) -> i64 {
    let mut su = app.db.superuser();
    let actions: Vec<String> = CLINICAL_READS.iter().map(|a| (*a).to_owned()).collect();
    let filter = match with_purpose {
        Some(_) => "AND details::jsonb ->> 'purpose_of_use' = $2",
        None => "AND coalesce(details::jsonb ->> 'purpose_of_use', '') = coalesce($2, '')",
    };
    diesel::sql_query(format!(
        "SELECT count(*) AS n FROM audit.events WHERE action = ANY($1) {filter}"
    ))
    .bind::<diesel::sql_types::Array<Text>, _>(actions)
    .bind::<diesel::sql_types::Nullable<Text>, _>(with_purpose)
    .get_result::<Count>(&mut su)
    .unwrap()
    .n
}

#[tokio::test]
async fn a_clinic_that_requires_it_refuses_every_clinical_read_without_a_purpose() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Purpose Clinic").await;
    let receptionist = app.join_as(&owner, "receptionist").await;
    let practitioner = app.practitioner(&owner).await;
    let patient = app
        .patient(
            &owner,
            json!({"family_name": "Purpose", "given_name": "Ana", "birth_date": "1970-01-01", "sex": "female"}),
        )
        .await
        .id;
    let appointment = app
        .booking(
            &owner,
            json!({"patient_id": patient, "practitioner_id": practitioner,
                   "starts_at": "2031-03-03T09:00:00Z", "ends_at": "2031-03-03T09:30:00Z",
                   "reason": "Blood pressure"}),
        )
        .await;
    let note = app.note(&owner, &patient, "A note").await;
    let read = |token: &str, path: String, purpose: Option<&'static str>| {
        let mut request = app
            .client
            .get(format!("{}{path}", app.url))
            .bearer_auth(token);
        if let Some(purpose) = purpose {
            request = request.header("x-purpose-of-use", purpose);
        }
        request.send()
    };
    let patient_path = format!("/api/v1/patients/{patient}");

    // Off by default: a read without a purpose passes, one with it keeps it, and
    // a purpose that is not a code is a 400 wherever it is sent.
    assert_eq!(
        read(&owner.access, patient_path.clone(), None)
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        read(&owner.access, patient_path.clone(), Some("TREAT"))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(clinical_events(&app, Some("TREAT")), 1);
    for bad in ["treat", "BTG", ""] {
        let answer = read(&owner.access, patient_path.clone(), Some(bad))
            .await
            .unwrap();
        assert_eq!(answer.status(), 400, "{bad:?}");
        let problem: Value = answer.json().await.unwrap();
        assert_eq!(problem["code"], "malformed_purpose_of_use");
    }
    let before_requirement = clinical_events(&app, None);

    let set = app
        .client
        .patch(format!("{}/api/v1/clinic", app.url))
        .bearer_auth(&owner.access)
        .header("if-match", "*")
        .json(&json!({"purpose_of_use_required": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), 200);
    assert_eq!(
        set.json::<Value>().await.unwrap()["purpose_of_use_required"],
        true
    );

    // Every read of the contract, without a purpose: exactly those that declare
    // the header refuse.
    let id_for = |path: &str| {
        [
            ("/api/v1/patients/", &patient),
            ("/api/v1/notes/", &note),
            ("/api/v1/appointments/", &appointment),
        ]
        .into_iter()
        .find(|(prefix, _)| path.starts_with(prefix))
        .map_or_else(|| uuid::Uuid::now_v7().to_string(), |(_, id)| id.clone())
    };
    let reads: Vec<_> = operations()
        .into_iter()
        .filter(|o| o.method == "GET" && !o.public && o.path.starts_with("/api/"))
        .collect();
    let mut refused = Vec::new();
    for op in &reads {
        let answer = read(&owner.access, op.path_with(&id_for(&op.path)), None)
            .await
            .unwrap();
        let status = answer.status();
        let body = answer.text().await.unwrap();
        if status == 403 && body.contains("purpose_of_use_required") {
            refused.push(op.name());
        }
    }
    refused.sort();
    let declared = declaring_the_header();
    assert!(declared.len() >= 6, "{declared:?}");
    assert_eq!(
        refused, declared,
        "refused without a purpose vs declaring the header"
    );
    assert_eq!(
        clinical_events(&app, None),
        before_requirement,
        "no clinical read was recorded without a purpose"
    );

    // With a purpose each answers, and its event keeps the purpose.
    for op in reads.iter().filter(|o| declared.contains(&o.name())) {
        let answer = read(
            &owner.access,
            op.path_with(&id_for(&op.path)),
            Some("CAREMGT"),
        )
        .await
        .unwrap();
        assert!(
            answer.status().is_success(),
            "{}: {}",
            op.name(),
            answer.status()
        );
    }
    assert!(
        clinical_events(&app, Some("CAREMGT")) >= 6,
        "each clinical read recorded its purpose"
    );

    // A member who cannot read clinical data reads demographics without one.
    assert_eq!(
        read(&receptionist.access, patient_path, None)
            .await
            .unwrap()
            .status(),
        200
    );
}
