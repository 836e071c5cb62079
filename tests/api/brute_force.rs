//! Lock-out, delays and per-address rate limits.

use chrono::Duration;
use salus_tests::TestApp;
use salus_tests::identity::{OTHER_PASSWORD, PASSWORD};
use serde_json::{Value, json};

#[tokio::test]
async fn ten_failures_lock_the_account_and_a_reset_unlocks_it() {
    let app = TestApp::spawn().await;
    let owner = app.new_owner("Harbour Clinic").await;
    for attempt in 0..10 {
        let response = app.login(&owner.email, OTHER_PASSWORD).await;
        assert_eq!(response.status(), 401, "attempt {attempt}");
        // wait out the growing delay so every attempt is evaluated
        app.clock.advance(Duration::seconds(300));
    }
    let locked = app.login(&owner.email, PASSWORD).await;
    assert_eq!(
        locked.status(),
        401,
        "locked: even the right password is refused"
    );
    let body: Value = locked.json().await.unwrap();
    assert_eq!(
        body["code"], "invalid_credentials",
        "a lock looks like any failure"
    );

    let reset = app
        .post_json("/api/v1/auth/password-reset", json!({"email": owner.email}))
        .await;
    assert_eq!(reset.status(), 202);
    let token = app.token_sent(&owner.email, "Reset your Salus password");
    let confirm = app
        .post_json(
            "/api/v1/auth/password-reset/confirm",
            json!({"token": token, "new_password": OTHER_PASSWORD}),
        )
        .await;
    assert_eq!(confirm.status(), 204);
    assert_eq!(
        app.login(&owner.email, OTHER_PASSWORD).await.status(),
        200,
        "the reset unlocked it"
    );
    let reuse = app
        .post_json(
            "/api/v1/auth/password-reset/confirm",
            json!({"token": token, "new_password": PASSWORD}),
        )
        .await;
    assert_eq!(reuse.status(), 422, "a reset token works once");
}

#[tokio::test]
async fn after_five_failures_attempts_must_wait() {
    let app = TestApp::spawn().await;
    let owner = app.new_owner("Harbour Clinic").await;
    for _ in 0..5 {
        assert_eq!(app.login(&owner.email, OTHER_PASSWORD).await.status(), 401);
    }
    assert_eq!(
        app.login(&owner.email, PASSWORD).await.status(),
        401,
        "too soon after five failures"
    );
    app.clock.advance(Duration::seconds(2));
    assert_eq!(
        app.login(&owner.email, PASSWORD).await.status(),
        200,
        "after the delay"
    );
}

#[tokio::test]
async fn reset_tokens_expire_after_thirty_minutes() {
    let app = TestApp::spawn().await;
    let owner = app.new_owner("Harbour Clinic").await;
    app.post_json("/api/v1/auth/password-reset", json!({"email": owner.email}))
        .await;
    let token = app.token_sent(&owner.email, "Reset your Salus password");
    app.clock.advance(Duration::minutes(31));
    let late = app
        .post_json(
            "/api/v1/auth/password-reset/confirm",
            json!({"token": token, "new_password": OTHER_PASSWORD}),
        )
        .await;
    assert_eq!(late.status(), 422);
}

#[tokio::test]
async fn authentication_endpoints_are_rate_limited_per_address() {
    let app = TestApp::spawn_with(&[("AUTH_RATE_LIMIT_PER_MINUTE", "3")]).await;
    for _ in 0..3 {
        assert_eq!(
            app.login("someone@clinic.test", OTHER_PASSWORD)
                .await
                .status(),
            401
        );
    }
    let limited = app.login("someone@clinic.test", OTHER_PASSWORD).await;
    assert_eq!(limited.status(), 429);
    let retry: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
    let body: Value = limited.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited");
    app.clock.advance(Duration::seconds(61));
    assert_eq!(
        app.login("someone@clinic.test", OTHER_PASSWORD)
            .await
            .status(),
        401,
        "the window reopens"
    );
}
