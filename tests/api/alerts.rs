//! Security alerts: detectors over the audit trail raise them once per subject
//! and window, store them for the clinic, email its administrators and post them
//! to the platform's webhook within the five-minute deadline.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use salus_tests::identity::Member;
use salus_tests::outbox::SmsGateway;
use salus_tests::{TestApp, eventually};
use serde_json::{Value, json};

const WEBHOOK_SECRET: &str = "webhook-secret-for-tests-0001";

#[derive(QueryableByName)]
struct N {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn alerts_of_kind(app: &TestApp, kind: &str) -> i64 {
    diesel::sql_query("SELECT count(*) AS n FROM security_alerts WHERE kind = $1")
        .bind::<Text, _>(kind)
        .get_result::<N>(&mut app.db.superuser())
        .unwrap()
        .n
}

async fn listed(app: &TestApp, who: &Member) -> Vec<Value> {
    let body: Value = app
        .get_as(&who.access, "/api/v1/security-alerts")
        .await
        .json()
        .await
        .unwrap();
    body["items"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn a_reused_refresh_token_raises_an_alert_by_the_running_job_within_the_deadline() {
    let webhook = SmsGateway::start(WEBHOOK_SECRET);
    let url = webhook.url();
    // Mails land as files here: a delivered message's body leaves the outbox.
    let mail = salus_tests::cluster::Scratch::new("alert-mail");
    let mail_dir = mail.path("mail").display().to_string();
    let app = TestApp::spawn_with(&[
        ("AUDIT_JOB_SECONDS", "1"),
        ("OUTBOX_POLL_SECONDS", "1"),
        ("OUTBOX_DIR", &mail_dir),
        ("SECURITY_WEBHOOK_URL", &url),
        ("SECURITY_WEBHOOK_SECRET", WEBHOOK_SECRET),
    ])
    .await;
    let owner = app.owner_with_mfa("Harbour Clinic").await;
    let receptionist = app.join_as(&owner, "receptionist").await;
    let me: Value = app.me(&receptionist).await;
    let first = app
        .post_json(
            "/api/v1/auth/refresh",
            json!({"refresh_token": receptionist.refresh}),
        )
        .await;
    assert_eq!(first.status(), 200);
    let triggered: DateTime<Utc> = salus_domain::Clock::now(app.clock.as_ref());
    let reused = app
        .post_json(
            "/api/v1/auth/refresh",
            json!({"refresh_token": receptionist.refresh}),
        )
        .await;
    assert_eq!(reused.status(), 401);
    // Time passes on the server's clock before the job's next round.
    app.clock.advance(Duration::minutes(4));

    let alert = {
        let mut found = None;
        for _ in 0..200 {
            let items = listed(&app, &owner).await;
            if let Some(a) = items
                .into_iter()
                .find(|a| a["kind"] == "refresh_token_reuse")
            {
                found = Some(a);
                break;
            }
            tokio::time::sleep(StdDuration::from_millis(50)).await;
        }
        found.expect("the running job raised the alert")
    };
    let raised: DateTime<Utc> = alert["raised_at"].as_str().unwrap().parse().unwrap();
    let at: DateTime<Utc> = alert["triggered_at"].as_str().unwrap().parse().unwrap();
    assert!((at - triggered).num_seconds().abs() <= 1, "{alert}");
    assert!(
        raised - at <= Duration::minutes(5),
        "deadline missed: {alert}"
    );
    assert_eq!(alert["subject"], me["account_id"], "{alert}");

    let posted = eventually("the alert at the platform webhook", || {
        webhook.requests().into_iter().find(|r| {
            r.json()["body"]
                .as_str()
                .is_some_and(|b| b.contains("refresh_token_reuse"))
        })
    })
    .await;
    assert!(posted.signature_valid, "the webhook call is signed");
    let body: Value = serde_json::from_str(posted.json()["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["alert_id"], alert["id"]);

    eventually("the owner's alert email, delivered", || {
        std::fs::read_dir(&mail_dir)
            .ok()?
            .flatten()
            .filter_map(|f| std::fs::read_to_string(f.path()).ok())
            .find(|m| {
                m.contains(&owner.email)
                    && m.contains("Salus security alert: refresh_token_reuse")
                    && m.contains("Harbour Clinic")
            })
    })
    .await;
    // One alert per subject and window, however often the job runs.
    app.audit_round().await;
    assert_eq!(alerts_of_kind(&app, "refresh_token_reuse"), 1);
}

#[tokio::test]
async fn five_failed_sign_ins_raise_a_brute_force_alert_and_four_do_not() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Harbour Clinic").await;
    for _ in 0..4 {
        assert_eq!(
            app.login(&owner.email, "wrong password entirely")
                .await
                .status(),
            401
        );
    }
    let quiet = app.audit_round().await;
    assert!(quiet.alerts.is_empty(), "{quiet:?}");
    assert_eq!(
        app.login(&owner.email, "wrong password entirely")
            .await
            .status(),
        401
    );
    let loud = app.audit_round().await;
    let kinds: Vec<&str> = loud.alerts.iter().map(|a| a.kind.as_str()).collect();
    assert_eq!(kinds, ["brute_force_account"]);
    assert_eq!(loud.alerts[0].event_count, 5);
}

#[tokio::test]
async fn probing_for_ids_raises_an_alert_for_the_clinic() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Harbour Clinic").await;
    for _ in 0..20 {
        let id = uuid::Uuid::new_v4();
        let probe = app
            .get_as(&owner.access, &format!("/api/v1/patients/{id}"))
            .await;
        assert_eq!(probe.status(), 404);
    }
    app.audit_round().await;
    let items = listed(&app, &owner).await;
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["kind"], "id_probing");
    assert_eq!(items[0]["event_count"], 20);
}
