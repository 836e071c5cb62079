//! The OpenAPI contract: generated from the code, committed, served, complete.

use salus_tests::TestApp;
use serde_json::Value;

fn committed() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../openapi/openapi.json");
    std::fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn committed_document_matches_the_code() {
    let generated = salus_http::openapi_json();
    assert!(
        committed() == generated,
        "openapi/openapi.json is out of date: run `make openapi` and commit the result"
    );
}

#[tokio::test]
async fn the_served_document_is_openapi_3_1_and_matches() {
    let app = TestApp::spawn().await;
    let served: Value = app
        .get("/openapi.json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let generated: Value = serde_json::from_str(&salus_http::openapi_json()).unwrap();
    assert_eq!(served, generated);
    assert!(served["openapi"].as_str().unwrap().starts_with("3.1"));
}

#[test]
fn every_operation_has_a_summary_errors_and_a_security_requirement() {
    let doc: Value = serde_json::from_str(&salus_http::openapi_json()).unwrap();
    let paths = doc["paths"].as_object().unwrap();
    assert!(!paths.is_empty());
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            let name = format!("{} {path}", method.to_uppercase());
            assert!(
                op["summary"].as_str().is_some_and(|s| !s.is_empty()),
                "{name} has no summary"
            );
            let responses = op["responses"].as_object().unwrap();
            assert!(
                responses
                    .keys()
                    .any(|code| code.starts_with('4') || code.starts_with('5')),
                "{name} documents no error response"
            );
            for (code, response) in responses {
                if code.starts_with('4') || code.starts_with('5') {
                    assert!(
                        response["content"]["application/problem+json"].is_object(),
                        "{name} {code} is not documented as problem+json"
                    );
                }
            }
            assert!(
                op["security"].is_array(),
                "{name} declares no security requirement"
            );
        }
    }
}

#[tokio::test]
async fn the_reference_page_embeds_the_contract() {
    let app = TestApp::spawn().await;
    let response = app.get("/docs").send().await.unwrap();
    assert_eq!(response.status(), 200);
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("frame-ancestors 'none'"));
    let html = response.text().await.unwrap();
    assert!(html.contains("Salus API"));
    assert!(html.contains("/health/ready"));
}
