//! Probes and security.txt.

use chrono::{DateTime, Utc};
use salus_tests::TestApp;
use serde_json::Value;

#[tokio::test]
async fn live_answers_while_the_process_runs() {
    let app = TestApp::spawn().await;
    let response = app.get("/health/live").send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "live");
}

#[tokio::test]
async fn ready_follows_the_database_down_and_back_up_without_restart() {
    let app = TestApp::spawn().await;
    let response = app.get("/health/ready").send().await.unwrap();
    assert_eq!(response.status(), 200);

    app.db.take_offline();
    let response = app.get("/health/ready").send().await.unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["code"], "service_unavailable");
    assert_eq!(problem["status"], 503);
    let text = problem.to_string();
    assert!(
        !text.contains("salus_test_"),
        "the database name leaked: {text}"
    );

    // Back without a restart: as soon as the pool has connected again (its
    // retries after the outage take up to a checkout timeout).
    app.db.bring_online();
    let started = std::time::Instant::now();
    loop {
        let response = app.get("/health/ready").send().await.unwrap();
        if response.status() == 200 {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "still not ready 5 s after the database came back: {}",
            response.status()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn security_txt_follows_rfc_9116() {
    let app = TestApp::spawn().await;
    let response = app.get("/.well-known/security.txt").send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.unwrap();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("no {name} in {text}"))
            .to_owned()
    };
    assert_eq!(field("Contact"), "mailto:security@clinic.test");
    assert_eq!(
        field("Canonical"),
        format!("{}/.well-known/security.txt", app.url)
    );
    assert!(field("Preferred-Languages").contains("en"));
    let expires: DateTime<Utc> = field("Expires").parse().unwrap();
    let now = salus_domain::Clock::now(app.clock.as_ref());
    assert!(expires > now + chrono::Duration::days(30));
    assert!(expires < now + chrono::Duration::days(366));
}
