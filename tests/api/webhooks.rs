//! Webhooks (issue 19), against real receivers the tests start on loopback
//! (allowed only by the test configuration): every event type is emitted by
//! the operation that should emit it, signed as Standard Webhooks says (checked
//! by the receiver's own code), with ids and no health data; failures are
//! retried on the backoff schedule, stop on 2xx, give up after three days and
//! then disable the endpoint and tell the clinic; one resource's events arrive
//! in order; no redirect is followed; inside addresses are refused when the
//! endpoint is saved and again when a delivery connects; a slow or endless
//! receiver is cut off; secrets rotate with two valid at once.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use salus::config::WebhookSettings;
use salus::webhooks::client::WebhookClient;
use salus_domain::Clock;
use salus_domain::webhooks::events::EventType;
use salus_tests::TestApp;
use salus_tests::identity::Member;
use salus_tests::webhooks::{Answer, Receiver, verify};
use serde_json::{Value, json};

/// A business clinic's owner, with a fresh MFA check (changes need a step-up).
async fn business_owner(app: &TestApp, name: &str) -> Member {
    let owner = app.owner_with_mfa(name).await;
    let clinic = app.me(&owner).await["clinic"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.set_plan(&clinic, "business");
    owner
}

/// Subscribes `url` to `types` as `owner`: the endpoint's id and its secret.
async fn subscribe(app: &TestApp, owner: &Member, url: &str, types: &[&str]) -> (String, String) {
    let created = app
        .post_json_as(
            &owner.access,
            "/api/v1/webhook-endpoints",
            &json!({"url": url, "description": "Partner", "event_types": types}),
        )
        .await;
    let status = created.status();
    let body: Value = created.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    (
        body["endpoint"]["id"].as_str().unwrap().to_owned(),
        body["secret"].as_str().unwrap().to_owned(),
    )
}

/// An endpoint's delivery log, newest first.
async fn log(app: &TestApp, owner: &Member, endpoint: &str) -> Vec<Value> {
    let page: Value = app
        .get_as(
            &owner.access,
            &format!("/api/v1/webhook-endpoints/{endpoint}/deliveries?limit=100"),
        )
        .await
        .json()
        .await
        .unwrap();
    page["items"].as_array().unwrap().clone()
}

async fn read_endpoint(app: &TestApp, owner: &Member, id: &str) -> Value {
    app.get_as(&owner.access, &format!("/api/v1/webhook-endpoints/{id}"))
        .await
        .json()
        .await
        .unwrap()
}

fn instant(value: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(value.as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

/// Equal as stored (the database keeps microseconds, the test clock more).
fn within_a_millisecond(a: DateTime<Utc>, b: DateTime<Utc>) -> bool {
    (a - b).num_microseconds().is_some_and(|d| d.abs() < 1000)
}

fn patient(name: &str) -> Value {
    json!({"family_name": name, "given_name": "Ada", "birth_date": "1980-02-03", "sex": "female",
           "national_id": "2800275123456", "phone": "+33612345678",
           "medical_history": {"allergies": ["penicillin"], "conditions": ["asthma"], "medications": []}})
}

/// Sends `body` with `method` to `path` as `who`, `If-Match: *`.
async fn send(
    app: &TestApp,
    who: &Member,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Value {
    let request = app
        .client
        .request(method, format!("{}{path}", app.url))
        .bearer_auth(&who.access)
        .header("if-match", "*");
    let request = match body {
        Some(body) => request.json(&body),
        None => request,
    };
    let response = request.send().await.unwrap();
    let status = response.status();
    let answer: Value = response.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{path}: {status} {answer}");
    answer
}

#[tokio::test]
async fn a_subscribed_endpoint_receives_its_events_signed_with_ids_and_no_health_data() {
    let app = TestApp::spawn().await;
    let owner = business_owner(&app, "Signed Clinic").await;
    let receiver = Receiver::start();
    let (id, secret) = subscribe(
        &app,
        &owner,
        &receiver.url(),
        &["patient.created", "appointment.booked"],
    )
    .await;
    assert!(secret.starts_with("whsec_"), "{secret}");
    let listed = read_endpoint(&app, &owner, &id).await;
    assert!(
        !listed.to_string().contains(&secret[6..]),
        "the secret is shown once"
    );

    let patient_id = app.patient(&owner, patient("Quillon")).await.id;
    let practitioner = app.practitioner(&owner).await;
    let appointment = app
        .booking(
            &owner,
            json!({"patient_id": patient_id, "practitioner_id": practitioner, "reason": "chest pain",
                   "starts_at": "2031-03-04T09:00:00Z", "ends_at": "2031-03-04T09:30:00Z",
                   "override_hours": true}),
        )
        .await;
    // Not subscribed: not sent.
    send(
        &app,
        &owner,
        reqwest::Method::PUT,
        &format!("/api/v1/patients/{patient_id}"),
        Some(patient("Quillon-Renamed")),
    )
    .await;
    assert!(
        receiver.received().is_empty(),
        "nothing before the worker runs"
    );

    let round = app.webhook_round().await;
    assert_eq!((round.delivered, round.failed), (2, 0), "{round:?}");
    let received = receiver.received();
    assert_eq!(received.len(), 2);
    let now = app.clock.now().timestamp().to_string();
    let log = log(&app, &owner, &id).await;
    for request in &received {
        assert_eq!(request.method, "POST");
        assert_eq!(request.path, "/hook");
        assert_eq!(request.header("content-type"), "application/json");
        assert!(request.header("user-agent").starts_with("Salus-Webhooks/"));
        assert_eq!(request.header("webhook-timestamp"), now);
        assert!(request.signed_by(&secret), "{:?}", request.headers);
        // A changed body, id or timestamp no longer verifies.
        let mut tampered = request.body.clone();
        tampered.push(b' ');
        for (id, timestamp, body) in [
            (
                request.header("webhook-id"),
                now.as_str(),
                tampered.as_slice(),
            ),
            ("another-id", now.as_str(), request.body.as_slice()),
            (request.header("webhook-id"), "1", request.body.as_slice()),
        ] {
            assert!(!verify(
                &secret,
                id,
                timestamp,
                body,
                request.header("webhook-signature")
            ));
        }
        let body = request.json();
        let text = String::from_utf8_lossy(&request.body);
        for health in [
            "Quillon",
            "2800275123456",
            "penicillin",
            "asthma",
            "chest pain",
            "+336",
        ] {
            assert!(!text.contains(health), "{health} was sent: {text}");
        }
        assert_eq!(
            body.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["data", "timestamp", "type"]
        );
        let delivery = log
            .iter()
            .find(|d| d["id"] == request.header("webhook-id"))
            .unwrap_or_else(|| panic!("no log line for {}", request.header("webhook-id")));
        assert_eq!(delivery["event_type"], body["type"]);
        assert_eq!(delivery["state"], "delivered");
        assert_eq!(delivery["attempts"], 1);
        assert_eq!(delivery["last_status"], 200);
        match body["type"].as_str().unwrap() {
            "patient.created" => {
                assert_eq!(
                    body["data"],
                    json!({"patient_id": patient_id, "version": 1})
                );
            }
            "appointment.booked" => {
                let data = body["data"].as_object().unwrap();
                assert_eq!(
                    data.keys().collect::<Vec<_>>(),
                    [
                        "appointment_id",
                        "ends_at",
                        "patient_id",
                        "practitioner_id",
                        "starts_at",
                        "status",
                        "version"
                    ]
                );
                assert_eq!(data["appointment_id"], appointment.as_str());
                assert_eq!(data["patient_id"], patient_id.as_str());
                assert_eq!(data["status"], "scheduled");
            }
            other => panic!("{other} was not subscribed"),
        }
    }
    assert_eq!(log.len(), 2, "{log:?}");
    // Nothing is sent twice.
    app.clock.advance(Duration::hours(1));
    assert_eq!(app.webhook_round().await.delivered, 0);
    assert_eq!(receiver.received().len(), 2);
}

/// The operation that emits each event type, walked over the catalogue: a
/// type added without an operation that emits it fails to compile here, and
/// one no operation emits fails the run.
#[tokio::test]
async fn every_event_type_is_emitted_by_the_operation_that_should_emit_it() {
    let app = TestApp::spawn().await;
    let owner = business_owner(&app, "Every Event Clinic").await;
    let receiver = Receiver::start();
    let all: Vec<&str> = EventType::ALL.iter().map(|t| t.code()).collect();
    let (endpoint, _) = subscribe(&app, &owner, &receiver.url(), &all).await;
    let practitioner = app.practitioner(&owner).await;
    let post = reqwest::Method::POST;

    // Each step, and the events it must emit (about which resource).
    let mut expected: Vec<(EventType, String)> = Vec::new();
    let id = app.patient(&owner, patient("Evenson")).await.id;
    expected.push((EventType::PatientCreated, id.clone()));
    let path = format!("/api/v1/patients/{id}");
    send(
        &app,
        &owner,
        reqwest::Method::PUT,
        &path,
        Some(patient("Evenson")),
    )
    .await;
    expected.push((EventType::PatientUpdated, id.clone()));
    send(&app, &owner, post.clone(), &format!("{path}/archive"), None).await;
    expected.push((EventType::PatientArchived, id.clone()));
    send(&app, &owner, post.clone(), &format!("{path}/restore"), None).await;
    expected.push((EventType::PatientRestored, id.clone()));
    let booking = |starts: &str, ends: &str| {
        json!({"patient_id": id, "practitioner_id": practitioner, "starts_at": starts,
               "ends_at": ends, "override_hours": true})
    };
    let first = app
        .booking(
            &owner,
            booking("2031-05-06T09:00:00Z", "2031-05-06T09:30:00Z"),
        )
        .await;
    expected.push((EventType::AppointmentBooked, first.clone()));
    let status = format!("/api/v1/appointments/{first}/status");
    send(
        &app,
        &owner,
        post.clone(),
        &status,
        Some(json!({"status": "confirmed"})),
    )
    .await;
    expected.push((EventType::AppointmentStatusChanged, first.clone()));
    let second = app
        .booking(
            &owner,
            booking("2031-05-07T09:00:00Z", "2031-05-07T09:30:00Z"),
        )
        .await;
    expected.push((EventType::AppointmentBooked, second.clone()));
    send(
        &app,
        &owner,
        reqwest::Method::PUT,
        &format!("/api/v1/appointments/{second}/schedule"),
        Some(json!({"starts_at": "2031-05-08T09:00:00Z", "ends_at": "2031-05-08T09:30:00Z"})),
    )
    .await;
    expected.push((EventType::AppointmentRescheduled, second.clone()));
    send(
        &app,
        &owner,
        post.clone(),
        &format!("/api/v1/appointments/{second}/status"),
        Some(json!({"status": "cancelled", "reason": "the patient called"})),
    )
    .await;
    expected.push((EventType::AppointmentCancelled, second.clone()));
    let entry = send(
        &app,
        &owner,
        post.clone(),
        "/api/v1/queue",
        Some(json!({"patient_id": id, "appointment_id": first})),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    expected.push((EventType::AppointmentStatusChanged, first.clone()));
    expected.push((EventType::QueueCheckedIn, entry.clone()));
    send(
        &app,
        &owner,
        post.clone(),
        "/api/v1/queue/call-next",
        Some(json!({})),
    )
    .await;
    expected.push((EventType::QueueCalled, entry.clone()));
    send(
        &app,
        &owner,
        post.clone(),
        &format!("/api/v1/queue/{entry}/start"),
        None,
    )
    .await;
    expected.push((EventType::QueueStatusChanged, entry.clone()));
    // A patient erased before their events went: those are withdrawn with
    // them, and only the erasure is sent.
    let erased = app.patient(&owner, patient("Erasmus")).await.id;
    let erased_path = format!("/api/v1/patients/{erased}");
    send(
        &app,
        &owner,
        reqwest::Method::PUT,
        &erased_path,
        Some(patient("Erasmus")),
    )
    .await;
    let erasure = format!("/api/v1/patients/{erased}/erasure");
    send(
        &app,
        &owner,
        post.clone(),
        &erasure,
        Some(json!({"reason": "asked"})),
    )
    .await;
    send(
        &app,
        &owner,
        post.clone(),
        &format!("{erasure}/decision"),
        Some(json!({"decision": "erase", "reason": "asked"})),
    )
    .await;
    expected.push((EventType::PatientErased, erased.clone()));

    // Every type of the catalogue has its operation above.
    for kind in EventType::ALL {
        let emitted_by = match kind {
            EventType::AppointmentBooked => "POST /appointments",
            EventType::AppointmentRescheduled => "PUT /appointments/{id}/schedule",
            EventType::AppointmentCancelled => "POST /appointments/{id}/status cancelled",
            EventType::AppointmentStatusChanged => {
                "POST /appointments/{id}/status, POST /queue with the appointment"
            }
            EventType::PatientCreated => "POST /patients",
            EventType::PatientUpdated => "PUT /patients/{id}",
            EventType::PatientArchived => "POST /patients/{id}/archive",
            EventType::PatientRestored => "POST /patients/{id}/restore",
            EventType::PatientErased => "POST /patients/{id}/erasure/decision erase",
            EventType::QueueCheckedIn => "POST /queue",
            EventType::QueueCalled => "POST /queue/call-next",
            EventType::QueueStatusChanged => "POST /queue/{id}/start|complete|left",
        };
        assert!(
            expected.iter().any(|(k, _)| k == kind),
            "{} ({emitted_by}) is not driven by this test",
            kind.code()
        );
    }

    // The worker sends one resource's events in order, one a round: drain.
    let mut rounds = 0;
    while receiver.received().len() < expected.len() && rounds < 20 {
        app.webhook_round().await;
        rounds += 1;
    }
    let received: Vec<(String, Value)> = receiver
        .received()
        .iter()
        .map(|r| {
            (
                r.json()["type"].as_str().unwrap().to_owned(),
                r.json()["data"].clone(),
            )
        })
        .collect();
    let resource_of = |data: &Value| -> String {
        ["queue_entry_id", "appointment_id", "patient_id"]
            .iter()
            .find_map(|k| data[k].as_str())
            .unwrap()
            .to_owned()
    };
    let got: Vec<(String, String)> = received
        .iter()
        .map(|(t, data)| (t.clone(), resource_of(data)))
        .collect();
    let mut want: Vec<(String, String)> = expected
        .iter()
        .map(|(k, r)| (k.code().to_owned(), r.clone()))
        .collect();
    let mut sorted = got.clone();
    sorted.sort();
    want.sort();
    assert_eq!(
        sorted, want,
        "the events received differ from those expected"
    );
    // Per resource, in the order of the changes.
    let mut per_resource: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (kind, resource) in &got {
        per_resource
            .entry(resource.clone())
            .or_default()
            .push(kind.clone());
    }
    let mut want_per_resource: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (kind, resource) in &expected {
        want_per_resource
            .entry(resource.clone())
            .or_default()
            .push(kind.code().to_owned());
    }
    assert_eq!(per_resource, want_per_resource);
    // Each change of a resource gives it a new version, in order.
    let mut versions: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for (_, data) in &received {
        if let Some(version) = data["version"].as_i64() {
            versions.entry(resource_of(data)).or_default().push(version);
        }
    }
    for (resource, seen) in versions {
        assert!(
            seen.windows(2).all(|w| w[0] < w[1]),
            "{resource}: versions {seen:?}"
        );
    }
    let log = log(&app, &owner, &endpoint).await;
    assert_eq!(log.len(), expected.len());
    assert!(log.iter().all(|d| d["state"] == "delivered"), "{log:?}");
}

/// A delivery that fails is retried after about a minute, then two, ... (with
/// up to 20% jitter), and not before; the first 2xx ends it.
#[tokio::test]
async fn failures_are_retried_on_the_backoff_schedule_and_a_2xx_ends_them() {
    let app = TestApp::spawn().await;
    let owner = business_owner(&app, "Retry Clinic").await;
    let receiver = Receiver::start();
    receiver.then([Answer::Status(500), Answer::Status(503)]);
    let (endpoint, secret) = subscribe(&app, &owner, &receiver.url(), &["patient.created"]).await;
    app.patient(&owner, patient("Retry")).await;
    let event_at = app.clock.now();

    let mut tried_at = Vec::new();
    for (n, (status, base)) in [(500, 60), (503, 120)].into_iter().enumerate() {
        tried_at.push(app.clock.now());
        let round = app.webhook_round().await;
        assert_eq!((round.delivered, round.failed), (0, 1), "attempt {}", n + 1);
        let line = &log(&app, &owner, &endpoint).await[0];
        assert_eq!(line["state"], "pending");
        assert_eq!(line["attempts"], n + 1);
        assert_eq!(line["last_status"], status);
        assert_eq!(line["last_error"], format!("status {status}"));
        let next = instant(&line["next_attempt_at"]);
        let delay = (next - app.clock.now()).num_milliseconds();
        assert!(
            (base * 800..=base * 1200).contains(&delay),
            "attempt {}: retried after {delay} ms, not {base} s ± 20%",
            n + 1
        );
        // Not due yet: nothing is sent.
        app.clock.advance(Duration::milliseconds(delay - 1000));
        assert_eq!(app.webhook_round().await, Default::default());
        app.clock.advance(Duration::seconds(2));
    }
    let round = app.webhook_round().await;
    assert_eq!((round.delivered, round.failed), (1, 0));
    let line = &log(&app, &owner, &endpoint).await[0];
    assert_eq!(line["state"], "delivered");
    assert_eq!(line["attempts"], 3);
    assert_eq!(line["next_attempt_at"], Value::Null);
    assert_eq!(
        read_endpoint(&app, &owner, &endpoint).await["failing_since"],
        Value::Null
    );
    // Delivered: never sent again.
    app.clock.advance(Duration::days(4));
    app.webhook_round().await;
    let received = receiver.received();
    assert_eq!(received.len(), 3);
    let ids: Vec<&str> = received.iter().map(|r| r.header("webhook-id")).collect();
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "one id for every attempt"
    );
    for request in &received {
        assert!(request.signed_by(&secret));
        assert_eq!(
            instant(&request.json()["timestamp"]),
            DateTime::from_timestamp_millis(event_at.timestamp_millis()).unwrap(),
            "the event's time, whatever the attempt's"
        );
    }
    let stamps: Vec<&str> = received
        .iter()
        .map(|r| r.header("webhook-timestamp"))
        .collect();
    assert_ne!(
        stamps[0], stamps[2],
        "each attempt is stamped when it is made"
    );
    assert_eq!(stamps[0], tried_at[0].timestamp().to_string());
}

/// An endpoint failing every attempt: the event is tried until its three days
/// end, then given up; the endpoint is disabled, its waiting deliveries given
/// up, the owners and administrators emailed and the act audited. Enabled
/// again, it gets what a manual redelivery sends.
#[tokio::test]
async fn an_endpoint_failing_for_three_days_is_given_up_disabled_and_the_clinic_told() {
    let app = TestApp::spawn().await;
    let mut owner = business_owner(&app, "Failing Clinic").await;
    let admin = app.join_as(&owner, "administrator").await;
    let receiver = Receiver::start();
    receiver.otherwise(Answer::Status(500));
    let (endpoint, _) = subscribe(&app, &owner, &receiver.url(), &["patient.created"]).await;
    app.patient(&owner, patient("Failing")).await;
    let start = app.clock.now();

    let mut attempts = 0;
    loop {
        let round = app.webhook_round().await;
        attempts += round.failed;
        let line = &log(&app, owner_reader(&app, &mut owner).await, &endpoint).await[0];
        if line["state"] != "pending" {
            assert_eq!(line["state"], "failed");
            assert!(
                within_a_millisecond(instant(&line["last_attempt_at"]), start + Duration::days(3)),
                "the last try ends the window: {line}"
            );
            break;
        }
        let next = instant(&line["next_attempt_at"]);
        assert!(
            next <= start + Duration::days(3),
            "retried past the window: {next}"
        );
        app.clock.advance(next - app.clock.now());
        assert!(attempts < 40, "no end");
    }
    assert!(
        (10..=20).contains(&attempts),
        "{attempts} attempts in 3 days"
    );
    assert_eq!(receiver.received().len(), attempts);

    app.sign_in_again(&mut owner).await;
    let state = read_endpoint(&app, &owner, &endpoint).await;
    assert_eq!(state["enabled"], false, "{state}");
    assert_eq!(state["disabled_reason"], "failing");
    for member in [&owner, &admin] {
        let mails = app.outbox(&member.email);
        let (_, body) = mails
            .iter()
            .find(|(subject, _)| subject.contains("webhook endpoint was disabled"))
            .unwrap_or_else(|| panic!("{} was not told: {mails:?}", member.email));
        assert!(
            body.contains(&endpoint) && body.contains("127.0.0.1"),
            "{body}"
        );
        assert!(!body.contains("/hook"), "the URL's path stays out: {body}");
    }
    let trail: Value = app
        .get_as(
            &owner.access,
            "/api/v1/audit-events?action=webhook.endpoint_disabled",
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(trail["items"].as_array().unwrap().len(), 1, "{trail}");

    // Disabled: a new event is not queued for it.
    let before = receiver.received().len();
    app.patient(&owner, patient("Unsent")).await;
    app.webhook_round().await;
    assert_eq!(receiver.received().len(), before);
    assert_eq!(log(&app, &owner, &endpoint).await.len(), 1);

    // Redelivery waits for the endpoint to be enabled again.
    let event = log(&app, &owner, &endpoint).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let redeliver = format!("/api/v1/webhook-endpoints/{endpoint}/deliveries/{event}/redeliver");
    let refused = app
        .post_json_as(&owner.access, &redeliver, &json!({}))
        .await;
    assert_eq!(refused.status(), 409);
    let refused: Value = refused.json().await.unwrap();
    assert_eq!(refused["code"], "endpoint_disabled");
    let enabled = send(
        &app,
        &owner,
        reqwest::Method::PATCH,
        &format!("/api/v1/webhook-endpoints/{endpoint}"),
        Some(json!({"enabled": true})),
    )
    .await;
    assert_eq!(
        (enabled["enabled"].clone(), enabled["failing_since"].clone()),
        (json!(true), Value::Null)
    );
    receiver.otherwise(Answer::Status(204));
    let again = app
        .post_json_as(&owner.access, &redeliver, &json!({}))
        .await;
    assert_eq!(again.status(), 202);
    let round = app.webhook_round().await;
    assert_eq!(round.delivered, 1);
    let last = receiver.received().pop().unwrap();
    assert_eq!(last.header("webhook-id"), event, "the same id, redelivered");
    assert_eq!(log(&app, &owner, &endpoint).await[0]["state"], "delivered");
}

/// The owner after days of the clock moving: signed in again (sessions end
/// after 12 hours), with a fresh MFA check.
async fn owner_reader<'a>(app: &TestApp, owner: &'a mut Member) -> &'a Member {
    if app.get_as(&owner.access, "/api/v1/me").await.status() == 401 {
        app.sign_in_again(owner).await;
    }
    owner
}

/// `410 Gone` is the receiver saying it wants no more: disabled at once.
/// Eight patients' events are attempted together in one round and every one
/// is answered 410, so several attempts disable the one endpoint at the same
/// moment (they once deadlocked on each other's delivery rows: red with the
/// endpoint's row locked after the delivery's rather than before).
#[tokio::test]
async fn an_endpoint_that_answers_410_gone_is_disabled_at_once() {
    let app = TestApp::spawn().await;
    let owner = business_owner(&app, "Gone Clinic").await;
    let receiver = Receiver::start();
    receiver.otherwise(Answer::Status(410));
    let (endpoint, _) = subscribe(&app, &owner, &receiver.url(), &["patient.created"]).await;
    for name in ["Gone", "Gone Too", "Gone Three", "Gone Four"] {
        app.patient(&owner, patient(name)).await;
        app.patient(&owner, patient(&format!("{name} Again"))).await;
    }
    let round = app.webhook_round().await;
    assert_eq!(round.failed + round.delivered, 8, "{round:?}");
    let state = read_endpoint(&app, &owner, &endpoint).await;
    assert_eq!(state["disabled_reason"], "gone", "{state}");
    let log = log(&app, &owner, &endpoint).await;
    assert_eq!(log.len(), 8, "{log:?}");
    assert!(log.iter().all(|d| d["state"] == "failed"), "{log:?}");
}

/// A `Retry-After` longer than the backoff is honoured (up to the longest delay).
#[tokio::test]
async fn a_retry_after_is_honoured() {
    let app = TestApp::spawn().await;
    let owner = business_owner(&app, "Patient Clinic").await;
    let receiver = Receiver::start();
    receiver.then([Answer::RetryAfter(429, 3600)]);
    let (endpoint, _) = subscribe(&app, &owner, &receiver.url(), &["patient.created"]).await;
    app.patient(&owner, patient("Later")).await;
    app.webhook_round().await;
    let line = &log(&app, &owner, &endpoint).await[0];
    assert_eq!(line["last_status"], 429);
    assert!(within_a_millisecond(
        instant(&line["next_attempt_at"]),
        app.clock.now() + Duration::hours(1)
    ));
}

/// One resource's events reach an endpoint in the order of the changes: a
/// later one waits while an earlier one is being retried; another resource's
/// do not wait.
#[tokio::test]
async fn one_resources_events_arrive_in_order_and_others_do_not_wait() {
    let app = TestApp::spawn().await;
    let owner = business_owner(&app, "Ordered Clinic").await;
    let receiver = Receiver::start();
    receiver.then([Answer::Status(500)]);
    let (endpoint, _) = subscribe(
        &app,
        &owner,
        &receiver.url(),
        &["patient.created", "patient.updated", "patient.archived"],
    )
    .await;
    let first = app.patient(&owner, patient("First")).await.id;
    let path = format!("/api/v1/patients/{first}");
    send(
        &app,
        &owner,
        reqwest::Method::PUT,
        &path,
        Some(patient("First")),
    )
    .await;
    send(
        &app,
        &owner,
        reqwest::Method::POST,
        &format!("{path}/archive"),
        None,
    )
    .await;

    let sent = |receiver: &Receiver| -> Vec<(String, String)> {
        receiver
            .received()
            .iter()
            .map(|r| {
                let body = r.json();
                (
                    body["type"].as_str().unwrap().to_owned(),
                    body["data"]["patient_id"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    // Round 1: the first patient's creation fails; its update and archive,
    // due as well, wait behind it.
    app.webhook_round().await;
    assert_eq!(
        sent(&receiver),
        [("patient.created".to_owned(), first.clone())]
    );
    let waiting = log(&app, &owner, &endpoint).await;
    let update = waiting
        .iter()
        .find(|d| d["event_type"] == "patient.updated")
        .unwrap();
    assert_eq!(
        (update["state"].clone(), update["attempts"].clone()),
        (json!("pending"), json!(0))
    );
    // Another patient's event does not wait; nothing overtakes the retry.
    let other = app.patient(&owner, patient("Other")).await.id;
    app.clock.advance(Duration::seconds(30));
    app.webhook_round().await;
    assert_eq!(
        sent(&receiver),
        [
            ("patient.created".to_owned(), first.clone()),
            ("patient.created".to_owned(), other.clone())
        ]
    );
    // Then, round by round, in order.
    for _ in 0..4 {
        app.clock.advance(Duration::minutes(2));
        app.webhook_round().await;
    }
    let of_first: Vec<String> = sent(&receiver)
        .into_iter()
        .filter(|(_, p)| *p == first)
        .map(|(t, _)| t)
        .collect();
    assert_eq!(
        of_first,
        [
            "patient.created",
            "patient.created",
            "patient.updated",
            "patient.archived"
        ]
    );
}

/// No redirect is followed (the receiver a redirect names gets nothing), and
/// an inside address is refused when the endpoint is saved and when a
/// delivery connects: by the resolver for a name, before connecting for an
/// address in the URL. The receiver sees no connection at all.
#[tokio::test]
async fn redirects_are_not_followed_and_inside_addresses_are_refused_when_connecting() {
    let app = TestApp::spawn().await;
    let owner = business_owner(&app, "Guarded Clinic").await;
    let target = Receiver::start();
    let redirecting = Receiver::start();
    redirecting.otherwise(Answer::Redirect(307, target.url()));
    let (moved, _) = subscribe(&app, &owner, &redirecting.url(), &["patient.created"]).await;
    app.patient(&owner, patient("Moved")).await;
    app.webhook_round().await;
    let line = &log(&app, &owner, &moved).await[0];
    assert_eq!(line["last_status"], 307);
    assert_eq!(line["last_error"], "status 307: redirects are not followed");
    assert_eq!(target.connections(), 0, "the redirect was followed");
    send(
        &app,
        &owner,
        reqwest::Method::DELETE,
        &format!("/api/v1/webhook-endpoints/{moved}"),
        None,
    )
    .await;

    // Saved while loopback was allowed (the test configuration), delivered by
    // a worker that refuses it, as every staging and production one does.
    let inside = Receiver::start();
    let (by_name, _) = subscribe(&app, &owner, &inside.url_by_name(), &["patient.created"]).await;
    let (by_address, _) = subscribe(&app, &owner, &inside.url(), &["patient.created"]).await;
    app.patient(&owner, patient("Inside")).await;
    let strict = WebhookClient::new(WebhookSettings {
        poll_secs: 0,
        timeout: std::time::Duration::from_secs(5),
        allow_http: true,
        allow_loopback: false,
    })
    .unwrap();
    let round = salus::webhooks::webhook_round(&app.services(), &strict)
        .await
        .unwrap();
    assert_eq!((round.delivered, round.failed), (0, 2), "{round:?}");
    assert_eq!(
        inside.connections(),
        0,
        "a refused address was connected to"
    );
    for endpoint in [&by_name, &by_address] {
        let line = &log(&app, &owner, endpoint).await[0];
        assert_eq!(line["last_error"], "address refused: loopback", "{line}");
        assert_eq!(line["last_status"], Value::Null);
    }
    // The server's own worker (loopback allowed here) delivers them.
    app.clock.advance(Duration::minutes(2));
    assert_eq!(app.webhook_round().await.delivered, 2);

    // Saving an endpoint refuses every inside address outright.
    for url in [
        "https://10.0.0.7/hook",
        "https://172.16.3.4/hook",
        "https://192.168.1.20/hook",
        "https://100.64.0.1/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://[fd00:ec2::254]/",
        "https://[fe80::1]/hook",
        "https://[fc00::1]/hook",
        "https://224.0.0.251/hook",
        "https://0.0.0.0/hook",
        "https://[::ffff:10.0.0.1]/hook",
        "https://0x0a000001/hook",
    ] {
        let refused = app
            .post_json_as(
                &owner.access,
                "/api/v1/webhook-endpoints",
                &json!({"url": url, "event_types": ["patient.created"]}),
            )
            .await;
        assert_eq!(refused.status(), 422, "{url}");
        let body: Value = refused.json().await.unwrap();
        assert_eq!(body["errors"][0]["field"], "url", "{url}: {body}");
        assert_eq!(
            body["errors"][0]["code"], "address_refused",
            "{url}: {body}"
        );
    }
}

/// Outside the test and development settings, loopback is refused when the
/// endpoint is saved too.
#[tokio::test]
async fn loopback_endpoints_are_refused_without_the_test_setting() {
    let app = TestApp::spawn_with(&[("WEBHOOK_ALLOW_LOOPBACK", "false")]).await;
    let owner = business_owner(&app, "Strict Clinic").await;
    for url in [
        "http://127.0.0.1:9/hook",
        "http://localhost:9/hook",
        "http://[::1]:9/hook",
        "http://2130706433:9/hook",
    ] {
        let refused = app
            .post_json_as(
                &owner.access,
                "/api/v1/webhook-endpoints",
                &json!({"url": url, "event_types": ["patient.created"]}),
            )
            .await;
        assert_eq!(refused.status(), 422, "{url}");
        let body: Value = refused.json().await.unwrap();
        assert_eq!(
            body["errors"][0]["code"], "address_refused",
            "{url}: {body}"
        );
    }
}

/// A receiver that never answers is cut off at the time limit; one that
/// answers 200 with a body without end is read up to the cap (and hung up on:
/// it cannot write much more than the sockets' buffers hold), and counts as
/// delivered.
#[tokio::test]
async fn a_silent_receiver_times_out_and_an_endless_body_is_cut_at_the_cap() {
    let app = TestApp::spawn_with(&[("WEBHOOK_TIMEOUT_SECONDS", "2")]).await;
    let owner = business_owner(&app, "Slow Clinic").await;
    let silent = Receiver::start();
    silent.otherwise(Answer::Silence);
    let endless = Receiver::start();
    endless.otherwise(Answer::EndlessBody);
    let (quiet, _) = subscribe(&app, &owner, &silent.url(), &["patient.created"]).await;
    let (talkative, _) = subscribe(&app, &owner, &endless.url(), &["patient.created"]).await;
    app.patient(&owner, patient("Slow")).await;
    let started = std::time::Instant::now();
    let round = app.webhook_round().await;
    assert_eq!((round.delivered, round.failed), (1, 1), "{round:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    let line = &log(&app, &owner, &quiet).await[0];
    assert_eq!(line["last_error"], "no answer within 2 s");
    let line = &log(&app, &owner, &talkative).await[0];
    assert_eq!(
        (line["state"].clone(), line["last_status"].clone()),
        (json!("delivered"), json!(200))
    );
    // Read to the time limit, a loopback connection carries gigabytes.
    let streamed = endless.streamed();
    assert!(streamed < 32 << 20, "{streamed} bytes were read");
}

/// A rotation's new secret signs at once, the previous one too for 24 hours,
/// then only the new one.
#[tokio::test]
async fn a_rotated_secret_signs_beside_the_previous_one_for_a_day() {
    let app = TestApp::spawn().await;
    let mut owner = business_owner(&app, "Rotating Clinic").await;
    let receiver = Receiver::start();
    let (endpoint, old) = subscribe(&app, &owner, &receiver.url(), &["patient.created"]).await;
    let rotated = send(
        &app,
        &owner,
        reqwest::Method::POST,
        &format!("/api/v1/webhook-endpoints/{endpoint}/rotate-secret"),
        None,
    )
    .await;
    let new = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert_eq!(
        instant(&rotated["endpoint"]["previous_secret_expires_at"]),
        app.clock.now() + Duration::hours(24)
    );
    app.patient(&owner, patient("Both")).await;
    app.webhook_round().await;
    let during = receiver.received().pop().unwrap();
    assert_eq!(during.header("webhook-signature").split(' ').count(), 2);
    assert!(during.signed_by(&new) && during.signed_by(&old));

    // Both until the last second of the 24 hours (a new sign-in moves the
    // clock 30 seconds), the new one alone from then.
    app.clock
        .advance(Duration::hours(24) - Duration::seconds(31));
    app.sign_in_again(&mut owner).await;
    app.patient(&owner, patient("Last Second")).await;
    app.webhook_round().await;
    let last = receiver.received().pop().unwrap();
    assert_eq!(last.header("webhook-signature").split(' ').count(), 2);
    app.clock.advance(Duration::seconds(1));
    app.patient(&owner, patient("New Only")).await;
    app.webhook_round().await;
    let after = receiver.received().pop().unwrap();
    assert_eq!(after.header("webhook-signature").split(' ').count(), 1);
    assert!(after.signed_by(&new) && !after.signed_by(&old));
}

/// Endpoints are the business plan's, for `webhooks.manage` holders with a
/// recent MFA check; another clinic's endpoint and deliveries answer like
/// missing ones, in every combination of ids; a clinic off the plan gets no
/// event queued.
#[tokio::test]
async fn endpoints_need_the_plan_a_step_up_and_stay_in_their_clinic() {
    let app = TestApp::spawn().await;
    let free = app.owner_with_mfa("Free Clinic").await;
    let body =
        json!({"url": "https://hooks.partner.example/salus", "event_types": ["patient.created"]});
    let refused = app
        .post_json_as(&free.access, "/api/v1/webhook-endpoints", &body)
        .await;
    assert_eq!(refused.status(), 403);
    let refused: Value = refused.json().await.unwrap();
    assert_eq!(refused["code"], "plan_upgrade_required");

    let a = business_owner(&app, "Clinic A").await;
    let b = business_owner(&app, "Clinic B").await;
    let receiver = Receiver::start();
    let (mine, _) = subscribe(&app, &a, &receiver.url(), &["patient.created"]).await;
    let (theirs, _) = subscribe(&app, &b, &receiver.url(), &["patient.created"]).await;
    app.patient(&a, patient("A")).await;
    app.patient(&b, patient("B")).await;
    app.webhook_round().await;
    let my_event = log(&app, &a, &mine).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let their_event = log(&app, &b, &theirs).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let missing = uuid::Uuid::now_v7().to_string();
    for (endpoint, event) in [
        (&theirs, &their_event),
        (&mine, &their_event),
        (&theirs, &my_event),
        (&missing, &my_event),
        (&mine, &missing),
    ] {
        let path = format!("/api/v1/webhook-endpoints/{endpoint}/deliveries/{event}/redeliver");
        let answer = app.post_json_as(&a.access, &path, &json!({})).await;
        assert_eq!(answer.status(), 404, "{endpoint} {event}");
    }
    let listed: Value = app
        .get_as(&a.access, "/api/v1/webhook-endpoints")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert_eq!(listed["items"][0]["id"], mine.as_str());

    // A clinic moved off the business plan gets no event queued (its
    // endpoints stay, and serve again when the plan comes back).
    let clinic_a = app.me(&a).await["clinic"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.set_plan(&clinic_a, "pro");
    app.patient(&a, patient("Off The Plan")).await;
    assert_eq!(log(&app, &a, &mine).await.len(), 1);
    app.set_plan(&clinic_a, "business");
    app.patient(&a, patient("Back On It")).await;
    assert_eq!(log(&app, &a, &mine).await.len(), 2);

    // Ten minutes after the last MFA check, changes need a step-up.
    app.clock.advance(Duration::minutes(11));
    let stale = app
        .post_json_as(&a.access, "/api/v1/webhook-endpoints", &body)
        .await;
    assert_eq!(stale.status(), 403);
    let stale: Value = stale.json().await.unwrap();
    assert_eq!(stale["code"], "step_up_required");
}

/// A clinic's data-key rotation moves the endpoints' sealed secrets (current
/// and previous) to the new key with every other sealed field, and the
/// deliveries after it are signed with the same secrets as before.
#[tokio::test]
async fn a_data_key_rotation_moves_the_secrets_and_signatures_stay_the_same() {
    use salus_domain::keyring::data_key::Advance;
    let app = TestApp::spawn().await;
    let owner = business_owner(&app, "Rekeyed Clinic").await;
    let clinic = salus_domain::ids::ClinicId(
        app.me(&owner).await["clinic"]["id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap(),
    );
    let receiver = Receiver::start();
    let (endpoint, old) = subscribe(&app, &owner, &receiver.url(), &["patient.created"]).await;
    let rotated = send(
        &app,
        &owner,
        reqwest::Method::POST,
        &format!("/api/v1/webhook-endpoints/{endpoint}/rotate-secret"),
        None,
    )
    .await;
    let new = rotated["secret"].as_str().unwrap().to_owned();

    let services = app.services();
    let version =
        tokio::task::spawn_blocking(move || services.data_keys.start(clinic, "webhooks-test"))
            .await
            .unwrap()
            .unwrap();
    assert_eq!(version, 2);
    let mut finished = false;
    for _ in 0..20 {
        let services = app.services();
        let step = tokio::task::spawn_blocking(move || {
            services.data_keys.advance(clinic, "webhooks-test")
        })
        .await
        .unwrap()
        .unwrap();
        if matches!(step, Advance::Finished { .. }) {
            finished = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(finished, "the rotation did not finish");
    let mut su = app.db.superuser();
    #[derive(diesel::QueryableByName)]
    struct Keys {
        #[diesel(sql_type = diesel::sql_types::Text)]
        ids: String,
    }
    let keys: Keys = diesel::RunQueryDsl::get_result(
        diesel::sql_query(
            "SELECT string_agg(DISTINCT convert_from(substring(s FROM 3 FOR get_byte(s, 1)), 'UTF8'), ',') AS ids \
               FROM (SELECT sealed_secret AS s FROM webhook_endpoints \
                     UNION ALL SELECT sealed_previous_secret FROM webhook_endpoints) sealed WHERE s IS NOT NULL",
        ),
        &mut su,
    )
    .unwrap();
    assert_eq!(keys.ids, "dk2", "both secrets are sealed under the new key");

    app.patient(&owner, patient("Rekeyed")).await;
    app.webhook_round().await;
    let request = receiver.received().pop().unwrap();
    assert!(request.signed_by(&new) && request.signed_by(&old));
}
