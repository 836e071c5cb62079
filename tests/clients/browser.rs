//! Headless Chromium against a real server: the reference page renders every
//! operation, an allowed origin reads and sends the headers a client needs, another
//! origin gets nothing. No request may leave the machine's own origins.

use std::process::Command;
use std::time::Duration;

use salus_tests::TestApp;
use serde_json::{Value, json};

use crate::pages::PageServer;
use crate::tools::{Scratch, chromium, contract_dir, contract_operations, node, run, spawn};

async fn browser(check: &str, app: &TestApp, env: &[(&str, String)]) {
    let profile = Scratch::new("chromium-profile");
    let mut command = Command::new(node());
    command
        .current_dir(contract_dir())
        .arg("browser.mjs")
        .arg(check)
        .env("SALUS_URL", &app.url)
        .env("SALUS_CHROMIUM", chromium())
        .env("SALUS_PROFILE_DIR", &profile.path);
    for (key, value) in env {
        command.env(key, value);
    }
    run(command, Duration::from_secs(180))
        .await
        .assert_success(&format!("the browser check `{check}` failed"));
}

/// A signed-in owner and one of their patients: (access token, patient id).
async fn owner_and_patient(app: &TestApp) -> (String, String) {
    let owner = app.owner_with_mfa("Browser Clinic").await;
    let created = app
        .post("/api/v1/patients")
        .bearer_auth(&owner.access)
        .json(&json!({"family_name": "Franklin", "given_name": "Rosalind", "birth_date": "1920-07-25", "sex": "female"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let body: Value = created.json().await.unwrap();
    (owner.access, body["id"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn the_reference_page_renders_every_operation() {
    let app = spawn(&[]).await;
    browser(
        "docs",
        &app,
        &[(
            "SALUS_EXPECTED_OPERATIONS",
            contract_operations().to_string(),
        )],
    )
    .await;
}

#[tokio::test]
async fn an_allowed_origin_reads_etag_and_request_id_and_sends_a_request_id() {
    let page = PageServer::start();
    let app = spawn(&[("CORS_ALLOWED_ORIGINS", page.origin.clone())]).await;
    let (token, patient) = owner_and_patient(&app).await;
    browser(
        "cors-allowed",
        &app,
        &[
            ("SALUS_PAGE_ORIGIN", page.origin.clone()),
            ("SALUS_TOKEN", token),
            ("SALUS_PATIENT_ID", patient),
        ],
    )
    .await;
}

#[tokio::test]
async fn another_origin_gets_nothing() {
    let allowed = PageServer::start();
    let other = PageServer::start();
    let app = spawn(&[("CORS_ALLOWED_ORIGINS", allowed.origin.clone())]).await;
    let (token, patient) = owner_and_patient(&app).await;
    browser(
        "cors-denied",
        &app,
        &[
            ("SALUS_PAGE_ORIGIN", other.origin.clone()),
            ("SALUS_TOKEN", token),
            ("SALUS_PATIENT_ID", patient),
        ],
    )
    .await;
}
