//! The configured security limits at their boundaries (docs/security.md, A3, A5,
//! A8): the minimum password length, the absolute and idle session lifetimes, the
//! MFA challenge's 5 minutes, the phone code's 10 and the lock-out, each at exactly the limit and one
//! past it. The limits are
//! written here as promised, with the defaults the test server runs with.

use chrono::Duration;
use salus_tests::TestApp;
use salus_tests::identity::{Member, OTHER_PASSWORD, PASSWORD, unique_email};
use serde_json::{Value, json};

/// A refresh of `member`'s session; on success the member holds the new tokens.
async fn refresh(app: &TestApp, member: &mut Member) -> u16 {
    let answer = app
        .post_json(
            "/api/v1/auth/refresh",
            json!({"refresh_token": member.refresh}),
        )
        .await;
    let status = answer.status().as_u16();
    if status == 200 {
        let body: Value = answer.json().await.unwrap();
        member.access = body["access_token"].as_str().unwrap().to_owned();
        member.refresh = body["refresh_token"].as_str().unwrap().to_owned();
    }
    status
}

#[tokio::test]
async fn a_password_needs_16_characters_and_16_are_enough() {
    let app = TestApp::spawn().await;
    let sixteen = "Kq8#zV2!mW9$tR4&";
    assert_eq!(sixteen.chars().count(), 16);
    let fifteen = &sixteen[..15];
    let email = unique_email("boundary");
    let refused = app.sign_up("Harbour Clinic", &email, fifteen).await;
    assert_eq!(refused.status(), 422);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["errors"][0]["field"], "password", "{body}");
    assert_eq!(body["errors"][0]["code"], "too_short", "{body}");
    let accepted = app.sign_up("Harbour Clinic", &email, sixteen).await;
    assert_eq!(accepted.status(), 202, "{}", accepted.text().await.unwrap());
}

#[tokio::test]
async fn a_session_ends_12_hours_after_sign_in_however_active() {
    let app = TestApp::spawn().await;
    let mut owner = app.new_owner("Harbour Clinic").await;
    // Refreshing every 25 minutes keeps the session from idling out.
    let mut elapsed = Duration::zero();
    let just_before = Duration::hours(12) - Duration::seconds(1);
    while elapsed < just_before {
        let step = Duration::minutes(25).min(just_before - elapsed);
        app.clock.advance(step);
        elapsed += step;
        assert_eq!(refresh(&app, &mut owner).await, 200, "after {elapsed}");
    }
    app.clock.advance(Duration::seconds(2));
    assert_eq!(
        refresh(&app, &mut owner).await,
        401,
        "one second past 12 hours"
    );
}

#[tokio::test]
async fn a_session_idle_for_30_minutes_ends() {
    let app = TestApp::spawn().await;
    let mut owner = app.new_owner("Harbour Clinic").await;
    app.clock
        .advance(Duration::minutes(30) - Duration::seconds(1));
    assert_eq!(refresh(&app, &mut owner).await, 200, "idle for 29:59");
    app.clock
        .advance(Duration::minutes(30) + Duration::seconds(1));
    assert_eq!(refresh(&app, &mut owner).await, 401, "idle for 30:01");
}

/// `failures` wrong passwords for `email`, each after the delay the last one asks.
async fn fail(app: &TestApp, email: &str, failures: usize) {
    for attempt in 1..=failures {
        app.clock.advance(Duration::seconds(60));
        let status = app.login(email, OTHER_PASSWORD).await.status();
        assert_eq!(status, 401, "wrong password {attempt}");
    }
}

#[tokio::test]
async fn ten_failures_lock_an_account_for_15_minutes_and_nine_do_not() {
    let app = TestApp::spawn().await;
    let nine = app.new_owner("Harbour Clinic").await;
    fail(&app, &nine.email, 9).await;
    app.clock.advance(Duration::seconds(60));
    assert_eq!(app.login(&nine.email, PASSWORD).await.status(), 200, "9");

    let ten = app.new_owner("Harbour Clinic").await;
    fail(&app, &ten.email, 10).await;
    app.clock
        .advance(Duration::minutes(15) - Duration::seconds(1));
    assert_eq!(
        app.login(&ten.email, PASSWORD).await.status(),
        401,
        "locked one second before 15 minutes"
    );
    app.clock.advance(Duration::seconds(2));
    assert_eq!(
        app.login(&ten.email, PASSWORD).await.status(),
        200,
        "open one second after"
    );
}

/// Signs in to an MFA challenge; its token.
async fn mfa_challenge(app: &TestApp, email: &str) -> String {
    let body: Value = app.login(email, PASSWORD).await.json().await.unwrap();
    assert_eq!(body["status"], "mfa_required", "{body}");
    body["mfa_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_mfa_challenge_lasts_5_minutes_and_not_a_second_more() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Harbour Clinic").await;
    let uri = owner.otpauth.clone().unwrap();
    let answer = |challenge: String| {
        let code = app.totp_code(&uri, 0);
        app.post_json(
            "/api/v1/auth/mfa",
            json!({"mfa_token": challenge, "code": code}),
        )
    };
    let early = mfa_challenge(&app, &owner.email).await;
    app.clock
        .advance(Duration::minutes(5) - Duration::seconds(1));
    assert_eq!(answer(early).await.status(), 200, "at 4:59");
    // A new challenge, answered one second past its 5 minutes with the code of
    // a later time step (so not refused as a replay).
    let late = mfa_challenge(&app, &owner.email).await;
    app.clock
        .advance(Duration::minutes(5) + Duration::seconds(1));
    assert_eq!(answer(late).await.status(), 401, "at 5:01");
}

#[tokio::test]
async fn a_phone_code_lasts_10_minutes_and_not_a_second_more() {
    let app = TestApp::spawn().await;
    let mut owner = app.owner_with_mfa("Harbour Clinic").await;
    let set = |access: String, phone: &'static str| {
        app.client
            .post(format!("{}/api/v1/me/phone", app.url))
            .bearer_auth(access)
            .json(&json!({ "phone": phone }))
            .send()
    };
    let verify = |access: String, code: String| {
        app.client
            .post(format!("{}/api/v1/me/phone/verify", app.url))
            .bearer_auth(access)
            .json(&json!({ "code": code }))
            .send()
    };
    assert_eq!(
        set(owner.access.clone(), "+33611111111")
            .await
            .unwrap()
            .status(),
        202
    );
    let early = app.token_sent("+33611111111", "");
    app.clock
        .advance(Duration::minutes(10) - Duration::seconds(1));
    assert_eq!(
        verify(owner.access.clone(), early).await.unwrap().status(),
        204,
        "at 9:59"
    );
    assert_eq!(
        set(owner.access.clone(), "+33622222222")
            .await
            .unwrap()
            .status(),
        202
    );
    let late = app.token_sent("+33622222222", "");
    app.clock
        .advance(Duration::minutes(10) + Duration::seconds(1));
    assert_eq!(refresh(&app, &mut owner).await, 200);
    assert_eq!(
        verify(owner.access.clone(), late).await.unwrap().status(),
        422,
        "at 10:01"
    );
}
