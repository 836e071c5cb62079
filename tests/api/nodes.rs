//! Two API nodes on one database, how Salus scales out (issue 17 item 4): a
//! session revoked through one node is refused by the other on its next
//! request (no node caches a session), and the background jobs both nodes run
//! (outbox delivery, audit sealing, the alert detectors) act exactly once
//! across them over a window.

use std::time::Duration as StdDuration;

use salus_tests::catalogue::count;
use salus_tests::outbox::SmtpSink;
use salus_tests::{TestApp, eventually};
use serde_json::json;

#[tokio::test]
async fn two_nodes_share_revocations_and_run_each_background_job_once() {
    let sink = SmtpSink::start();
    let smtp = sink.url();
    let jobs = [
        ("OUTBOX_POLL_SECONDS", "1"),
        ("AUDIT_JOB_SECONDS", "1"),
        ("OUTBOX_EMAIL_PROVIDER", "smtp"),
        ("SMTP_URL", smtp.as_str()),
        ("SMTP_FROM", "Salus <no-reply@clinic.test>"),
    ];
    let a = TestApp::spawn_with(&jobs).await;
    // Behind one address, as behind a load balancer: B's public URL (the
    // tokens' issuer) is A's, and B is reached where it listens.
    let mut with_a_url = jobs.to_vec();
    with_a_url.push(("PUBLIC_URL", a.url.as_str()));
    let b = a.sibling(&with_a_url).await;
    let b_url = format!("http://{}", b.http_addr);

    // A session revoked through A is refused by B at once.
    let owner = a.owner_with_mfa("Two Nodes Clinic").await;
    let through_b = |token: String| {
        a.client
            .get(format!("{b_url}/api/v1/me"))
            .bearer_auth(token)
            .send()
    };
    assert_eq!(through_b(owner.access.clone()).await.unwrap().status(), 200);
    let out = a
        .client
        .post(format!("{}/api/v1/auth/logout", a.url))
        .bearer_auth(&owner.access)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    assert_eq!(
        through_b(owner.access.clone()).await.unwrap().status(),
        401,
        "B refuses the session A revoked"
    );

    // Outbox: messages queued through both nodes, each delivered once.
    let mut addresses = Vec::new();
    for n in 0..6 {
        let email = salus_tests::identity::unique_email(&format!("node{n}"));
        let base = if n % 2 == 0 { &a.url } else { &b_url };
        let signed_up = a
            .client
            .post(format!("{base}/api/v1/clinics"))
            .json(
                &json!({"clinic_name": format!("Node clinic {n}"), "email": email,
                          "password": salus_tests::identity::PASSWORD,
                          "given_name": "Ada", "family_name": "Node"}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(signed_up.status(), 202);
        addresses.push(email);
    }
    eventually("every message delivered", || {
        let mut su = a.db.superuser();
        (count(
            &mut su,
            "SELECT count(*) AS n FROM outbox WHERE delivered_at IS NULL AND failed_at IS NULL",
        ) == 0)
            .then_some(())
    })
    .await;
    // A few more rounds of both nodes over the window.
    tokio::time::sleep(StdDuration::from_secs(3)).await;
    let mails = sink.mails();
    for email in &addresses {
        let to = mails
            .iter()
            .filter(|m| m.rcpt_to == [email.clone()])
            .count();
        assert_eq!(to, 1, "{email} got {to} mails");
    }
    let mut su = a.db.superuser();
    assert_eq!(
        count(
            &mut su,
            "SELECT count(*) AS n FROM outbox WHERE attempts <> 1"
        ),
        0,
        "each message was sent once"
    );

    // Audit sealing (each chain once an hour): both nodes' jobs run the hour's
    // maintenance; each chain is sealed at a position once, whichever node did.
    a.clock
        .advance(chrono::Duration::hours(1) + chrono::Duration::seconds(1));
    eventually("the chains sealed", || {
        let mut su = a.db.superuser();
        (count(&mut su, "SELECT count(*) AS n FROM audit.checkpoints") >= 1).then_some(())
    })
    .await;
    tokio::time::sleep(StdDuration::from_secs(3)).await;
    let sealed = count(&mut su, "SELECT count(*) AS n FROM audit.checkpoints");
    assert!(sealed >= 1, "the chains were sealed");
    assert_eq!(
        count(
            &mut su,
            "SELECT count(*) AS n FROM (SELECT chain_id, seq FROM audit.checkpoints
              GROUP BY chain_id, seq HAVING count(*) > 1) d"
        ),
        0,
        "no chain position sealed twice"
    );

    // Alerts: one reuse of a refresh token, one alert, however many rounds.
    let receptionist = {
        let owner = a.owner_with_mfa("Alerting Clinic").await;
        a.join_as(&owner, "receptionist").await
    };
    for _ in 0..2 {
        a.post_json(
            "/api/v1/auth/refresh",
            json!({"refresh_token": receptionist.refresh}),
        )
        .await;
    }
    eventually("the reuse alert", || {
        let mut su = a.db.superuser();
        (count(
            &mut su,
            "SELECT count(*) AS n FROM security_alerts WHERE kind = 'refresh_token_reuse'",
        ) >= 1)
            .then_some(())
    })
    .await;
    tokio::time::sleep(StdDuration::from_secs(3)).await;
    assert_eq!(
        count(
            &mut a.db.superuser(),
            "SELECT count(*) AS n FROM security_alerts WHERE kind = 'refresh_token_reuse'"
        ),
        1,
        "one alert across both nodes"
    );
}
