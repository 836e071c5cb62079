//! Each one-time token's promised lifetime (docs/security.md, A4), at its
//! boundary: a token redeemed one second before its lifetime ends works, one
//! redeemed one second after is refused. The lifetimes are written here as
//! promised, not read from the code, so a changed constant turns a test red.

use chrono::Duration;
use salus_tests::TestApp;
use salus_tests::access::MEMBER_PASSWORD;
use salus_tests::identity::{OTHER_PASSWORD, PASSWORD, unique_email};
use serde_json::json;

/// Issues two tokens two seconds apart, moves the clock to one second past the
/// first one's lifetime (so one second before the second one's) and redeems
/// both: the first must be refused (422 `invalid_token`), the second accepted.
async fn holds_for_exactly(
    app: &TestApp,
    lifetime: Duration,
    issue: impl AsyncFn(usize) -> String,
    redeem: impl AsyncFn(String) -> reqwest::Response,
) {
    let early = issue(0).await;
    app.clock.advance(Duration::seconds(2));
    let late = issue(1).await;
    app.clock.advance(lifetime - Duration::seconds(1));
    let expired = redeem(early).await;
    let status = expired.status();
    let body: serde_json::Value = expired.json().await.unwrap_or_default();
    assert_eq!(status, 422, "one second past its lifetime: {body}");
    assert_eq!(body["errors"][0]["code"], "invalid_token", "{body}");
    let valid = redeem(late).await;
    let status = valid.status();
    let body = valid.text().await.unwrap_or_default();
    assert!(
        status.is_success(),
        "one second before the end of its lifetime: {status} {body}"
    );
}

#[tokio::test]
async fn an_email_verification_code_lives_48_hours() {
    let app = TestApp::spawn().await;
    let emails = [unique_email("early"), unique_email("late")];
    let issue = async |n: usize| {
        let signed_up = app.sign_up("Harbour Clinic", &emails[n], PASSWORD).await;
        assert_eq!(signed_up.status(), 202);
        app.token_sent(&emails[n], "Verify your email")
    };
    let redeem = async |token: String| {
        app.post_json("/api/v1/auth/verify-email", json!({ "token": token }))
            .await
    };
    holds_for_exactly(&app, Duration::hours(48), issue, redeem).await;
}

#[tokio::test]
async fn a_password_reset_token_lives_30_minutes() {
    let app = TestApp::spawn().await;
    let owner = app.new_owner("Harbour Clinic").await;
    let issue = async |_: usize| {
        let asked = app
            .post_json("/api/v1/auth/password-reset", json!({"email": owner.email}))
            .await;
        assert_eq!(asked.status(), 202);
        app.token_sent(&owner.email, "Reset your Salus password")
    };
    let redeem = async |token: String| {
        app.post_json(
            "/api/v1/auth/password-reset/confirm",
            json!({"token": token, "new_password": OTHER_PASSWORD}),
        )
        .await
    };
    holds_for_exactly(&app, Duration::minutes(30), issue, redeem).await;
}

#[tokio::test]
async fn an_invitation_lives_72_hours() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Harbour Clinic").await;
    let emails = [unique_email("early"), unique_email("late")];
    let issue = async |n: usize| {
        let invited = app
            .post_json_as(
                &owner.access,
                "/api/v1/invitations",
                &json!({"email": emails[n], "role": "nurse"}),
            )
            .await;
        assert_eq!(invited.status(), 201);
        app.token_sent(&emails[n], "invited to join")
    };
    let redeem = async |token: String| {
        app.post_json(
            "/api/v1/invitations/accept",
            json!({"token": token, "password": MEMBER_PASSWORD, "given_name": "N", "family_name": "R"}),
        )
        .await
    };
    holds_for_exactly(&app, Duration::hours(72), issue, redeem).await;
}

#[tokio::test]
async fn an_email_change_token_lives_24_hours() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Harbour Clinic").await;
    let otpauth = owner.otpauth.clone().unwrap();
    // A code of the next step: the enrolment spent this one.
    app.clock.advance(Duration::seconds(30));
    let step_up = app
        .post_json_as(
            &owner.access,
            "/api/v1/auth/step-up",
            &json!({"code": app.totp_code(&otpauth, 0)}),
        )
        .await;
    assert_eq!(step_up.status(), 204);
    let emails = [unique_email("early"), unique_email("late")];
    let issue = async |n: usize| {
        let asked = app
            .post_json_as(
                &owner.access,
                "/api/v1/me/email",
                &json!({"password": PASSWORD, "new_email": emails[n]}),
            )
            .await;
        assert_eq!(asked.status(), 202);
        app.token_sent(&emails[n], "Confirm your new email")
    };
    let redeem = async |token: String| {
        app.post_json("/api/v1/auth/email-change/confirm", json!({"token": token}))
            .await
    };
    holds_for_exactly(&app, Duration::hours(24), issue, redeem).await;
}
