//! Password change and reset, phone verification, notifications.

use chrono::Duration;
use salus_tests::TestApp;
use salus_tests::identity::{OTHER_PASSWORD, PASSWORD};
use serde_json::{Value, json};

#[tokio::test]
async fn changing_the_password_ends_the_other_sessions_and_notifies() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Harbour Clinic").await;
    let uri = owner.otpauth.clone().unwrap();
    app.clock.advance(Duration::seconds(30));
    let challenge: Value = app
        .login(&owner.email, PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    let other: Value = app
        .post_json(
            "/api/v1/auth/mfa",
            json!({"mfa_token": challenge["mfa_token"], "code": app.totp_code(&uri, 0)}),
        )
        .await
        .json()
        .await
        .unwrap();
    let other_access = other["access_token"].as_str().unwrap();

    let change = |current: &'static str, new: &'static str| {
        app.post("/api/v1/me/password")
            .bearer_auth(&owner.access)
            .json(&json!({"current_password": current, "new_password": new}))
            .send()
    };
    assert_eq!(
        change("not my password at all", OTHER_PASSWORD)
            .await
            .unwrap()
            .status(),
        422
    );
    assert_eq!(
        change(PASSWORD, "passwordpassword1234")
            .await
            .unwrap()
            .status(),
        422
    );
    assert_eq!(
        change(PASSWORD, OTHER_PASSWORD).await.unwrap().status(),
        204
    );

    assert_eq!(app.get_as(&owner.access, "/api/v1/me").await.status(), 200);
    assert_eq!(app.get_as(other_access, "/api/v1/me").await.status(), 401);
    assert!(
        app.outbox(&owner.email)
            .iter()
            .any(|(s, _)| s.contains("password was changed"))
    );
}

#[tokio::test]
async fn a_reset_ends_every_session_and_mfa_is_still_asked() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Harbour Clinic").await;
    app.post_json("/api/v1/auth/password-reset", json!({"email": owner.email}))
        .await;
    let token = app.token_sent(&owner.email, "Reset your Salus password");
    let done = app
        .post_json(
            "/api/v1/auth/password-reset/confirm",
            json!({"token": token, "new_password": OTHER_PASSWORD}),
        )
        .await;
    assert_eq!(done.status(), 204);
    assert_eq!(app.get_as(&owner.access, "/api/v1/me").await.status(), 401);
    let login: Value = app
        .login(&owner.email, OTHER_PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(login["status"], "mfa_required");
}

#[tokio::test]
async fn phone_codes_expire_cap_attempts_and_throttle_resends() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Harbour Clinic").await;
    let mut access = owner.access.clone();
    let mut refresh = owner.refresh.clone();
    macro_rules! put_phone {
        ($phone:expr) => {
            app.client
                .post(format!("{}/api/v1/me/phone", app.url))
                .bearer_auth(&access)
                .json(&json!({"phone": $phone}))
                .send()
                .await
                .unwrap()
                .status()
        };
    }
    macro_rules! verify {
        ($code:expr) => {
            app.post("/api/v1/me/phone/verify")
                .bearer_auth(&access)
                .json(&json!({"code": $code}))
                .send()
                .await
                .unwrap()
                .status()
        };
    }
    macro_rules! wait_minutes {
        ($m:expr) => {
            app.clock.advance(Duration::minutes($m));
            let tokens: Value = app
                .post_json("/api/v1/auth/refresh", json!({"refresh_token": refresh}))
                .await
                .json()
                .await
                .unwrap();
            access = tokens["access_token"].as_str().unwrap().to_owned();
            refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
        };
    }
    assert_eq!(put_phone!("0612345678"), 422, "not E.164");
    assert_eq!(put_phone!("+33612345678"), 202);
    assert_eq!(put_phone!("+33612345678"), 429, "resend throttled");
    let code = app.token_sent("+33612345678", "");
    assert_eq!(code.len(), 6, "{code}");
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        assert_eq!(verify!(wrong), 422);
    }
    assert_eq!(verify!(code), 422, "five attempts used");

    app.clock.advance(Duration::seconds(61));
    assert_eq!(put_phone!("+33612345678"), 202);
    let second = app.token_sent("+33612345678", "");
    assert_eq!(verify!(second), 422, "a resend keeps the attempt count");

    wait_minutes!(11);
    assert_eq!(put_phone!("+33699999999"), 202);
    let fresh = app.token_sent("+33699999999", "");
    wait_minutes!(11);
    assert_eq!(verify!(fresh), 422, "expired after ten minutes");

    assert_eq!(put_phone!("+33688888888"), 202);
    let good = app.token_sent("+33688888888", "");
    assert_eq!(verify!(good), 204);
    let me: Value = app
        .get_as(&access, "/api/v1/me")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["phone"], "+33688888888");
    assert!(!refresh.is_empty());
}

#[tokio::test]
async fn a_sign_in_from_a_new_device_is_notified() {
    let app = TestApp::spawn().await;
    let owner = app.new_owner("Harbour Clinic").await;
    let before = app
        .outbox(&owner.email)
        .iter()
        .filter(|(s, _)| s.contains("New sign-in"))
        .count();
    app.post("/api/v1/auth/login")
        .header("user-agent", "Unknown/9.9")
        .json(&json!({"email": owner.email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let after = app
        .outbox(&owner.email)
        .iter()
        .filter(|(s, _)| s.contains("New sign-in"))
        .count();
    assert_eq!(after, before + 1);
    app.post("/api/v1/auth/login")
        .header("user-agent", "Unknown/9.9")
        .json(&json!({"email": owner.email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let same = app
        .outbox(&owner.email)
        .iter()
        .filter(|(s, _)| s.contains("New sign-in"))
        .count();
    assert_eq!(same, after, "a known device is not notified again");
}

/// With `APP_URL`, each one-time-token email links to the front end's page for its
/// flow, the token in the link's fragment; a flow's own template wins; the token
/// the link carries is the one the API takes.
#[tokio::test]
async fn emails_link_to_the_front_end_with_the_token_in_the_fragment() {
    let app = TestApp::spawn_with(&[
        ("APP_URL", "https://app.clinic.test/"),
        (
            "LINK_ACCEPT_INVITATION",
            "https://join.clinic.test/welcome#code={token}",
        ),
    ])
    .await;
    let email = salus_tests::identity::unique_email("owner");
    assert_eq!(
        app.sign_up("Linked Clinic", &email, PASSWORD)
            .await
            .status(),
        202
    );
    let link_in = |recipient: &str, subject: &str, prefix: &str| -> String {
        let (_, body) = app
            .outbox(recipient)
            .into_iter()
            .rfind(|(s, _)| s == subject)
            .unwrap_or_else(|| panic!("no mail '{subject}'"));
        let link = body
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no link {prefix} in: {body}"))
            .to_owned();
        let token = app.token_sent(recipient, subject);
        assert!(link.ends_with(&token), "{link} does not carry {token}");
        assert!(!body.contains("/api/v1/"), "{body}");
        token
    };
    let verify = link_in(
        &email,
        "Verify your email for Salus",
        "https://app.clinic.test/verify-email#token=",
    );
    let verified = app
        .post_json("/api/v1/auth/verify-email", json!({"token": verify}))
        .await;
    assert_eq!(verified.status(), 204);
    let mut owner = app.sign_in_owner(&email).await;
    app.enrol_mfa(&mut owner).await;

    let reset = app
        .post_json("/api/v1/auth/password-reset", json!({"email": owner.email}))
        .await;
    assert_eq!(reset.status(), 202);
    link_in(
        &owner.email,
        "Reset your Salus password",
        "https://app.clinic.test/reset-password#token=",
    );

    let invitee = salus_tests::identity::unique_email("invitee");
    let invited = app
        .post("/api/v1/invitations")
        .bearer_auth(&owner.access)
        .json(&json!({"email": invitee, "role": "receptionist"}))
        .send()
        .await
        .unwrap();
    assert_eq!(invited.status(), 201, "{}", invited.text().await.unwrap());
    link_in(
        &invitee,
        "You are invited to join a clinic on Salus",
        "https://join.clinic.test/welcome#code=",
    );
}
