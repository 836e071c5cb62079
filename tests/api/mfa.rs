//! TOTP and recovery codes: single use, attempt caps, step-up, enforcement.

use chrono::Duration;
use salus_tests::TestApp;
use salus_tests::identity::PASSWORD;
use serde_json::{Value, json};

async fn mfa_challenge(app: &TestApp, email: &str) -> String {
    let body: Value = app.login(email, PASSWORD).await.json().await.unwrap();
    assert_eq!(body["status"], "mfa_required", "{body}");
    body["mfa_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_totp_code_works_once() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Harbour Clinic").await;
    let uri = owner.otpauth.clone().unwrap();
    app.clock.advance(Duration::seconds(30));
    let code = app.totp_code(&uri, 0);

    let challenge = mfa_challenge(&app, &owner.email).await;
    let ok = app
        .post_json(
            "/api/v1/auth/mfa",
            json!({"mfa_token": challenge, "code": code}),
        )
        .await;
    assert_eq!(ok.status(), 200);

    let challenge = mfa_challenge(&app, &owner.email).await;
    let replay = app
        .post_json(
            "/api/v1/auth/mfa",
            json!({"mfa_token": challenge, "code": code}),
        )
        .await;
    assert_eq!(
        replay.status(),
        401,
        "the same code is refused the second time"
    );
    let body: Value = replay.json().await.unwrap();
    assert_eq!(body["code"], "invalid_credentials");
}

#[tokio::test]
async fn recovery_codes_work_once_and_regeneration_replaces_them() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Harbour Clinic").await;
    assert_eq!(owner.recovery_codes.len(), 10);
    let recovery = owner.recovery_codes[0].clone();

    let challenge = mfa_challenge(&app, &owner.email).await;
    let ok = app
        .post_json(
            "/api/v1/auth/mfa",
            json!({"mfa_token": challenge, "recovery_code": recovery}),
        )
        .await;
    assert_eq!(ok.status(), 200);
    let session: Value = ok.json().await.unwrap();
    let access = session["access_token"].as_str().unwrap();

    let challenge = mfa_challenge(&app, &owner.email).await;
    let again = app
        .post_json(
            "/api/v1/auth/mfa",
            json!({"mfa_token": challenge, "recovery_code": recovery}),
        )
        .await;
    assert_eq!(again.status(), 401);

    // The MFA sign-in counts as a recent check: regeneration is allowed now...
    let regenerated: Value = app
        .post("/api/v1/me/mfa/recovery-codes")
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let fresh = regenerated["recovery_codes"].as_array().unwrap();
    assert_eq!(fresh.len(), 10);
    let challenge = mfa_challenge(&app, &owner.email).await;
    let old = app
        .post_json(
            "/api/v1/auth/mfa",
            json!({"mfa_token": challenge, "recovery_code": owner.recovery_codes[1]}),
        )
        .await;
    assert_eq!(old.status(), 401, "old codes stop working");

    // ... and refused after ten minutes without a fresh check.
    app.clock.advance(Duration::minutes(11));
    let refreshed: Value = app
        .post_json(
            "/api/v1/auth/refresh",
            json!({"refresh_token": session["refresh_token"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let stale = app
        .post("/api/v1/me/mfa/recovery-codes")
        .bearer_auth(refreshed["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 403);
    let body: Value = stale.json().await.unwrap();
    assert_eq!(body["code"], "step_up_required");
}

#[tokio::test]
async fn a_challenge_allows_few_attempts_and_expires() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Harbour Clinic").await;
    let uri = owner.otpauth.clone().unwrap();

    let challenge = mfa_challenge(&app, &owner.email).await;
    for _ in 0..5 {
        let wrong = app
            .post_json(
                "/api/v1/auth/mfa",
                json!({"mfa_token": challenge, "code": "000000"}),
            )
            .await;
        assert_eq!(wrong.status(), 401);
    }
    app.clock.advance(Duration::seconds(30));
    let right = app
        .post_json(
            "/api/v1/auth/mfa",
            json!({"mfa_token": challenge, "code": app.totp_code(&uri, 0)}),
        )
        .await;
    assert_eq!(right.status(), 401, "attempts are capped per challenge");

    let challenge = mfa_challenge(&app, &owner.email).await;
    app.clock.advance(Duration::minutes(6));
    let late = app
        .post_json(
            "/api/v1/auth/mfa",
            json!({"mfa_token": challenge, "code": app.totp_code(&uri, 0)}),
        )
        .await;
    assert_eq!(late.status(), 401, "challenges expire");
}

#[tokio::test]
async fn step_up_gates_email_change() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Harbour Clinic").await;
    let uri = owner.otpauth.clone().unwrap();
    let new_email = salus_tests::identity::unique_email("moved");
    app.clock.advance(Duration::minutes(11));
    let refreshed: Value = app
        .post_json(
            "/api/v1/auth/refresh",
            json!({"refresh_token": owner.refresh}),
        )
        .await
        .json()
        .await
        .unwrap();
    let access = refreshed["access_token"].as_str().unwrap().to_owned();
    let change = |password: &'static str| {
        app.client
            .post(format!("{}/api/v1/me/email", app.url))
            .bearer_auth(&access)
            .json(&json!({"password": password, "new_email": new_email}))
            .send()
    };
    let refused = change(PASSWORD).await.unwrap();
    assert_eq!(refused.status(), 403);

    let step_up = app
        .post("/api/v1/auth/step-up")
        .bearer_auth(&access)
        .json(&json!({"code": app.totp_code(&uri, 0)}))
        .send()
        .await
        .unwrap();
    assert_eq!(step_up.status(), 204);
    assert_eq!(
        change("wrong password entirely").await.unwrap().status(),
        422
    );
    assert_eq!(change(PASSWORD).await.unwrap().status(), 202);
    assert!(
        app.outbox(&owner.email)
            .iter()
            .any(|(s, _)| s.contains("being changed")),
        "the old address is told"
    );
    let token = app.token_sent(&new_email, "Confirm your new email");
    let confirm = app
        .post_json("/api/v1/auth/email-change/confirm", json!({"token": token}))
        .await;
    assert_eq!(confirm.status(), 204);
    let me: Value = app
        .get_as(&access, "/api/v1/me")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["email"], new_email.as_str());
}

#[tokio::test]
async fn mfa_cannot_be_removed_while_the_membership_requires_it() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Harbour Clinic").await;
    app.clock.advance(Duration::seconds(30));
    let code = app.totp_code(owner.otpauth.as_ref().unwrap(), 0);
    let response = app
        .post("/api/v1/me/mfa/totp/disable")
        .bearer_auth(&owner.access)
        .json(&json!({"password": PASSWORD, "code": code}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "mfa_required_by_membership");
}

/// Starting a new enrolment leaves the confirmed authenticator in force until the
/// new one is confirmed: the account keeps asking for its second factor (a
/// password alone never signs in), the old codes keep working, and only a code of
/// the new authenticator confirms it, after which the old one stops working.
#[tokio::test]
async fn an_unfinished_re_enrolment_keeps_the_confirmed_authenticator() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Re-enrolment Clinic").await;
    let old = owner.otpauth.clone().unwrap();
    let start: Value = app
        .post("/api/v1/me/mfa/totp")
        .bearer_auth(&owner.access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let new = start["otpauth_uri"].as_str().unwrap().to_owned();
    assert_ne!(new, old);

    let me = app.get_as(&owner.access, "/api/v1/me").await;
    assert_eq!(me.status(), 200, "the session lost its MFA standing");
    app.clock.advance(Duration::seconds(30));
    let challenge = mfa_challenge(&app, &owner.email).await;
    let with_new = app
        .post_json(
            "/api/v1/auth/mfa",
            json!({"mfa_token": challenge, "code": app.totp_code(&new, 0)}),
        )
        .await;
    assert_eq!(
        with_new.status(),
        401,
        "an unconfirmed authenticator signed in"
    );
    let challenge = mfa_challenge(&app, &owner.email).await;
    let with_old = app
        .post_json(
            "/api/v1/auth/mfa",
            json!({"mfa_token": challenge, "code": app.totp_code(&old, 0)}),
        )
        .await;
    assert_eq!(
        with_old.status(),
        200,
        "the confirmed authenticator stopped working"
    );

    let wrong = app
        .post("/api/v1/me/mfa/totp/confirm")
        .bearer_auth(&owner.access)
        .json(&json!({"code": app.totp_code(&old, 0)}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        wrong.status(),
        422,
        "the old authenticator confirmed the new one"
    );
    let confirm = app
        .post("/api/v1/me/mfa/totp/confirm")
        .bearer_auth(&owner.access)
        .json(&json!({"code": app.totp_code(&new, 0)}))
        .send()
        .await
        .unwrap();
    assert_eq!(confirm.status(), 200);
    app.clock.advance(Duration::seconds(60));
    let challenge = mfa_challenge(&app, &owner.email).await;
    let old_now = app
        .post_json(
            "/api/v1/auth/mfa",
            json!({"mfa_token": challenge, "code": app.totp_code(&old, 0)}),
        )
        .await;
    assert_eq!(
        old_now.status(),
        401,
        "the replaced authenticator still signs in"
    );
    let challenge = mfa_challenge(&app, &owner.email).await;
    let new_now = app
        .post_json(
            "/api/v1/auth/mfa",
            json!({"mfa_token": challenge, "code": app.totp_code(&new, 0)}),
        )
        .await;
    assert_eq!(new_now.status(), 200);
}
