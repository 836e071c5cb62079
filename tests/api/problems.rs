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

/// A body that is not `application/json` is a 415, but only after the questions
/// that come first: the path exists (else 404) and, for a protected operation, the
/// caller is signed in (else 401). JSON flavours the contract does not document are
/// refused like any other type.
#[tokio::test]
async fn a_body_that_is_not_json_is_a_415_after_404_and_401() {
    let app = TestApp::spawn().await;
    let send = |path: &str, content_type: &'static str| {
        app.post(path)
            .header("content-type", content_type)
            .body("{\"email\":\"a@b.test\",\"password\":\"x\"}")
            .send()
    };
    for content_type in [
        "text/plain",
        "application/json-patch+json",
        "application/merge-patch+json",
    ] {
        let public = send("/api/v1/auth/login", content_type).await.unwrap();
        assert_eq!(public.status(), 415, "{content_type}");
        assert_eq!(problem(public).await["code"], "unsupported_media_type");

        let protected = send("/api/v1/patients", content_type).await.unwrap();
        assert_eq!(protected.status(), 401, "{content_type}");
        assert_eq!(problem(protected).await["code"], "unauthenticated");

        let nowhere = send("/api/v1/nothing-here", content_type).await.unwrap();
        assert_eq!(nowhere.status(), 404, "{content_type}");
    }
    let owner = app.owner_with_mfa("Media Type Clinic").await;
    let signed_in = app
        .post("/api/v1/patients")
        .bearer_auth(&owner.access)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 415);
}

/// Every problem body names the request it answers, as the header does.
#[tokio::test]
async fn problem_bodies_carry_the_request_id() {
    let app = TestApp::spawn().await;
    let chosen = app
        .get("/api/v1/nothing-here")
        .header("x-request-id", "client-chosen-42")
        .send()
        .await
        .unwrap();
    assert_eq!(problem(chosen).await["request_id"], "client-chosen-42");
    let made = app.get("/api/v1/patients").send().await.unwrap();
    let header = made.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(problem(made).await["request_id"], header.as_str());
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
    assert_eq!(body["code"], "cors_refused");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("Origin is not allowed"),
        "{body}"
    );
}
