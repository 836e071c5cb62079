//! Idempotent writes (issue 19): a POST sent with `Idempotency-Key` acts once
//! however often it is sent, concurrently or later, within 24 hours; its
//! first success is replayed marked `Idempotency-Replayed: true`; the key is
//! the caller's own in its clinic; another request under the key is 422; and
//! every POST of the contract either honours the key or is excluded by name.

use std::collections::BTreeSet;

use chrono::Duration;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use salus_http::idempotency::operations::EXCLUDED_POSTS;
use salus_tests::TestApp;
use salus_tests::contract::{document, operations};
use salus_tests::identity::Member;
use serde_json::{Value, json};

const KEY: &str = "Idempotency-Key";
const REPLAYED: &str = "idempotency-replayed";

/// One answer, as much of it as a retry must see again.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Answer {
    status: u16,
    replayed: bool,
    location: Option<String>,
    etag: Option<String>,
    body: String,
}

async fn answer(response: reqwest::Response) -> Answer {
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let replayed = match header(REPLAYED).as_deref() {
        None => false,
        Some("true") => true,
        Some(other) => panic!("{REPLAYED}: {other}"),
    };
    let (location, etag) = (header("location"), header("etag"));
    Answer {
        status: response.status().as_u16(),
        replayed,
        location,
        etag,
        body: response.text().await.unwrap(),
    }
}

async fn post(app: &TestApp, who: &Member, path: &str, key: Option<&str>, body: &Value) -> Answer {
    let mut request = app.post(path).bearer_auth(&who.access).json(body);
    if let Some(key) = key {
        request = request.header(KEY, key);
    }
    answer(request.send().await.unwrap()).await
}

fn code(answer: &Answer) -> String {
    let body: Value = serde_json::from_str(&answer.body).unwrap_or(Value::Null);
    body["code"].as_str().unwrap_or_default().to_owned()
}

fn count(app: &TestApp, sql: &str) -> i64 {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    diesel::sql_query(sql)
        .get_result::<N>(&mut app.db.superuser())
        .unwrap()
        .n
}

struct Setup {
    owner: Member,
    practitioner: String,
    patient: String,
}

async fn setup(app: &TestApp, clinic: &str) -> Setup {
    let owner = app.owner_with_mfa(clinic).await;
    let practitioner = app.practitioner(&owner).await;
    let patient = app.patient(&owner, patient("Curie")).await.id;
    Setup {
        owner,
        practitioner,
        patient,
    }
}

fn patient(family_name: &str) -> Value {
    json!({"family_name": family_name, "given_name": "Marie", "birth_date": "1967-11-07",
           "sex": "female", "medical_history": {"allergies": ["penicillin"], "conditions": ["asthma since 1980"],
                               "medications": [], "notes": ""}})
}

/// Ten copies of one POST sent at once with one key: their answers.
async fn ten_at_once(
    app: &TestApp,
    who: &Member,
    path: &str,
    key: &str,
    body: &Value,
) -> Vec<Answer> {
    let copies = (0..10).map(|_| post(app, who, path, Some(key), body));
    futures_util::future::join_all(copies).await
}

/// One of the copies ran (the one answer not marked replayed), every other
/// one got its answer again, the same to the byte. A machine slower than the
/// server's wait may leave a copy with 409 `idempotency_request_in_flight`:
/// it then gets the same answer on its retry.
async fn one_ran_and_all_got_its_answer(
    app: &TestApp,
    who: &Member,
    path: &str,
    key: &str,
    body: &Value,
    answers: &[Answer],
) -> Answer {
    let ran: Vec<&Answer> = answers
        .iter()
        .filter(|a| a.status == 201 && !a.replayed)
        .collect();
    assert_eq!(ran.len(), 1, "exactly one copy ran: {answers:#?}");
    let first = ran[0].clone();
    for other in answers.iter().filter(|a| *a != &first) {
        if other.status == 409 {
            assert_eq!(code(other), "idempotency_request_in_flight", "{other:?}");
            continue;
        }
        assert_eq!(
            other,
            &Answer {
                replayed: true,
                ..first.clone()
            }
        );
    }
    let later = post(app, who, path, Some(key), body).await;
    assert_eq!(
        later,
        Answer {
            replayed: true,
            ..first.clone()
        }
    );
    first
}

#[tokio::test]
async fn parallel_retries_of_a_booking_book_one_appointment_and_all_get_its_answer() {
    let app = TestApp::spawn().await;
    let s = setup(&app, "Harbour Clinic").await;
    let booking = json!({"patient_id": s.patient, "practitioner_id": s.practitioner,
                         "starts_at": "2031-03-03T09:00:00Z", "ends_at": "2031-03-03T09:30:00Z",
                         "reason": "persistent cough"});
    let key = "\"booking-7f3c2a\"";
    let answers = ten_at_once(&app, &s.owner, "/api/v1/appointments", key, &booking).await;
    let first = one_ran_and_all_got_its_answer(
        &app,
        &s.owner,
        "/api/v1/appointments",
        key,
        &booking,
        &answers,
    )
    .await;
    assert!(first.body.contains("persistent cough"), "{first:?}");
    assert_eq!(count(&app, "SELECT count(*) AS n FROM appointments"), 1);
    assert_eq!(
        count(&app, "SELECT count(*) AS n FROM idempotent_requests"),
        1
    );
}

#[tokio::test]
async fn parallel_retries_of_a_patient_creation_create_one_patient_and_all_get_its_answer() {
    let app = TestApp::spawn().await;
    let s = setup(&app, "Harbour Clinic").await;
    let body = patient("Lovelace");
    let key = "c0ffee00-5b1d-4c1e-9d3e-6a8f0e2d4b71";
    let answers = ten_at_once(&app, &s.owner, "/api/v1/patients", key, &body).await;
    let first =
        one_ran_and_all_got_its_answer(&app, &s.owner, "/api/v1/patients", key, &body, &answers)
            .await;
    assert!(
        first.location.is_some() && first.etag.is_some(),
        "{first:?}"
    );
    assert_eq!(
        count(&app, "SELECT count(*) AS n FROM patients"),
        2,
        "the set-up's patient and one more"
    );
    let sealed = count(
        &app,
        "SELECT count(*) AS n FROM idempotent_requests \
         WHERE position(convert_to('asthma', 'UTF8') IN response_body) = 0 \
           AND response_status = 201",
    );
    assert_eq!(
        sealed, 1,
        "the kept answer holds no health data in the clear"
    );
}

#[tokio::test]
async fn a_later_retry_is_replayed_and_another_request_under_the_key_is_422() {
    let app = TestApp::spawn().await;
    let mut s = setup(&app, "Harbour Clinic").await;
    let path = "/api/v1/patients";
    let first = post(&app, &s.owner, path, Some("k-1"), &patient("Noether")).await;
    assert_eq!((first.status, first.replayed), (201, false), "{first:?}");
    app.clock.advance(Duration::hours(3));
    app.sign_in_again(&mut s.owner).await;

    let again = post(&app, &s.owner, path, Some("k-1"), &patient("Noether")).await;
    assert_eq!(
        again,
        Answer {
            replayed: true,
            ..first.clone()
        }
    );
    let quoted = post(&app, &s.owner, path, Some("\"k-1\""), &patient("Noether")).await;
    assert_eq!(quoted, again, "quoted and bare, one key");
    let reordered: Value = serde_json::from_str(
        r#"{"sex": "female", "medical_history": {"notes": "", "conditions": ["asthma since 1980"], "medications": [], "allergies": ["penicillin"]}, "birth_date": "1967-11-07",
            "given_name": "Marie", "family_name": "Noether"}"#,
    )
    .unwrap();
    let same_value = post(&app, &s.owner, path, Some("k-1"), &reordered).await;
    assert_eq!(same_value, again, "the same JSON value, written otherwise");

    let other_body = post(&app, &s.owner, path, Some("k-1"), &patient("Germain")).await;
    assert_eq!(
        (other_body.status, code(&other_body).as_str()),
        (422, "idempotency_key_reused"),
        "{other_body:?}"
    );
    let queue = json!({"patient_id": s.patient});
    let other_path = post(&app, &s.owner, "/api/v1/queue", Some("k-1"), &queue).await;
    assert_eq!(
        (other_path.status, code(&other_path).as_str()),
        (422, "idempotency_key_reused"),
        "{other_path:?}"
    );
    assert_eq!(count(&app, "SELECT count(*) AS n FROM patients"), 2);
    assert_eq!(count(&app, "SELECT count(*) AS n FROM queue_entries"), 0);
}

#[tokio::test]
async fn a_key_is_the_callers_own_in_its_clinic() {
    let app = TestApp::spawn().await;
    let a = setup(&app, "Harbour Clinic").await;
    let colleague = app.join_as(&a.owner, "receptionist").await;
    let b = setup(&app, "Other Clinic").await;
    let path = "/api/v1/patients";
    let body = json!({"family_name": "Hopper", "given_name": "Grace", "birth_date": "1906-12-09", "sex": "female"});
    let mine = post(&app, &a.owner, path, Some("shared-key"), &body).await;
    let theirs = post(&app, &colleague, path, Some("shared-key"), &body).await;
    let elsewhere = post(&app, &b.owner, path, Some("shared-key"), &body).await;
    for created in [&mine, &theirs, &elsewhere] {
        assert_eq!(
            (created.status, created.replayed),
            (201, false),
            "{created:?}"
        );
    }
    let locations: BTreeSet<_> = [&mine, &theirs, &elsewhere]
        .iter()
        .map(|a| a.location.clone())
        .collect();
    assert_eq!(locations.len(), 3, "three patients");
    let again = post(&app, &colleague, path, Some("shared-key"), &body).await;
    assert_eq!(
        again,
        Answer {
            replayed: true,
            ..theirs
        }
    );
    assert_eq!(count(&app, "SELECT count(*) AS n FROM patients"), 5);
}

#[tokio::test]
async fn an_answer_is_kept_24_hours_then_the_key_is_free_and_the_row_purged() {
    let app = TestApp::spawn().await;
    let mut s = setup(&app, "Harbour Clinic").await;
    let path = "/api/v1/patients";
    let first = post(&app, &s.owner, path, Some("day-key"), &patient("Turing")).await;
    let other = post(
        &app,
        &s.owner,
        path,
        Some("other-key"),
        &patient("Hamilton"),
    )
    .await;
    assert_eq!((first.status, other.status), (201, 201));

    // A new session 24 hours less a second on (signing in takes 30 s).
    app.clock
        .advance(Duration::hours(24) - Duration::seconds(31));
    app.sign_in_again(&mut s.owner).await;
    let kept = post(&app, &s.owner, path, Some("day-key"), &patient("Turing")).await;
    assert_eq!(
        kept,
        Answer {
            replayed: true,
            ..first.clone()
        }
    );

    app.clock.advance(Duration::seconds(2));
    let fresh = post(&app, &s.owner, path, Some("day-key"), &patient("Johnson")).await;
    assert_eq!((fresh.status, fresh.replayed), (201, false), "{fresh:?}");
    assert_ne!(fresh.location, first.location);
    let services = app.services();
    let purged =
        tokio::task::spawn_blocking(move || salus::closure_job::idempotency_round(&services))
            .await
            .unwrap()
            .unwrap();
    assert_eq!(purged, 1, "the other key's row");
    assert_eq!(
        count(&app, "SELECT count(*) AS n FROM idempotent_requests"),
        1
    );
    assert_eq!(count(&app, "SELECT count(*) AS n FROM patients"), 4);
}

#[tokio::test]
async fn without_the_header_every_post_acts_and_nothing_is_kept() {
    let app = TestApp::spawn().await;
    let s = setup(&app, "Harbour Clinic").await;
    let body = patient("Franklin");
    let first = post(&app, &s.owner, "/api/v1/patients", None, &body).await;
    let second = post(&app, &s.owner, "/api/v1/patients", None, &body).await;
    for created in [&first, &second] {
        assert_eq!(
            (created.status, created.replayed),
            (201, false),
            "{created:?}"
        );
    }
    assert_ne!(first.location, second.location);
    assert_eq!(count(&app, "SELECT count(*) AS n FROM patients"), 3);
    assert_eq!(
        count(&app, "SELECT count(*) AS n FROM idempotent_requests"),
        0
    );
}

#[tokio::test]
async fn a_retry_waits_for_the_copy_in_flight_then_gets_409_and_a_dead_nodes_claim_lapses() {
    let app = TestApp::spawn().await;
    let s = setup(&app, "Harbour Clinic").await;
    let path = "/api/v1/patients";
    let body = patient("Meitner");
    let first = post(&app, &s.owner, path, Some("crash-key"), &body).await;
    assert_eq!(first.status, 201);
    // As a node that claimed the key and died before answering leaves it.
    diesel::sql_query(
        "UPDATE idempotent_requests SET locked_until = created_at + interval '1 minute', \
         answered_at = NULL, response_status = NULL, response_headers = NULL, response_body = NULL",
    )
    .execute(&mut app.db.superuser())
    .unwrap();

    let started = std::time::Instant::now();
    let response = app
        .post(path)
        .bearer_auth(&s.owner.access)
        .header(KEY, "crash-key")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["retry-after"], "1");
    let waiting = answer(response).await;
    assert_eq!(
        (waiting.status, code(&waiting).as_str()),
        (409, "idempotency_request_in_flight"),
        "{waiting:?}"
    );
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(4),
        "it waited first"
    );

    app.clock.advance(Duration::seconds(61));
    let after = post(&app, &s.owner, path, Some("crash-key"), &body).await;
    assert_eq!((after.status, after.replayed), (201, false), "{after:?}");
    assert_eq!(
        post(&app, &s.owner, path, Some("crash-key"), &body).await,
        Answer {
            replayed: true,
            ..after
        }
    );
}

#[tokio::test]
async fn only_successes_are_kept_so_a_refused_request_is_corrected_under_its_key() {
    let app = TestApp::spawn().await;
    let s = setup(&app, "Harbour Clinic").await;
    let path = "/api/v1/patients";
    let invalid = json!({"family_name": "Bell", "given_name": "Jocelyn", "birth_date": "not a date", "sex": "female"});
    let refused = post(&app, &s.owner, path, Some("fix-me"), &invalid).await;
    assert_eq!(
        (refused.status, code(&refused).as_str()),
        (422, "validation_failed")
    );
    let auditor = app.join_as(&s.owner, "auditor").await;
    let forbidden = post(&app, &auditor, path, Some("fix-me"), &patient("Bell")).await;
    assert_eq!(forbidden.status, 403, "{forbidden:?}");
    assert_eq!(
        count(&app, "SELECT count(*) AS n FROM idempotent_requests"),
        0
    );

    let corrected = post(&app, &s.owner, path, Some("fix-me"), &patient("Bell")).await;
    assert_eq!(
        (corrected.status, corrected.replayed),
        (201, false),
        "{corrected:?}"
    );
}

/// A kept answer holds a copy of the patient's record: the patient's erasure
/// takes it with the rest of the patient's rows, and leaves other answers.
#[tokio::test]
async fn a_patients_erasure_takes_the_kept_answers_that_name_them() {
    let app = TestApp::spawn().await;
    let mut s = setup(&app, "Harbour Clinic").await;
    let created = post(
        &app,
        &s.owner,
        "/api/v1/patients",
        Some("erase-me"),
        &patient("Gone"),
    )
    .await;
    assert_eq!(created.status, 201);
    let id: Value = serde_json::from_str(&created.body).unwrap();
    let gone = id["id"].as_str().unwrap().to_owned();
    let queue = json!({"patient_id": s.patient});
    let kept = post(&app, &s.owner, "/api/v1/queue", Some("keep-me"), &queue).await;
    assert_eq!(kept.status, 201);
    let erasure = format!("/api/v1/patients/{gone}/erasure");
    let asked = post(
        &app,
        &s.owner,
        &erasure,
        Some("ask"),
        &json!({"reason": "asked"}),
    )
    .await;
    assert_eq!(asked.status, 201, "{asked:?}");
    assert_eq!(
        count(
            &app,
            &format!("SELECT count(*) AS n FROM idempotent_requests WHERE patient_id = '{gone}'")
        ),
        2,
        "the creation's answer and the request's"
    );
    app.sign_in_again(&mut s.owner).await;
    let decision = json!({"decision": "erase", "reason": "decided"});
    let erased = post(
        &app,
        &s.owner,
        &format!("{erasure}/decision"),
        None,
        &decision,
    )
    .await;
    assert_eq!(erased.status, 200, "{erased:?}");

    assert_eq!(
        count(
            &app,
            &format!("SELECT count(*) AS n FROM idempotent_requests WHERE patient_id = '{gone}'")
        ),
        0
    );
    let again = post(&app, &s.owner, "/api/v1/queue", Some("keep-me"), &queue).await;
    assert_eq!(
        again,
        Answer {
            replayed: true,
            ..kept
        }
    );
}

#[tokio::test]
async fn a_malformed_key_is_400_after_the_callers_401() {
    let app = TestApp::spawn().await;
    let s = setup(&app, "Harbour Clinic").await;
    let long = "k".repeat(256);
    for bad in ["", "two words", "\"unterminated", "\"a\"b\"", long.as_str()] {
        let refused = post(&app, &s.owner, "/api/v1/patients", Some(bad), &patient("X")).await;
        assert_eq!(
            (refused.status, code(&refused).as_str()),
            (400, "malformed_idempotency_key"),
            "{bad:?}: {refused:?}"
        );
    }
    let fits = "k".repeat(255);
    let created = post(
        &app,
        &s.owner,
        "/api/v1/patients",
        Some(&fits),
        &patient("Y"),
    )
    .await;
    assert_eq!(created.status, 201, "{created:?}");
    let anonymous = app
        .post("/api/v1/patients")
        .header(KEY, "two words")
        .json(&patient("Z"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}

/// Every POST of the contract declares the header (with its 400, 409 and 422,
/// and the replay marker on its successes) and answers a malformed key with
/// 400, or is on the exclusion list, which names only POSTs of the contract,
/// and is not touched by the header.
#[tokio::test]
async fn every_post_of_the_contract_honours_the_key_or_is_excluded_by_name() {
    let doc = document();
    let posts: Vec<_> = operations()
        .into_iter()
        .filter(|o| o.method == "POST")
        .collect();
    let excluded: BTreeSet<&str> = EXCLUDED_POSTS.iter().map(|(p, _)| *p).collect();
    for path in &excluded {
        assert!(
            posts.iter().any(|o| o.path == *path),
            "{path} is excluded but is no POST of the contract"
        );
    }
    let declaring = |path: &str| {
        let op = &doc["paths"][path]["post"];
        let declares = op["parameters"].as_array().is_some_and(|ps| {
            ps.iter()
                .any(|p| p["$ref"] == "#/components/parameters/IdempotencyKey")
        });
        if declares {
            for status in ["400", "409", "422"] {
                assert!(
                    op["responses"].get(status).is_some(),
                    "POST {path}: {status}"
                );
            }
            for (status, response) in op["responses"].as_object().unwrap() {
                if status.starts_with('2') {
                    assert_eq!(
                        response["headers"]["Idempotency-Replayed"]["$ref"],
                        "#/components/headers/Idempotency-Replayed",
                        "POST {path} {status}"
                    );
                }
            }
        }
        declares
    };
    let app = TestApp::spawn().await;
    let s = setup(&app, "Harbour Clinic").await;
    let mut honoured = 0;
    for op in &posts {
        assert_eq!(
            declaring(&op.path),
            !excluded.contains(op.path.as_str()),
            "{}: declared unless excluded",
            op.name()
        );
        if excluded.contains(op.path.as_str()) {
            continue;
        }
        let path = op.path_with(&uuid::Uuid::new_v4().to_string());
        let refused = post(&app, &s.owner, &path, Some("two words"), &json!({})).await;
        assert_eq!(
            (refused.status, code(&refused).as_str()),
            (400, "malformed_idempotency_key"),
            "{}: {refused:?}",
            op.name()
        );
        honoured += 1;
    }
    assert_eq!(honoured, posts.len() - excluded.len());
    // Excluded ones ignore the header; sign-outs last, so the owner stays in.
    let mut rest: Vec<_> = posts
        .iter()
        .filter(|o| excluded.contains(o.path.as_str()))
        .collect();
    rest.sort_by_key(|o| o.path.contains("logout"));
    for op in rest {
        let path = op.path_with(&uuid::Uuid::new_v4().to_string());
        let answered = post(&app, &s.owner, &path, Some("two words"), &json!({})).await;
        assert_ne!(
            code(&answered),
            "malformed_idempotency_key",
            "{}",
            op.name()
        );
    }
}
