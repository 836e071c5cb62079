//! Security headers, request ids and CORS.

use salus_tests::TestApp;

fn assert_security_headers(response: &reqwest::Response) {
    let headers = response.headers();
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(
        headers["content-security-policy"],
        "default-src 'none'; frame-ancestors 'none'"
    );
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["cache-control"], "no-store");
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let app = TestApp::spawn().await;
    for path in ["/health/live", "/nowhere", "/openapi.json"] {
        let response = app.get(path).send().await.unwrap();
        assert_security_headers(&response);
        assert!(
            response
                .headers()
                .get("strict-transport-security")
                .is_none(),
            "HSTS on plain HTTP at {path}"
        );
    }
    let response = app
        .client
        .put(format!("{}/health/live", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_security_headers(&response);
}

#[tokio::test]
async fn hsts_is_sent_when_a_trusted_proxy_says_https() {
    let app = TestApp::spawn_with(&[("TRUST_PROXY_TLS", "true")]).await;
    let response = app
        .get("/health/live")
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    let hsts = response.headers()["strict-transport-security"]
        .to_str()
        .unwrap();
    assert!(hsts.contains("includeSubDomains"));

    let untrusting = TestApp::spawn().await;
    let response = untrusting
        .get("/health/live")
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    assert!(
        response
            .headers()
            .get("strict-transport-security")
            .is_none()
    );
}

#[tokio::test]
async fn a_valid_request_id_is_echoed_and_a_bad_one_replaced() {
    let app = TestApp::spawn().await;
    let response = app
        .get("/health/live")
        .header("x-request-id", "lb-1234.abc")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "lb-1234.abc");

    for bad in ["has space", "<script>", &"x".repeat(200)] {
        let response = app
            .get("/health/live")
            .header("x-request-id", bad)
            .send()
            .await
            .unwrap();
        let id = response.headers()["x-request-id"].to_str().unwrap();
        assert_ne!(id, bad);
        assert!(uuid::Uuid::parse_str(id).is_ok(), "generated id {id}");
    }

    let first = app.get("/nowhere").send().await.unwrap();
    let second = app.get("/nowhere").send().await.unwrap();
    let (a, b) = (
        &first.headers()["x-request-id"],
        &second.headers()["x-request-id"],
    );
    assert_ne!(a, b);
    assert_eq!(
        uuid::Uuid::parse_str(a.to_str().unwrap())
            .unwrap()
            .get_version_num(),
        7
    );
}

#[tokio::test]
async fn cors_allows_only_configured_origins() {
    let app = TestApp::spawn_with(&[("CORS_ALLOWED_ORIGINS", "https://app.clinic.test")]).await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, format!("{}/health/live", app.url))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .send()
    };
    let allowed = preflight("https://app.clinic.test").await.unwrap();
    assert!(allowed.status().is_success());
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.clinic.test"
    );
    let with_headers = app
        .client
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/api/v1/patients/x", app.url),
        )
        .header("origin", "https://app.clinic.test")
        .header("access-control-request-method", "PUT")
        .header(
            "access-control-request-headers",
            "authorization, content-type, if-match, x-request-id, idempotency-key",
        )
        .send()
        .await
        .unwrap();
    assert!(
        with_headers.status().is_success(),
        "{}",
        with_headers.status()
    );
    let allowed_headers = with_headers.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    for name in [
        "authorization",
        "content-type",
        "if-match",
        "x-request-id",
        "idempotency-key",
    ] {
        assert!(allowed_headers.contains(name), "{name}: {allowed_headers}");
    }
    let unknown_header = app
        .client
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/api/v1/patients", app.url),
        )
        .header("origin", "https://app.clinic.test")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "x-evil")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown_header.status(), 400);
    let body: serde_json::Value = unknown_header.json().await.unwrap();
    assert_eq!(body["code"], "cors_refused");
    assert!(
        body["detail"].as_str().unwrap().contains("x-request-id"),
        "{body}"
    );

    let refused = preflight("https://evil.example").await.unwrap();
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );

    let simple = app
        .get("/health/live")
        .header("origin", "https://app.clinic.test")
        .send()
        .await
        .unwrap();
    assert_eq!(
        simple.headers()["access-control-allow-origin"],
        "https://app.clinic.test"
    );
    let exposed = simple.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    for name in [
        "etag",
        "location",
        "retry-after",
        "x-request-id",
        "idempotency-replayed",
    ] {
        assert!(exposed.contains(name), "{name} is not exposed: {exposed}");
    }
}
