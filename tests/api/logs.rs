//! A full scenario, then a scan of every captured log line for the secrets and
//! health data it used: none may appear (promises L6, E2).

use chrono::Duration;
use salus_tests::TestApp;
use salus_tests::identity::{OTHER_PASSWORD, PASSWORD};
use serde_json::{Value, json};

#[tokio::test]
async fn no_secret_or_health_data_reaches_the_logs() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Log Scan Clinic").await;
    let mut secrets: Vec<String> = vec![
        PASSWORD.into(),
        OTHER_PASSWORD.into(),
        owner.access.clone(),
        owner.refresh.clone(),
    ];
    secrets.extend(owner.recovery_codes.iter().cloned());
    let otp_secret = owner
        .otpauth
        .as_ref()
        .unwrap()
        .split("secret=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned();
    secrets.push(otp_secret);

    // A webhook endpoint's secret, and its deliveries (a failed one logs a
    // warning): subscribed before the health data below is written.
    let clinic = app.me(&owner).await["clinic"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.set_plan(&clinic, "business");
    let receiver = salus_tests::webhooks::Receiver::start();
    receiver.then([salus_tests::webhooks::Answer::Status(500)]);
    let endpoint: Value = app
        .post_json_as(
            &owner.access,
            "/api/v1/webhook-endpoints",
            &json!({"url": receiver.url(), "event_types": ["patient.created", "patient.updated"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    secrets.push(endpoint["secret"].as_str().unwrap().to_owned());

    // Health data through patients and notes.
    let national_id = "2 99 07 75 888 777 66";
    let history_text = "LOGSCAN-HISTORY-ALPACA";
    let note_text = "LOGSCAN-NOTE-NARWHAL";
    let pid = app
        .patient(&owner, json!({"family_name": "Scan", "given_name": "Lou", "birth_date": "1970-01-01", "sex": "other",
                               "national_id": national_id, "medical_history": {"allergies": [], "conditions": [history_text], "medications": []}}))
        .await
        .id;
    app.note(&owner, &pid, note_text).await;
    app.webhook_round().await;
    app.clock.advance(Duration::minutes(2));
    assert_eq!(app.webhook_round().await.delivered, 1);
    // The whole record, exported (right after enrolment: the step-up holds).
    for format in ["json", "fhir"] {
        let export = app
            .get_as(
                &owner.access,
                &format!("/api/v1/patients/{pid}/export?format={format}"),
            )
            .await;
        assert_eq!(export.status(), 200, "export as {format}");
    }
    app.get_as(
        &owner.access,
        &format!(
            "/api/v1/patients?national_id={}",
            national_id.replace(' ', "%20")
        ),
    )
    .await;
    secrets.extend([
        national_id.to_owned(),
        history_text.to_owned(),
        note_text.to_owned(),
    ]);

    // One-time codes and tokens.
    app.client
        .post(format!("{}/api/v1/me/phone", app.url))
        .bearer_auth(&owner.access)
        .json(&json!({"phone": "+33622334455"}))
        .send()
        .await
        .unwrap();
    let phone_code = app.token_sent("+33622334455", "");
    app.post("/api/v1/me/phone/verify")
        .bearer_auth(&owner.access)
        .json(&json!({"code": phone_code}))
        .send()
        .await
        .unwrap();
    app.post_json("/api/v1/auth/password-reset", json!({"email": owner.email}))
        .await;
    let reset = app.token_sent(&owner.email, "Reset your Salus password");
    app.post_json(
        "/api/v1/auth/password-reset/confirm",
        json!({"token": reset, "new_password": OTHER_PASSWORD}),
    )
    .await;
    app.clock.advance(Duration::seconds(30));
    let challenge: Value = app
        .login(&owner.email, OTHER_PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    let mfa_token = challenge["mfa_token"].as_str().unwrap().to_owned();
    let code = app.totp_code(owner.otpauth.as_ref().unwrap(), 0);
    let session: Value = app
        .post_json(
            "/api/v1/auth/mfa",
            json!({"mfa_token": mfa_token, "code": code}),
        )
        .await
        .json()
        .await
        .unwrap();
    let refreshed: Value = app
        .post_json(
            "/api/v1/auth/refresh",
            json!({"refresh_token": session["refresh_token"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    // Failures log too: a wrong password and a tampered token.
    app.login(&owner.email, "wrong password entirely here")
        .await;
    app.get_as(
        &format!("{}x", refreshed["access_token"].as_str().unwrap()),
        "/api/v1/me",
    )
    .await;
    secrets.extend([
        phone_code,
        reset,
        mfa_token,
        code,
        session["access_token"].as_str().unwrap().to_owned(),
        session["refresh_token"].as_str().unwrap().to_owned(),
        refreshed["access_token"].as_str().unwrap().to_owned(),
        refreshed["refresh_token"].as_str().unwrap().to_owned(),
        "wrong password entirely here".to_owned(),
    ]);

    let logs = salus_tests::logs::captured();
    assert!(
        logs.contains("request_id"),
        "the capture works: request spans are logged"
    );
    assert!(
        logs.contains("/api/v1/patients/{id}/notes")
            && logs.contains("/api/v1/patients/{id}/export")
            && logs.contains("webhook delivery failed"),
        "the scenario's routes were logged"
    );
    for secret in &secrets {
        assert!(
            !logs.contains(secret.as_str()),
            "a secret or health datum reached the logs: {secret}"
        );
    }
}
