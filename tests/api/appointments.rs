//! Appointments: booking, double booking refused by the database (also under a
//! race), the state machine, rescheduling and history.

use salus_tests::TestApp;
use salus_tests::identity::Member;
use serde_json::{Value, json};

struct Setup {
    owner: Member,
    practitioner: String,
    patient: String,
}

async fn setup(app: &TestApp) -> Setup {
    let owner = app.owner_with_mfa("Harbour Clinic").await;
    let practitioner = app.practitioner(&owner).await;
    let patient = app
        .patient(&owner, json!({"family_name": "Curie", "given_name": "Marie", "birth_date": "1967-11-07", "sex": "female"}))
        .await
        .id;
    Setup {
        owner,
        practitioner,
        patient,
    }
}

async fn read(app: &TestApp, token: &str, id: &str) -> Value {
    app.get_as(token, &format!("/api/v1/appointments/{id}"))
        .await
        .json()
        .await
        .unwrap()
}

/// A booking of the set-up's patient with its practitioner.
fn slot(s: &Setup, start: &str, end: &str) -> Value {
    json!({"patient_id": s.patient, "practitioner_id": s.practitioner, "starts_at": start, "ends_at": end, "reason": "persistent cough"})
}

async fn book(app: &TestApp, who: &Member, body: &Value) -> reqwest::Response {
    app.post_json_as(&who.access, "/api/v1/appointments", body)
        .await
}

#[tokio::test]
async fn overlapping_bookings_are_refused_and_adjacent_ones_accepted() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let first = book(
        &app,
        &s.owner,
        &slot(&s, "2030-03-01T09:00:00Z", "2030-03-01T09:30:00Z"),
    )
    .await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["status"], "scheduled");
    assert_eq!(first["reason"], "persistent cough");

    let overlap = book(
        &app,
        &s.owner,
        &slot(&s, "2030-03-01T09:15:00Z", "2030-03-01T09:45:00Z"),
    )
    .await;
    assert_eq!(overlap.status(), 409);
    let problem: Value = overlap.json().await.unwrap();
    assert_eq!(problem["code"], "slot_taken");
    let adjacent = book(
        &app,
        &s.owner,
        &slot(&s, "2030-03-01T09:30:00Z", "2030-03-01T10:00:00Z"),
    )
    .await;
    assert_eq!(adjacent.status(), 201);

    // A cancelled appointment frees its slot.
    let id = first["id"].as_str().unwrap();
    let cancel = app
        .post(&format!("/api/v1/appointments/{id}/status"))
        .header("if-match", "*")
        .bearer_auth(&s.owner.access)
        .json(&json!({"status": "cancelled", "reason": "patient called"}))
        .send()
        .await
        .unwrap();
    assert_eq!(cancel.status(), 200);
    let again = book(
        &app,
        &s.owner,
        &slot(&s, "2030-03-01T09:00:00Z", "2030-03-01T09:30:00Z"),
    )
    .await;
    assert_eq!(again.status(), 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_concurrent_bookings_of_one_slot_cannot_both_succeed() {
    let app = TestApp::spawn_with(&[("HTTP_WORKERS", "4")]).await;
    let s = setup(&app).await;
    for round in 0..5 {
        let start = format!("2030-04-0{}T10:00:00Z", round + 1);
        let end = format!("2030-04-0{}T10:30:00Z", round + 1);
        let body = slot(&s, &start, &end);
        let (a, b) = tokio::join!(book(&app, &s.owner, &body), book(&app, &s.owner, &body));
        let mut statuses = [a.status().as_u16(), b.status().as_u16()];
        statuses.sort_unstable();
        assert_eq!(statuses, [201, 409], "round {round}");
    }
}

#[tokio::test]
async fn the_state_machine_refuses_illegal_moves_naming_the_current_state() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let id = app
        .booking(
            &s.owner,
            slot(&s, "2030-05-01T08:00:00Z", "2030-05-01T08:30:00Z"),
        )
        .await;
    let move_to = |status: &'static str| {
        app.post(&format!("/api/v1/appointments/{id}/status"))
            .header("if-match", "*")
            .bearer_auth(&s.owner.access)
            .json(&json!({"status": status}))
            .send()
    };
    let illegal = move_to("completed").await.unwrap();
    assert_eq!(illegal.status(), 409);
    let problem: Value = illegal.json().await.unwrap();
    assert_eq!(problem["code"], "illegal_transition");
    assert!(problem["detail"].as_str().unwrap().contains("scheduled"));
    for step in ["confirmed", "checked_in", "in_progress", "completed"] {
        assert_eq!(move_to(step).await.unwrap().status(), 200, "{step}");
    }
    assert_eq!(
        move_to("cancelled").await.unwrap().status(),
        422,
        "a cancellation needs a reason"
    );
    let history: Value = app
        .get_as(
            &s.owner.access,
            &format!("/api/v1/appointments/{id}/history"),
        )
        .await
        .json()
        .await
        .unwrap();
    let statuses: Vec<&str> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["change"]["status"]["to"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "scheduled",
            "confirmed",
            "checked_in",
            "in_progress",
            "completed"
        ]
    );
}

#[tokio::test]
async fn rescheduling_keeps_the_history_and_refuses_taken_slots() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let id = app
        .booking(
            &s.owner,
            slot(&s, "2030-06-01T08:00:00Z", "2030-06-01T08:30:00Z"),
        )
        .await;
    app.booking(
        &s.owner,
        slot(&s, "2030-06-01T09:00:00Z", "2030-06-01T09:30:00Z"),
    )
    .await;
    let move_to = |start: &'static str, end: &'static str| {
        app.client
            .put(format!("{}/api/v1/appointments/{id}/schedule", app.url))
            .header("if-match", "*")
            .bearer_auth(&s.owner.access)
            .json(&json!({"starts_at": start, "ends_at": end}))
            .send()
    };
    assert_eq!(
        move_to("2030-06-01T09:10:00Z", "2030-06-01T09:40:00Z")
            .await
            .unwrap()
            .status(),
        409
    );
    assert_eq!(
        move_to("2030-06-01T10:00:00Z", "2030-06-01T10:30:00Z")
            .await
            .unwrap()
            .status(),
        200
    );
    let history: Value = app
        .get_as(
            &s.owner.access,
            &format!("/api/v1/appointments/{id}/history"),
        )
        .await
        .json()
        .await
        .unwrap();
    let last = &history["items"][1]["change"];
    assert_eq!(last["starts_at"]["from"], "2030-06-01T08:00:00Z");
    assert_eq!(last["starts_at"]["to"], "2030-06-01T10:00:00Z");

    let list: Value = app
        .get_as(&s.owner.access, &format!("/api/v1/appointments?practitioner_id={}&from=2030-06-01T00:00:00Z&to=2030-06-02T00:00:00Z", s.practitioner))
        .await
        .json()
        .await
        .unwrap();
    let starts: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["starts_at"].as_str().unwrap())
        .collect();
    assert_eq!(starts, ["2030-06-01T09:00:00Z", "2030-06-01T10:00:00Z"]);
}

#[tokio::test]
async fn a_receptionist_books_but_never_sees_the_reason() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let receptionist = app.join_as(&s.owner, "receptionist").await;
    let created = book(
        &app,
        &receptionist,
        &slot(&s, "2030-07-01T08:00:00Z", "2030-07-01T08:30:00Z"),
    )
    .await;
    assert_eq!(created.status(), 201);
    let body: Value = created.json().await.unwrap();
    assert!(body.get("reason").is_none(), "{body}");
    let id = body["id"].as_str().unwrap();
    let owner_view: Value = app
        .get_as(&s.owner.access, &format!("/api/v1/appointments/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(owner_view["reason"], "persistent cough");
}

#[tokio::test]
async fn working_hours_shape_availability_and_bookings() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let patch = app
        .client
        .patch(format!("{}/api/v1/clinic", app.url))
        .header("if-match", "*")
        .bearer_auth(&s.owner.access)
        .json(&json!({"time_zone": "Europe/Paris"}))
        .send()
        .await
        .unwrap();
    assert_eq!(patch.status(), 200);
    let hours = app
        .client
        .put(format!(
            "{}/api/v1/practitioners/{}/hours",
            app.url, s.practitioner
        ))
        .header("if-match", "*")
        .bearer_auth(&s.owner.access)
        .json(&json!({"hours": [{"weekday": 1, "starts": "09:00", "ends": "12:00"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(hours.status(), 204);
    let absence = app
        .post(&format!(
            "/api/v1/practitioners/{}/absences",
            s.practitioner
        ))
        .bearer_auth(&s.owner.access)
        .json(&json!({"starts_at": "2030-01-07T10:00:00Z", "ends_at": "2030-01-07T11:00:00Z"}))
        .send()
        .await
        .unwrap();
    assert_eq!(absence.status(), 201);

    // Monday 2030-01-07: 09:00-12:00 Paris = 08:00-11:00 UTC, minus the 10:00-11:00 absence.
    let slots: Value = app
        .get_as(
            &s.owner.access,
            &format!("/api/v1/practitioners/{}/availability?from=2030-01-07T00:00:00Z&to=2030-01-08T00:00:00Z&slot_minutes=30", s.practitioner),
        )
        .await
        .json()
        .await
        .unwrap();
    let starts: Vec<&str> = slots["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["starts_at"].as_str().unwrap())
        .collect();
    assert_eq!(
        starts,
        [
            "2030-01-07T08:00:00Z",
            "2030-01-07T08:30:00Z",
            "2030-01-07T09:00:00Z",
            "2030-01-07T09:30:00Z"
        ]
    );

    let outside = slot(&s, "2030-01-07T13:00:00Z", "2030-01-07T13:30:00Z");
    let refused = book(&app, &s.owner, &outside).await;
    assert_eq!(refused.status(), 409);
    let problem: Value = refused.json().await.unwrap();
    assert_eq!(problem["code"], "outside_working_hours");

    let mut forced = outside.clone();
    forced["override_hours"] = json!(true);
    let receptionist = app.join_as(&s.owner, "receptionist").await;
    assert_eq!(
        book(&app, &receptionist, &forced).await.status(),
        403,
        "override needs appointments.override"
    );
    assert_eq!(book(&app, &s.owner, &forced).await.status(), 201);
    assert_eq!(
        book(
            &app,
            &s.owner,
            &slot(&s, "2030-01-07T08:00:00Z", "2030-01-07T08:30:00Z")
        )
        .await
        .status(),
        201
    );
    let after: Value = app
        .get_as(
            &s.owner.access,
            &format!("/api/v1/practitioners/{}/availability?from=2030-01-07T00:00:00Z&to=2030-01-08T00:00:00Z", s.practitioner),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        after["items"].as_array().unwrap().len(),
        3,
        "the booked slot is no longer free"
    );
}

#[tokio::test]
async fn reminders_follow_consent_and_the_appointment() {
    let app = TestApp::spawn().await;
    let s = setup(&app).await;
    let consenting = app
        .patient(
            &s.owner,
            json!({"family_name": "Reminded", "given_name": "Rita", "birth_date": "1990-02-02", "sex": "female",
                   "phone": "+33611111111", "reminder_consent": {"sms": true}}),
        )
        .await
        .id;
    let start = salus_domain::Clock::now(app.clock.as_ref()) + chrono::Duration::days(3);
    let at =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let body = json!({"patient_id": consenting, "practitioner_id": s.practitioner, "starts_at": at(start),
                      "ends_at": at(start + chrono::Duration::minutes(20)), "reason": "SECRET-REASON-77"});
    let id = app.booking(&s.owner, body).await;
    let token = s.owner.access.clone();
    let view = read(&app, &token, &id).await;
    assert_eq!(view["reminders"][0]["channel"], "sms");
    assert_eq!(view["reminders"][0]["status"], "pending");
    assert_eq!(
        view["reminders"][0]["scheduled_for"],
        at(start - chrono::Duration::hours(24))
    );
    let sms = app.outbox("+33611111111");
    assert_eq!(sms.len(), 1);
    assert!(
        sms[0].1.contains("Harbour Clinic") && !sms[0].1.contains("SECRET-REASON-77"),
        "{}",
        sms[0].1
    );

    // Rescheduling moves the reminder; the old one is withdrawn.
    let later = start + chrono::Duration::days(1);
    let moved = app
        .client
        .put(format!("{}/api/v1/appointments/{id}/schedule", app.url))
        .header("if-match", "*")
        .bearer_auth(&s.owner.access)
        .json(
            &json!({"starts_at": at(later), "ends_at": at(later + chrono::Duration::minutes(20))}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(moved.status(), 200);
    assert_eq!(
        read(&app, &token, &id).await["reminders"][0]["scheduled_for"],
        at(later - chrono::Duration::hours(24))
    );
    assert_eq!(
        app.outbox("+33611111111").len(),
        1,
        "the first reminder was withdrawn"
    );

    // Delivery shows on the appointment.
    let pool = salus_persistence::build_pool(
        &secrecy::SecretString::from(app.db.api_url()),
        salus_persistence::PoolSettings {
            max_size: 1,
            statement_timeout_ms: 5000,
            checkout_timeout: std::time::Duration::from_secs(5),
        },
    );
    let when = later - chrono::Duration::hours(23);
    let sent = tokio::task::spawn_blocking(move || {
        salus_persistence::outbox_repo::deliver_due(&pool, when, 100, &|_| Ok(()))
    })
    .await
    .unwrap()
    .unwrap();
    assert!(sent >= 1);
    assert_eq!(
        read(&app, &token, &id).await["reminders"][0]["status"],
        "delivered"
    );

    // A patient who did not consent gets none.
    let silent = app
        .booking(
            &s.owner,
            slot(
                &s,
                &at(start + chrono::Duration::hours(2)),
                &at(start + chrono::Duration::hours(3)),
            ),
        )
        .await;
    assert_eq!(read(&app, &token, &silent).await["reminders"], json!([]));
}
