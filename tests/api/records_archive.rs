//! The records archive (issue 15): the archive job moves patients without an
//! encounter for the clinic's `archive_after_years` out of lists and search; their
//! record answers 403 `patient_in_archive` and opens only by break-the-glass, for
//! a member with `patients.archive_read` who states a reason, which the audit
//! event keeps, while the owners are emailed.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use salus_tests::TestApp;
use salus_tests::identity::Member;
use serde_json::{Value, json};

fn at(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn archive_round(app: &TestApp) -> usize {
    let services = app.services();
    tokio::task::spawn_blocking(move || salus::closure_job::archive_round(&services))
        .await
        .unwrap()
        .unwrap()
}

async fn listed(app: &TestApp, who: &Member, query: &str) -> Vec<String> {
    let page: Value = app
        .get_as(&who.access, &format!("/api/v1/patients?{query}"))
        .await
        .json()
        .await
        .unwrap();
    page["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{page}"))
        .iter()
        .map(|p| p["family_name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn inactive_patients_leave_lists_and_open_only_by_break_the_glass_with_a_reason() {
    let app = TestApp::spawn().await;
    let mut owner = app.owner_with_mfa("Harbour Clinic").await;
    let practitioner = app.practitioner(&owner).await;
    let person = |name: &str| json!({"family_name": name, "given_name": "Ana", "birth_date": "1975-05-05", "sex": "female"});
    let seen = app.patient(&owner, person("Seenonce")).await.id;
    let never = app.patient(&owner, person("Neverseen")).await.id;
    let coming = app.patient(&owner, person("Comingback")).await.id;
    let now = salus_domain::Clock::now(app.clock.as_ref());
    let book = |patient: &str, days: i64| {
        let start = now + Duration::days(days);
        json!({"patient_id": patient, "practitioner_id": practitioner, "starts_at": at(start),
               "ends_at": at(start + Duration::minutes(20))})
    };
    app.booking(&owner, book(&seen, 3)).await;
    app.note(&owner, &seen, "Seen").await;
    app.booking(&owner, book(&coming, 200)).await;
    assert_eq!(archive_round(&app).await, 0, "5 years by default");

    let patch = |years: i64| {
        app.client
            .patch(format!("{}/api/v1/clinic", app.url))
            .bearer_auth(&owner.access)
            .header("if-match", "*")
            .json(&json!({ "archive_after_years": years }))
            .send()
    };
    assert_eq!(patch(0).await.unwrap().status(), 422);
    assert_eq!(patch(51).await.unwrap().status(), 422);
    let set = patch(1).await.unwrap();
    assert_eq!(set.status(), 200);
    assert_eq!(set.json::<Value>().await.unwrap()["archive_after_years"], 1);

    app.clock.advance(Duration::days(3) + Duration::days(366));
    assert_eq!(
        archive_round(&app).await,
        2,
        "the one seen, the one never seen"
    );
    assert_eq!(archive_round(&app).await, 0, "moved once");
    app.sign_in_again(&mut owner).await;

    // Gone from lists and search, archived records included.
    assert_eq!(listed(&app, &owner, "").await, ["Comingback"]);
    assert_eq!(
        listed(&app, &owner, "include_archived=true").await,
        ["Comingback"]
    );
    assert!(listed(&app, &owner, "name=seen").await.is_empty());
    for patient in [&seen, &never] {
        let read = app
            .get_as(&owner.access, &format!("/api/v1/patients/{patient}"))
            .await;
        assert_eq!(read.status(), 403);
        let body: Value = read.json().await.unwrap();
        assert_eq!(body["code"], "patient_in_archive");
    }
    let read = app
        .get_as(&owner.access, &format!("/api/v1/patients/{coming}"))
        .await;
    assert_eq!(
        read.status(),
        200,
        "an appointment ahead keeps the record active"
    );

    // Break-the-glass: a reason, the permission, the trail and the owners.
    let path = format!("/api/v1/patients/{seen}/break-glass");
    let without = app.post_json_as(&owner.access, &path, &json!({})).await;
    assert_eq!(without.status(), 422);
    let admin = app.join_as(&owner, "administrator").await;
    let reason = json!({"reason": "BREAK-GLASS-OTTER continuity of care"});
    let refused = app.post_json_as(&admin.access, &path, &reason).await;
    assert_eq!(refused.status(), 403);
    let opened = app.post_json_as(&owner.access, &path, &reason).await;
    assert_eq!(opened.status(), 200);
    let body: Value = opened.json().await.unwrap();
    assert_eq!(body["family_name"], "Seenonce");
    let mut su = app.db.superuser();
    let kept = diesel::sql_query(
        "SELECT count(*) AS n FROM audit.events WHERE action = 'patient.break_glass_read'
            AND resource_id::text = $1 AND details LIKE '%BREAK-GLASS-OTTER%'",
    )
    .bind::<Text, _>(&seen)
    .get_result::<Count>(&mut su)
    .unwrap()
    .n;
    assert_eq!(kept, 1, "the reason is in the audit event");
    let moved = diesel::sql_query(
        "SELECT count(*) AS n FROM audit.events WHERE action = 'patient.moved_to_archive'",
    )
    .get_result::<Count>(&mut su)
    .unwrap()
    .n;
    assert_eq!(moved, 2);
    assert!(
        app.outbox(&owner.email)
            .iter()
            .any(|(subject, body)| subject.contains("Break-the-glass") && body.contains(&seen)),
        "the owners are told"
    );
}

/// Operations that still reach a record in the records archive, because they
/// show nothing of it: the way in, the way back, its access log (audit
/// metadata) and the erasure procedure (the right to erasure covers archives).
const OPEN_ON_AN_ARCHIVED_RECORD: &[&str] = &[
    "POST /api/v1/patients/{id}/break-glass",
    "POST /api/v1/patients/{id}/return-from-archive",
    "GET /api/v1/patients/{id}/access-log",
    "GET /api/v1/patients/{id}/erasure",
    "POST /api/v1/patients/{id}/erasure",
    "POST /api/v1/patients/{id}/erasure/decision",
];

#[tokio::test]
async fn every_operation_that_reaches_an_archived_record_refuses_it_until_it_comes_back() {
    let app = TestApp::spawn().await;
    let mut owner = app.owner_with_mfa("Sealed Clinic").await;
    let practitioner = app.practitioner(&owner).await;
    let patient = app
        .patient(
            &owner,
            json!({"family_name": "Sealed", "given_name": "Ana", "birth_date": "1970-01-01", "sex": "female"}),
        )
        .await
        .id;
    let now = salus_domain::Clock::now(app.clock.as_ref());
    let start = now + Duration::days(3);
    let appointment = app
        .booking(
            &owner,
            json!({"patient_id": patient, "practitioner_id": practitioner, "starts_at": at(start),
                   "ends_at": at(start + Duration::minutes(20))}),
        )
        .await;
    let note = app.note(&owner, &patient, "Sealed note").await;
    let entry = app.queue_entry(&owner, &patient).await;
    let patch = app
        .client
        .patch(format!("{}/api/v1/clinic", app.url))
        .bearer_auth(&owner.access)
        .header("if-match", "*")
        .json(&json!({ "archive_after_years": 1 }))
        .send()
        .await
        .unwrap();
    assert_eq!(patch.status(), 200);
    app.clock.advance(Duration::days(3) + Duration::days(366));
    assert_eq!(archive_round(&app).await, 1);
    app.sign_in_again(&mut owner).await;

    // Every operation that names the record, one of its notes, appointments or
    // queue entries, or the patient in its body.
    let id_for = |path: &str| {
        [
            ("/api/v1/patients/", &patient),
            ("/api/v1/notes/", &note),
            ("/api/v1/appointments/", &appointment),
            ("/api/v1/queue/", &entry),
        ]
        .into_iter()
        .find(|(prefix, _)| path.starts_with(prefix))
        .map(|(_, id)| id.clone())
    };
    let mut refused = Vec::new();
    for op in salus_tests::contract::operations()
        .iter()
        .filter(|o| !o.public)
    {
        let mut body = op.body.as_ref().map(salus_tests::contract::example);
        let names_patient_in_body = body.as_ref().is_some_and(|b| b.get("patient_id").is_some());
        let path = match (op.takes_id(), id_for(&op.path)) {
            (true, Some(id)) => op.path_with(&id),
            (false, _) if names_patient_in_body => op.path.clone(),
            _ => continue,
        };
        if OPEN_ON_AN_ARCHIVED_RECORD.contains(&op.name().as_str()) {
            continue;
        }
        if names_patient_in_body {
            body.as_mut().unwrap()["patient_id"] = json!(patient);
        }
        let method = reqwest::Method::from_bytes(op.method.as_bytes()).unwrap();
        let mut request = app
            .client
            .request(method, format!("{}{path}", app.url))
            .bearer_auth(&owner.access)
            .header("if-match", "\"v1\"");
        if let Some(body) = &body {
            request = request.json(body);
        }
        let answer = request.send().await.unwrap();
        let status = answer.status();
        let problem: Value = answer.json().await.unwrap_or(Value::Null);
        assert_eq!(
            (status.as_u16(), problem["code"].as_str()),
            (403, Some("patient_in_archive")),
            "{}: {problem}",
            op.name()
        );
        refused.push(op.name());
    }
    for expected in [
        "GET /api/v1/patients/{id}",
        "PUT /api/v1/notes/{id}",
        "POST /api/v1/appointments",
        "POST /api/v1/queue/{id}/start",
    ] {
        assert!(
            refused.iter().any(|r| r == expected),
            "{expected} was walked: {refused:?}"
        );
    }
    // Lists show neither the record nor its appointments (the audit trail
    // names them, as it names everything: it holds no record data).
    for op in salus_tests::contract::operations().iter().filter(|o| {
        o.method == "GET"
            && !o.takes_id()
            && !o.public
            && !o
                .permission
                .as_deref()
                .is_some_and(|p| p.starts_with("audit."))
    }) {
        let body = app
            .get_as(&owner.access, &op.path)
            .await
            .text()
            .await
            .unwrap();
        for hidden in [&patient, &appointment] {
            assert!(
                !body.contains(hidden.as_str()),
                "{} shows {hidden}",
                op.name()
            );
        }
    }
    let appointments = app
        .get_as(
            &owner.access,
            &format!("/api/v1/appointments?patient_id={patient}"),
        )
        .await
        .text()
        .await
        .unwrap();
    assert!(!appointments.contains(&appointment), "{appointments}");

    // The way back: a reason, recorded; then the record answers again.
    let back = app
        .post_json_as(
            &owner.access,
            &format!("/api/v1/patients/{patient}/return-from-archive"),
            &json!({"reason": "RETURN-HERON the patient is back"}),
        )
        .await;
    assert_eq!(back.status(), 200);
    let read = app
        .get_as(&owner.access, &format!("/api/v1/patients/{patient}"))
        .await;
    assert_eq!(read.status(), 200);
    let notes = app
        .get_as(&owner.access, &format!("/api/v1/patients/{patient}/notes"))
        .await;
    assert_eq!(notes.status(), 200);
    assert!(notes.text().await.unwrap().contains(&note));
    assert_eq!(listed(&app, &owner, "name=sealed").await, ["Sealed"]);
    let mut su = app.db.superuser();
    let kept = diesel::sql_query(
        "SELECT count(*) AS n FROM audit.events WHERE action = 'patient.returned_from_archive'
            AND resource_id::text = $1 AND details LIKE '%RETURN-HERON%'",
    )
    .bind::<Text, _>(&patient)
    .get_result::<Count>(&mut su)
    .unwrap()
    .n;
    assert_eq!(kept, 1, "the reason is in the audit event");
    assert!(
        app.outbox(&owner.email)
            .iter()
            .any(|(subject, body)| subject.contains("came back") && body.contains(&patient)),
        "the owners are told"
    );
}
