//! Framework-level errors leave as problem+json with a stable code.

use salus_tests::TestApp;
use serde_json::Value;

async fn problem(response: reqwest::Response) -> Value {
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json",
        "status {}",
        response.status()
    );
    response.json().await.unwrap()
}

#[tokio::test]
async fn unknown_route_is_a_404_problem() {
    let app = TestApp::spawn().await;
    let response = app.get("/api/v1/nothing-here").send().await.unwrap();
    assert_eq!(response.status(), 404);
    let body = problem(response).await;
    assert_eq!(body["code"], "not_found");
    assert_eq!(body["status"], 404);
    assert!(body["type"].as_str().unwrap().starts_with("https://"));
}

#[tokio::test]
async fn wrong_method_is_a_405_problem_with_allow() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .delete(format!("{}/health/live", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "GET");
    let body = problem(response).await;
    assert_eq!(body["code"], "method_not_allowed");
}

#[tokio::test]
async fn a_body_that_is_not_json_is_a_415_problem() {
    let app = TestApp::spawn().await;
    let response = app
        .post("/health/live")
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
    let body = problem(response).await;
    assert_eq!(body["code"], "unsupported_media_type");
}

#[tokio::test]
async fn a_refused_cors_preflight_is_a_problem_too() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .request(reqwest::Method::OPTIONS, format!("{}/health/live", app.url))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert!(response.status().is_client_error(), "{}", response.status());
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    let body = problem(response).await;
    assert!(body["code"].is_string());
}
