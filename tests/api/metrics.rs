//! Monitoring: `GET /metrics` on the metrics listener (`METRICS_BIND`) only, with
//! requests counted by route pattern, authentication failures and the outbox backlog.

use chrono::Duration;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Timestamptz};
use salus_tests::{TestApp, metric_value};
use serde_json::json;

const METRICS_ON: [(&str, &str); 1] = [("METRICS_BIND", "127.0.0.1:0")];

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Messages neither delivered nor given up, counted directly in the table.
fn undelivered(app: &TestApp) -> i64 {
    diesel::sql_query(
        "SELECT count(*) AS n FROM outbox WHERE delivered_at IS NULL AND failed_at IS NULL",
    )
    .get_result::<Count>(&mut app.db.superuser())
    .unwrap()
    .n
}

/// Queues a message due at `at` that has been tried `attempts` times.
fn queue_message(app: &TestApp, at: chrono::DateTime<chrono::Utc>, attempts: i32) {
    diesel::sql_query(
        "INSERT INTO outbox (id, channel, recipient, subject, body, created_at, available_at, attempts) \
         VALUES (gen_random_uuid(), 'email', 'someone@clinic.test', 'Subject', 'Body', $1, $1, $2)",
    )
    .bind::<Timestamptz, _>(at)
    .bind::<Integer, _>(attempts)
    .execute(&mut app.db.superuser())
    .unwrap();
}

#[tokio::test]
async fn requests_are_counted_by_route_pattern_with_auth_failures_and_the_outbox_backlog() {
    let app = TestApp::spawn_with(&METRICS_ON).await;
    let owner = app.owner_with_mfa("Metrics Clinic").await;
    let id = app
        .patient(&owner, json!({"family_name": "Lovelace", "given_name": "Ada", "birth_date": "1985-12-10", "sex": "female"}))
        .await
        .id;
    for _ in 0..2 {
        let read = app
            .get_as(&owner.access, &format!("/api/v1/patients/{id}"))
            .await;
        assert_eq!(read.status(), 200);
    }
    let missing = uuid::Uuid::now_v7().to_string();
    let read = app
        .get_as(&owner.access, &format!("/api/v1/patients/{missing}"))
        .await;
    assert_eq!(read.status(), 404);
    let nowhere = app
        .get(&format!("/nowhere/{missing}"))
        .send()
        .await
        .unwrap();
    assert_eq!(nowhere.status(), 404);
    let refused = app.login(&owner.email, "not the password at all").await;
    assert_eq!(refused.status(), 401);
    let anonymous = app.get("/api/v1/me").send().await.unwrap();
    assert_eq!(anonymous.status(), 401);

    let text = app.scrape_metrics().await;
    let requests = |method: &str, route: &str, status: u16| {
        metric_value(
            &text,
            &format!(
                "salus_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}}"
            ),
        )
    };
    assert_eq!(
        requests("POST", "/api/v1/patients", 201),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        requests("GET", "/api/v1/patients/{id}", 200),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        requests("GET", "/api/v1/patients/{id}", 404),
        Some(1.0),
        "{text}"
    );
    assert_eq!(requests("GET", "unmatched", 404), Some(1.0), "{text}");
    assert_eq!(
        requests("POST", "/api/v1/auth/login", 200),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        requests("POST", "/api/v1/auth/login", 401),
        Some(1.0),
        "{text}"
    );
    assert_eq!(requests("GET", "/api/v1/me", 401), Some(1.0), "{text}");
    let durations = "salus_http_request_duration_seconds";
    let patient = "method=\"GET\",route=\"/api/v1/patients/{id}\"";
    assert_eq!(
        metric_value(&text, &format!("{durations}_count{{{patient}}}")),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        metric_value(
            &text,
            &format!("{durations}_bucket{{{patient},le=\"+Inf\"}}")
        ),
        Some(3.0),
        "{text}"
    );
    assert!(metric_value(&text, &format!("{durations}_sum{{{patient}}}")).unwrap() > 0.0);
    for concrete in [id.as_str(), missing.as_str(), "/nowhere"] {
        assert!(
            !text.contains(concrete),
            "{concrete} reached a label: {text}"
        );
    }
    assert!(
        !text.contains("route=\"/metrics\""),
        "scrapes are not API requests: {text}"
    );

    let failures = |reason: &str| {
        metric_value(
            &text,
            &format!("salus_auth_failures_total{{reason=\"{reason}\"}}"),
        )
    };
    assert_eq!(failures("login_failed"), Some(1.0), "{text}");
    assert_eq!(failures("unauthorized"), Some(1.0), "{text}");
    assert_eq!(failures("mfa_failed"), Some(0.0), "{text}");
    assert_eq!(failures("rate_limited"), Some(0.0), "{text}");

    // The sign-up queued a verification email; nothing has delivered it.
    let pending = undelivered(&app);
    assert!(pending >= 1, "the flow queued no message");
    assert_eq!(
        metric_value(&text, "salus_database_up"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        metric_value(&text, "salus_outbox_backlog"),
        Some(pending as f64),
        "{text}"
    );

    // A message waiting for a retry is a backlog; one scheduled for tomorrow is not.
    let now = salus_domain::Clock::now(app.clock.as_ref());
    queue_message(&app, now + Duration::minutes(5), 1);
    queue_message(&app, now + Duration::days(1), 0);
    assert_eq!(undelivered(&app), pending + 2);
    let text = app.scrape_metrics().await;
    assert_eq!(
        metric_value(&text, "salus_outbox_backlog"),
        Some((pending + 1) as f64),
        "{text}"
    );
}

#[tokio::test]
async fn metrics_are_served_only_on_the_metrics_listener() {
    let app = TestApp::spawn_with(&METRICS_ON).await;
    let public = app.get("/metrics").send().await.unwrap();
    assert_eq!(public.status(), 404);
    assert_eq!(public.headers()["content-type"], "application/problem+json");
    assert!(
        salus_http::openapi_document()["paths"]
            .get("/metrics")
            .is_none(),
        "/metrics is not part of the public contract"
    );

    let metrics_addr = app.metrics_addr.unwrap();
    assert_ne!(metrics_addr, app.http_addr);
    for path in ["/health/live", "/openapi.json", "/api/v1/me"] {
        let response = app
            .client
            .get(format!("http://{metrics_addr}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{path} on the metrics listener");
    }

    let without = TestApp::spawn().await;
    assert_eq!(without.metrics_addr, None, "metrics are off by default");
    assert_eq!(without.get("/metrics").send().await.unwrap().status(), 404);
}

#[tokio::test]
async fn a_scrape_answers_while_the_database_is_down() {
    let app = TestApp::spawn_with(&METRICS_ON).await;
    let live = app.get("/health/live").send().await.unwrap();
    assert_eq!(live.status(), 200);
    let live_count =
        "salus_http_requests_total{method=\"GET\",route=\"/health/live\",status=\"200\"}";

    app.db.take_offline();
    let text = app.scrape_metrics().await;
    assert_eq!(
        metric_value(&text, "salus_database_up"),
        Some(0.0),
        "{text}"
    );
    assert_eq!(metric_value(&text, "salus_outbox_backlog"), None, "{text}");
    assert_eq!(metric_value(&text, live_count), Some(1.0), "{text}");

    app.db.bring_online();
    let text = app.scrape_metrics().await;
    assert_eq!(
        metric_value(&text, "salus_database_up"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        metric_value(&text, "salus_outbox_backlog"),
        Some(0.0),
        "{text}"
    );
}
