//! The waiting queue: tickets, call-next under a race, transitions.

use salus_tests::TestApp;
use salus_tests::identity::Member;
use serde_json::{Value, json};

/// A new patient's id.
async fn patient(app: &TestApp, owner: &Member, name: &str) -> String {
    app.patient(owner, json!({"family_name": name, "given_name": "P", "birth_date": "1970-01-01", "sex": "unknown"}))
        .await
        .id
}

async fn check_in(app: &TestApp, owner: &Member, body: Value) -> reqwest::Response {
    app.post_json_as(&owner.access, "/api/v1/queue", &body)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_receptionists_calling_at_once_never_get_the_same_patient() {
    let app = TestApp::spawn_with(&[("HTTP_WORKERS", "4")]).await;
    let owner = app.owner_with_mfa("Queue Clinic").await;
    let mut tickets = Vec::new();
    for n in 0..6 {
        let id = patient(&app, &owner, &format!("Walkin{n}")).await;
        let entry: Value = check_in(&app, &owner, json!({"patient_id": id}))
            .await
            .json()
            .await
            .unwrap();
        tickets.push(entry["ticket"].as_i64().unwrap());
    }
    assert_eq!(tickets, [1, 2, 3, 4, 5, 6], "tickets number the day");

    let call = || {
        app.post("/api/v1/queue/call-next")
            .bearer_auth(&owner.access)
            .json(&json!({}))
            .send()
    };
    let mut called = Vec::new();
    for _ in 0..3 {
        let (a, b) = tokio::join!(call(), call());
        for r in [a.unwrap(), b.unwrap()] {
            assert_eq!(r.status(), 200);
            let e: Value = r.json().await.unwrap();
            called.push(e["ticket"].as_i64().unwrap());
        }
    }
    called.sort_unstable();
    assert_eq!(
        called,
        [1, 2, 3, 4, 5, 6],
        "each patient called exactly once"
    );
    assert_eq!(call().await.unwrap().status(), 204, "nobody left waiting");
}

#[tokio::test]
async fn an_appointment_checks_in_and_the_visit_moves_on() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Queue Clinic").await;
    let practitioner = app.practitioner(&owner).await;
    let p = patient(&app, &owner, "Booked").await;
    let appointment = app
        .booking(&owner, json!({"patient_id": p, "practitioner_id": practitioner, "starts_at": "2030-01-01T09:00:00Z", "ends_at": "2030-01-01T09:20:00Z"}))
        .await;
    let entry: Value = check_in(
        &app,
        &owner,
        json!({"patient_id": p, "appointment_id": appointment}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(entry["practitioner_id"], practitioner.as_str());
    let a: Value = app
        .get_as(
            &owner.access,
            &format!("/api/v1/appointments/{appointment}"),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(a["status"], "checked_in");
    let again = check_in(
        &app,
        &owner,
        json!({"patient_id": p, "appointment_id": appointment}),
    )
    .await;
    assert_eq!(again.status(), 409, "an appointment checks in once");

    let id = entry["id"].as_str().unwrap();
    let step = |action: &'static str| {
        app.post(&format!("/api/v1/queue/{id}/{action}"))
            .header("if-match", "*")
            .bearer_auth(&owner.access)
            .send()
    };
    assert_eq!(step("start").await.unwrap().status(), 409, "not called yet");
    let called = app
        .post("/api/v1/queue/call-next")
        .bearer_auth(&owner.access)
        .json(&json!({"practitioner_id": practitioner}))
        .send()
        .await
        .unwrap();
    assert_eq!(called.status(), 200);
    assert_eq!(step("start").await.unwrap().status(), 200);
    assert_eq!(step("complete").await.unwrap().status(), 200);
    assert_eq!(step("left").await.unwrap().status(), 409);
    let queue: Value = app
        .get_as(&owner.access, "/api/v1/queue")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(queue["items"][0]["status"], "completed");
}
