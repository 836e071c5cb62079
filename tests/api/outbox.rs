//! The outbox: its providers against real local endpoints (an SMTP server, an HTTP
//! gateway), the delivery worker's rounds against a real database, and a server that
//! delivers what its API flows queue.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex, mpsc};
use std::thread;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Integer, Nullable, Text, Timestamptz};
use salus::outbox::{ByChannel, CaptureProvider, SmsGatewayProvider, SmtpProvider};
use salus_domain::Clock;
use salus_domain::ids::OutboxMessageId;
use salus_domain::outbox::{Channel, Deliver, PendingMessage};
use salus_persistence::outbox_repo::{MAX_ATTEMPTS, deliver_due};
use salus_persistence::{DbPool, PoolSettings, build_pool};
use salus_tests::identity::OTHER_PASSWORD;
use salus_tests::outbox::{SmsGateway, SmtpSink};
use salus_tests::{ManualClock, TestApp, TestDb, eventually};
use secrecy::SecretString;
use serde_json::{Value, json};
use uuid::Uuid;

const GATEWAY_SECRET: &str = "gateway-secret-for-the-tests";

fn sms(to: &str, body: &str) -> PendingMessage {
    PendingMessage {
        id: OutboxMessageId(Uuid::now_v7()),
        channel: Channel::Sms,
        recipient: to.to_owned(),
        subject: String::new(),
        body: body.to_owned(),
        attempts: 0,
    }
}

fn email(to: &str, subject: &str, body: &str) -> PendingMessage {
    PendingMessage {
        id: OutboxMessageId(Uuid::now_v7()),
        channel: Channel::Email,
        recipient: to.to_owned(),
        subject: subject.to_owned(),
        body: body.to_owned(),
        attempts: 0,
    }
}

// ---- providers against real endpoints ------------------------------------------

#[test]
fn the_gateway_provider_posts_signed_json() {
    let gateway = SmsGateway::start(GATEWAY_SECRET);
    let clock = Arc::new(ManualClock::new());
    let provider = SmsGatewayProvider::new(
        gateway.url(),
        SecretString::from(GATEWAY_SECRET),
        clock.clone(),
    );
    let message = sms("+33612345678", "Your Salus verification code is 424242.");
    assert_eq!(provider.deliver(&message), Ok(()));

    let requests = gateway.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/v1/sms");
    assert_eq!(request.headers["content-type"], "application/json");
    assert!(request.signature_valid, "{:?}", request.headers);
    assert_eq!(
        request.headers["x-salus-timestamp"],
        clock.now().timestamp().to_string()
    );
    assert!(
        request.headers["x-salus-signature"].starts_with("v1="),
        "{:?}",
        request.headers
    );
    assert_eq!(
        request.json(),
        json!({
            "id": message.id.to_string(),
            "to": "+33612345678",
            "body": "Your Salus verification code is 424242.",
        })
    );
}

#[test]
fn the_gateway_provider_fails_on_a_refusal_an_error_status_or_no_answer() {
    let gateway = SmsGateway::start(GATEWAY_SECRET);
    let clock: Arc<ManualClock> = Arc::new(ManualClock::new());
    let message = sms("+33612345678", "Your Salus verification code is 424242.");

    let wrong_secret = SmsGatewayProvider::new(
        gateway.url(),
        SecretString::from("not-the-shared-secret"),
        clock.clone(),
    );
    let error = wrong_secret.deliver(&message).unwrap_err();
    assert!(error.contains("401"), "{error}");
    assert!(!gateway.requests()[0].signature_valid);

    let provider = SmsGatewayProvider::new(
        gateway.url(),
        SecretString::from(GATEWAY_SECRET),
        clock.clone(),
    );
    gateway.answer(500);
    let error = provider.deliver(&message).unwrap_err();
    assert!(error.contains("500"), "{error}");
    assert!(
        !error.contains("424242"),
        "the body leaked into the error: {error}"
    );
    gateway.answer(202);
    assert_eq!(provider.deliver(&message), Ok(()));

    // A port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1/sms", closed.local_addr().unwrap());
    drop(closed);
    let unreachable = SmsGatewayProvider::new(url, SecretString::from(GATEWAY_SECRET), clock);
    let error = unreachable.deliver(&message).unwrap_err();
    assert!(error.contains("unreachable"), "{error}");
    assert!(!error.contains(GATEWAY_SECRET), "{error}");
}

#[test]
fn the_smtp_provider_delivers_to_an_smtp_server() {
    let sink = SmtpSink::start();
    let provider = SmtpProvider::new(
        &SecretString::from(sink.url()),
        "Salus <no-reply@clinic.test>",
    )
    .unwrap();
    let message = email(
        "ada@clinic.test",
        "Reset your Salus password",
        "Use this code to choose a new password:\n\nk3Y-t0k3n\n",
    );
    assert_eq!(provider.deliver(&message), Ok(()));

    let mails = sink.mails();
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert_eq!(mail.mail_from, "no-reply@clinic.test");
    assert_eq!(mail.rcpt_to, ["ada@clinic.test"]);
    assert!(
        mail.data.contains("To: ada@clinic.test\r\n"),
        "{}",
        mail.data
    );
    assert!(
        mail.data.contains("From: Salus <no-reply@clinic.test>\r\n"),
        "{}",
        mail.data
    );
    assert!(
        mail.data.contains("Subject: Reset your Salus password\r\n"),
        "{}",
        mail.data
    );
    let (_, body) = mail
        .data
        .split_once("\r\n\r\n")
        .expect("headers, then body");
    assert_eq!(
        body.trim_end(),
        "Use this code to choose a new password:\r\n\r\nk3Y-t0k3n"
    );
}

#[test]
fn the_smtp_provider_fails_when_the_server_refuses_or_is_down() {
    let refusing = SmtpSink::start_refusing();
    let provider =
        SmtpProvider::new(&SecretString::from(refusing.url()), "no-reply@clinic.test").unwrap();
    let message = email("ada@clinic.test", "Hello", "Hello");
    let error = provider.deliver(&message).unwrap_err();
    assert!(error.contains("550"), "{error}");
    assert!(refusing.mails().is_empty());

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("smtp://{}", closed.local_addr().unwrap());
    drop(closed);
    let down = SmtpProvider::new(&SecretString::from(url), "no-reply@clinic.test").unwrap();
    assert!(down.deliver(&message).is_err());
}

// ---- the worker's rounds on a real database --------------------------------------

fn pool(db: &TestDb) -> DbPool {
    build_pool(
        &SecretString::from(db.api_url()),
        PoolSettings {
            max_size: 4,
            statement_timeout_ms: 5000,
            checkout_timeout: StdDuration::from_secs(5),
        },
    )
}

/// Now, to the second (the database keeps microseconds; whole seconds compare exactly).
fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(Utc::now().timestamp(), 0).unwrap()
}

/// Queues a message as it would be queued by a flow, due at `at`.
fn queue(db: &TestDb, channel: Channel, recipient: &str, at: DateTime<Utc>) -> Uuid {
    let id = Uuid::now_v7();
    diesel::sql_query(
        "INSERT INTO outbox (id, channel, recipient, subject, body, created_at, available_at) \
         VALUES ($1, $2, $3, 'Subject', 'Body with a code 123456', $4, $4)",
    )
    .bind::<diesel::sql_types::Uuid, _>(id)
    .bind::<Text, _>(channel.as_str())
    .bind::<Text, _>(recipient)
    .bind::<Timestamptz, _>(at)
    .execute(&mut db.superuser())
    .unwrap();
    id
}

#[derive(QueryableByName, Debug)]
struct Row {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    id: Uuid,
    #[diesel(sql_type = Integer)]
    attempts: i32,
    #[diesel(sql_type = Timestamptz)]
    available_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    delivered_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    failed_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Text>)]
    last_error: Option<String>,
    #[diesel(sql_type = Text)]
    body: String,
}

fn rows(db: &TestDb) -> Vec<Row> {
    diesel::sql_query(
        "SELECT id, attempts, available_at, delivered_at, failed_at, last_error, body \
         FROM outbox ORDER BY id",
    )
    .load(&mut db.superuser())
    .unwrap()
}

fn row(db: &TestDb, id: Uuid) -> Row {
    rows(db).into_iter().find(|r| r.id == id).unwrap()
}

#[test]
fn a_round_delivers_each_due_message_once_by_channel_and_marks_it() {
    let db = TestDb::migrated();
    let pool = pool(&db);
    let now = t0();
    let first = queue(
        &db,
        Channel::Email,
        "ada@clinic.test",
        now - Duration::minutes(1),
    );
    let second = queue(&db, Channel::Email, "bob@clinic.test", now);
    let text = queue(&db, Channel::Sms, "+33612345678", now);
    let later = queue(
        &db,
        Channel::Sms,
        "+33699999999",
        now + Duration::minutes(1),
    );
    let (emails, texts) = (CaptureProvider::new(), CaptureProvider::new());
    let provider = ByChannel {
        email: Arc::new(emails.clone()),
        sms: Arc::new(texts.clone()),
        webhook: Arc::new(CaptureProvider::new()),
    };

    assert_eq!(
        deliver_due(&pool, now, 50, &|m| provider.deliver(m)).unwrap(),
        3
    );
    let ids = |c: &CaptureProvider| c.messages().iter().map(|m| m.id.0).collect::<Vec<_>>();
    assert_eq!(ids(&emails), [first, second], "oldest first, emails only");
    assert_eq!(ids(&texts), [text]);
    assert_eq!(texts.messages()[0].recipient, "+33612345678");
    for id in [first, second, text] {
        let row = row(&db, id);
        assert_eq!(row.delivered_at, Some(now));
        assert_eq!(row.attempts, 1);
        assert_eq!(row.failed_at, None);
        assert_eq!(row.body, "", "a delivered body is not kept");
    }
    assert!(
        emails.messages().iter().all(|m| !m.body.is_empty()),
        "it was sent whole"
    );
    assert_eq!(row(&db, later).delivered_at, None, "not due yet");
    assert!(!row(&db, later).body.is_empty(), "a pending body is kept");

    // A second round at the same time finds nothing; a later one the last message.
    assert_eq!(
        deliver_due(&pool, now, 50, &|m| provider.deliver(m)).unwrap(),
        0
    );
    assert_eq!(emails.messages().len() + texts.messages().len(), 3);
    let then = now + Duration::minutes(1);
    assert_eq!(
        deliver_due(&pool, then, 50, &|m| provider.deliver(m)).unwrap(),
        1
    );
    assert_eq!(ids(&texts), [text, later]);
    assert!(rows(&db).iter().all(|r| r.delivered_at.is_some()));
}

#[test]
fn failures_back_off_and_are_given_up_after_eight_attempts() {
    let db = TestDb::migrated();
    let pool = pool(&db);
    let start = t0();
    let id = queue(&db, Channel::Email, "ada@clinic.test", start);
    let calls = AtomicUsize::new(0);
    let failing = |_: &PendingMessage| {
        calls.fetch_add(1, Ordering::SeqCst);
        Err("SMTP delivery failed: 451 4.3.0 try again later".to_owned())
    };

    assert_eq!(MAX_ATTEMPTS, 8);
    let mut now = start;
    let mut last_wait = Duration::zero();
    for attempt in 1..=8 {
        assert_eq!(deliver_due(&pool, now, 10, &failing).unwrap(), 0);
        assert_eq!(calls.load(Ordering::SeqCst), attempt);
        let row = row(&db, id);
        assert_eq!(row.attempts, i32::try_from(attempt).unwrap());
        assert_eq!(row.delivered_at, None);
        assert_eq!(
            row.last_error.as_deref(),
            Some("SMTP delivery failed: 451 4.3.0 try again later")
        );
        if attempt < 8 {
            assert_eq!(row.failed_at, None, "attempt {attempt}");
            assert!(!row.body.is_empty(), "kept for the retry");
            let wait = row.available_at - now;
            assert!(
                wait > last_wait,
                "attempt {attempt}: the back-off grows ({last_wait} then {wait})"
            );
            last_wait = wait;
            // Not retried before its time.
            let early = row.available_at - Duration::seconds(1);
            assert_eq!(deliver_due(&pool, early, 10, &failing).unwrap(), 0);
            assert_eq!(calls.load(Ordering::SeqCst), attempt);
            now = row.available_at;
        } else {
            assert_eq!(row.failed_at, Some(now), "given up at the eighth attempt");
            assert_eq!(row.body, "", "a given-up body is not kept");
        }
    }

    // Given up: never tried again, even much later.
    let capture = CaptureProvider::new();
    let much_later = now + Duration::days(30);
    let round = deliver_due(&pool, much_later, 10, &|m| capture.deliver(m));
    assert_eq!(round.unwrap(), 0);
    assert!(capture.messages().is_empty());
    assert_eq!(calls.load(Ordering::SeqCst), 8);
}

#[test]
fn a_message_that_fails_once_is_delivered_on_retry() {
    let db = TestDb::migrated();
    let pool = pool(&db);
    let now = t0();
    let id = queue(&db, Channel::Sms, "+33612345678", now);
    let failing = |_: &PendingMessage| Err("SMS gateway answered 503".to_owned());
    assert_eq!(deliver_due(&pool, now, 10, &failing).unwrap(), 0);
    let retry_at = row(&db, id).available_at;
    let capture = CaptureProvider::new();
    let round = deliver_due(&pool, retry_at, 10, &|m| capture.deliver(m));
    assert_eq!(round.unwrap(), 1);
    assert_eq!(capture.messages()[0].attempts, 1, "attempts so far");
    let row = row(&db, id);
    assert_eq!((row.attempts, row.delivered_at), (2, Some(retry_at)));
}

/// While one round holds its claimed rows (mid-delivery), a second round on another
/// connection skips them and delivers the others instead of waiting or sending
/// them again.
#[test]
fn a_concurrent_round_skips_claimed_messages_and_none_is_delivered_twice() {
    let db = TestDb::migrated();
    let pool = pool(&db);
    let now = t0();
    let queued: Vec<Uuid> = (0..20)
        .map(|i| queue(&db, Channel::Email, &format!("p{i}@clinic.test"), now))
        .collect();
    let delivered = Mutex::new(Vec::new());
    let (inside_tx, inside_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let done_rx = Mutex::new(done_rx);
    let overlapped = Mutex::new(None);

    thread::scope(|s| {
        let first = s.spawn(|| {
            let holding = AtomicBool::new(false);
            deliver_due(&pool, now, 5, &|m| {
                delivered.lock().unwrap().push(('A', m.id));
                if !holding.swap(true, Ordering::SeqCst) {
                    // Hold the claimed rows until the other round has finished.
                    inside_tx.send(()).unwrap();
                    let b_finished = done_rx
                        .lock()
                        .unwrap()
                        .recv_timeout(StdDuration::from_secs(15))
                        .is_ok();
                    *overlapped.lock().unwrap() = Some(b_finished);
                }
                Ok(())
            })
        });
        inside_rx
            .recv_timeout(StdDuration::from_secs(15))
            .expect("the first round started delivering");
        let mut second_total = 0;
        loop {
            let n = deliver_due(&pool, now, 5, &|m| {
                delivered.lock().unwrap().push(('B', m.id));
                Ok(())
            })
            .expect("the second round is not blocked by the first one's locks");
            if n == 0 {
                break;
            }
            second_total += n;
        }
        done_tx.send(()).unwrap();
        assert_eq!(first.join().unwrap().unwrap(), 5);
        assert_eq!(second_total, 15);
    });

    assert_eq!(
        *overlapped.lock().unwrap(),
        Some(true),
        "the second round finished while the first held its rows"
    );
    let delivered = delivered.into_inner().unwrap();
    let mut ids: Vec<Uuid> = delivered.iter().map(|(_, id)| id.0).collect();
    ids.sort();
    let mut expected = queued.clone();
    expected.sort();
    assert_eq!(ids, expected, "each message delivered exactly once");
    assert_eq!(delivered.iter().filter(|(w, _)| *w == 'A').count(), 5);
    assert!(
        rows(&db)
            .iter()
            .all(|r| r.attempts == 1 && r.delivered_at == Some(now))
    );
}

/// Two workers racing over the same backlog, round after round.
#[test]
fn two_racing_workers_deliver_every_message_exactly_once() {
    let db = TestDb::migrated();
    let pool = pool(&db);
    let now = t0();
    for i in 0..60 {
        queue(&db, Channel::Sms, &format!("+3361234{i:04}"), now);
    }
    let delivered = Mutex::new(Vec::new());
    let start = Barrier::new(2);
    let per_worker: Vec<usize> = thread::scope(|s| {
        let workers: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    let mut total = 0;
                    loop {
                        let n = deliver_due(&pool, now, 4, &|m| {
                            thread::sleep(StdDuration::from_millis(2));
                            delivered.lock().unwrap().push(m.id);
                            Ok(())
                        })
                        .unwrap();
                        if n == 0 {
                            return total;
                        }
                        total += n;
                    }
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let mut ids = delivered.into_inner().unwrap();
    assert_eq!(ids.len(), 60);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 60, "a message was delivered twice");
    assert_eq!(per_worker.iter().sum::<usize>(), 60);
    assert!(rows(&db).iter().all(|r| r.attempts == 1));
}

// ---- through the API ------------------------------------------------------------

#[tokio::test]
async fn a_password_reset_request_is_delivered_by_a_round() {
    let app = TestApp::spawn().await;
    let owner = app.new_owner("Harbour Clinic").await;
    let reset = app
        .post_json("/api/v1/auth/password-reset", json!({"email": owner.email}))
        .await;
    assert_eq!(reset.status(), 202);
    let token = app.token_sent(&owner.email, "Reset your Salus password");

    let (emails, texts) = (CaptureProvider::new(), CaptureProvider::new());
    let provider = ByChannel {
        email: Arc::new(emails.clone()),
        sms: Arc::new(texts.clone()),
        webhook: Arc::new(CaptureProvider::new()),
    };
    let pool = pool(&app.db);
    let now = app.clock.now();
    let round =
        tokio::task::spawn_blocking(move || deliver_due(&pool, now, 50, &|m| provider.deliver(m)))
            .await
            .unwrap()
            .unwrap();

    let to_owner: Vec<PendingMessage> = emails
        .messages()
        .into_iter()
        .filter(|m| m.recipient == owner.email)
        .collect();
    assert_eq!(round, emails.messages().len(), "everything queued was due");
    let reset_mail = to_owner
        .iter()
        .find(|m| m.subject == "Reset your Salus password")
        .expect("the reset email was delivered");
    assert!(reset_mail.body.contains(&token));
    assert!(texts.messages().is_empty(), "no SMS was queued");
    assert!(
        rows(&app.db)
            .iter()
            .all(|r| r.delivered_at.is_some() && r.attempts == 1)
    );
}

/// Waits (without blocking the runtime the server and its worker run on) until
/// `found` returns something.
#[tokio::test]
async fn a_server_delivers_codes_through_smtp_and_the_sms_gateway() {
    let sink = SmtpSink::start();
    let gateway = SmsGateway::start(GATEWAY_SECRET);
    let (smtp_url, gateway_url) = (sink.url(), gateway.url());
    let app = TestApp::spawn_with(&[
        ("OUTBOX_POLL_SECONDS", "1"),
        ("OUTBOX_EMAIL_PROVIDER", "smtp"),
        ("SMTP_URL", &smtp_url),
        ("SMTP_FROM", "Salus <no-reply@clinic.test>"),
        ("OUTBOX_SMS_PROVIDER", "gateway"),
        ("SMS_GATEWAY_URL", &gateway_url),
        ("SMS_GATEWAY_SECRET", GATEWAY_SECRET),
    ])
    .await;
    let owner = app.owner_with_mfa("Harbour Clinic").await;

    // A phone code travels through the gateway, signed, and verifies the phone.
    let put = app
        .client
        .post(format!("{}/api/v1/me/phone", app.url))
        .bearer_auth(&owner.access)
        .json(&json!({"phone": "+33612345678"}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 202);
    let sent: Value = eventually("the SMS at the gateway", || {
        gateway
            .requests()
            .iter()
            .map(|r| (r.signature_valid, r.json()))
            .find(|(_, body)| body["to"] == "+33612345678")
            .map(|(valid, body)| {
                assert!(valid, "unsigned SMS: {body}");
                body
            })
    })
    .await;
    let code: String = sent["body"]
        .as_str()
        .unwrap()
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .expect("a six-digit code")
        .to_owned();
    let verify = app
        .post("/api/v1/me/phone/verify")
        .bearer_auth(&owner.access)
        .json(&json!({"code": code}))
        .send()
        .await
        .unwrap();
    assert_eq!(verify.status(), 204);

    // A reset code travels by SMTP and resets the password.
    app.post_json("/api/v1/auth/password-reset", json!({"email": owner.email}))
        .await;
    let mail = eventually("the reset email at the SMTP server", || {
        sink.mails().into_iter().find(|m| {
            m.rcpt_to == [owner.email.clone()] && m.data.contains("Reset your Salus password")
        })
    })
    .await;
    assert!(mail.data.contains("From: Salus <no-reply@clinic.test>"));
    // Read from the mail as delivered: the outbox keeps no body once it is sent.
    let body = mail
        .data
        .split_once("\r\n\r\n")
        .or_else(|| mail.data.split_once("\n\n"))
        .map_or("", |(_, body)| body);
    let token = salus_tests::identity::token_in(body).expect("a token in the mail");
    let confirm = app
        .post_json(
            "/api/v1/auth/password-reset/confirm",
            json!({"token": token, "new_password": OTHER_PASSWORD}),
        )
        .await;
    assert_eq!(confirm.status(), 204);

    // Everything queued was delivered, each message once.
    eventually("every message marked delivered", || {
        rows(&app.db)
            .iter()
            .all(|r| r.delivered_at.is_some())
            .then_some(())
    })
    .await;
    assert!(rows(&app.db).iter().all(|r| r.attempts == 1));
    assert!(
        rows(&app.db).iter().all(|r| r.body.is_empty()),
        "no delivered message keeps its body (the codes and tokens it carried)"
    );
    assert_eq!(gateway.requests().len(), 1, "one SMS, sent once");
}
