//! The age of every secret and key against its rotation period (issue 16, E3):
//! the signing and master keys at 30 days, the other secrets and each clinic's
//! data key at 90, each at its boundary, in `/metrics` and in the report
//! `salus keys report` prints; a rotated key's age starts again from its first
//! day in use, recorded in the platform audit chain.

use chrono::Duration;
use salus_domain::secrets::{SecretAge, SecretInUse, SecretKind};
use salus_tests::catalogue::count;
use salus_tests::{TestApp, metric_value};

/// The secrets' ages by the test server's clock, of what it runs with or of
/// `in_use` (as the server records them).
async fn ages(app: &TestApp, in_use: Option<Vec<SecretInUse>>) -> Vec<SecretAge> {
    let services = app.services();
    tokio::task::spawn_blocking(move || match in_use {
        None => services.secrets.ages(),
        Some(in_use) => {
            let periods = services.settings().rotation_periods;
            services.secrets.ages_of(&in_use, periods)
        }
    })
    .await
    .unwrap()
    .unwrap()
}

fn overdue(ages: &[SecretAge], kind: SecretKind) -> Vec<bool> {
    ages.iter()
        .filter(|a| a.kind == kind)
        .map(SecretAge::overdue)
        .collect()
}

#[tokio::test]
async fn every_secret_and_key_is_due_at_its_period_and_a_rotation_starts_it_again() {
    let webhook_secret = "whsec-rotation-test-0123456789abcdef";
    let app = TestApp::spawn_with(&[
        ("METRICS_BIND", "127.0.0.1:0"),
        ("SECURITY_WEBHOOK_URL", "http://127.0.0.1:9/hook"),
        ("SECURITY_WEBHOOK_SECRET", webhook_secret),
    ])
    .await;
    app.owner_with_mfa("Keys Clinic").await;
    let in_use = app.services().settings().secrets_in_use.clone();
    let kinds: Vec<SecretKind> = in_use.iter().map(|s| s.kind).collect();
    for kind in [
        SecretKind::TokenSigning,
        SecretKind::Master,
        SecretKind::AuditSigning,
        SecretKind::SecurityWebhook,
    ] {
        assert!(kinds.contains(&kind), "{kind:?} is in use: {kinds:?}");
    }
    let webhook = in_use
        .iter()
        .find(|s| s.kind == SecretKind::SecurityWebhook)
        .unwrap();
    assert!(
        webhook.key_id.starts_with("sha256:") && !webhook.key_id.contains(webhook_secret),
        "a secret without an id is named by a fingerprint: {}",
        webhook.key_id
    );

    let now = ages(&app, None).await;
    assert!(now.iter().all(|a| !a.overdue()), "{now:?}");
    assert_eq!(overdue(&now, SecretKind::ClinicDataKey), [false]);

    // The critical keys: due at 30 days, not a second before.
    app.clock.advance(Duration::days(30) - Duration::seconds(5));
    let before = ages(&app, None).await;
    assert_eq!(
        overdue(&before, SecretKind::Master),
        [false],
        "at 30 days less 5 s"
    );
    app.clock.advance(Duration::seconds(10));
    let after = ages(&app, None).await;
    for kind in [
        SecretKind::TokenSigning,
        SecretKind::Master,
        SecretKind::AuditSigning,
    ] {
        assert_eq!(overdue(&after, kind), [true], "{kind:?} at 30 days and 5 s");
    }
    assert_eq!(overdue(&after, SecretKind::SecurityWebhook), [false]);
    assert_eq!(overdue(&after, SecretKind::ClinicDataKey), [false]);
    let text = app.scrape_metrics().await;
    assert_eq!(
        metric_value(&text, "salus_secrets_overdue{kind=\"master_key\"}"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        metric_value(&text, "salus_secrets_overdue{kind=\"clinic_data_key\"}"),
        Some(0.0)
    );
    let age = metric_value(&text, "salus_secret_age_seconds{kind=\"master_key\"}").unwrap();
    assert!(age > 30.0 * 86_400.0, "{age}");

    // The audit job's round raises one alert per overdue key, once.
    let round = app.audit_round().await;
    let raised: Vec<&str> = round
        .alerts
        .iter()
        .filter(|a| a.kind == "secret_rotation_overdue")
        .map(|a| a.subject.as_str())
        .collect();
    assert_eq!(raised.len(), 3, "the three critical keys: {raised:?}");
    assert!(
        raised.iter().any(|s| s.starts_with("master_key:")),
        "{raised:?}"
    );
    let again = app.audit_round().await;
    assert!(
        again
            .alerts
            .iter()
            .all(|a| a.kind != "secret_rotation_overdue"),
        "once per key"
    );

    // The standard ones at 90 days.
    app.clock.advance(Duration::days(60));
    let later = ages(&app, None).await;
    assert_eq!(overdue(&later, SecretKind::SecurityWebhook), [true]);
    assert_eq!(overdue(&later, SecretKind::ClinicDataKey), [true]);

    // A rotated master key: a new id first in the ring, young again, and its
    // first day in use is in the platform audit chain.
    let mut rotated = in_use.clone();
    for secret in &mut rotated {
        if secret.kind == SecretKind::Master {
            *secret = SecretInUse {
                kind: SecretKind::Master,
                key_id: "master-rotated".into(),
            };
        }
    }
    let fresh = ages(&app, Some(rotated)).await;
    assert_eq!(overdue(&fresh, SecretKind::Master), [false]);
    let mut su = app.db.superuser();
    assert_eq!(
        count(
            &mut su,
            "SELECT count(*) AS n FROM audit.events WHERE action = 'secret.first_seen'
                AND clinic_id IS NULL AND details LIKE '%master-rotated%'"
        ),
        1
    );
}
