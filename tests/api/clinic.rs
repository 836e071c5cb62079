//! The clinic's settings: MFA for everyone, idle timeout.

use chrono::Duration;
use salus_tests::TestApp;
use serde_json::{Value, json};

#[tokio::test]
async fn requiring_mfa_confines_unenrolled_members_to_enrolment() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Harbour Clinic").await;
    let nurse = app.join_as(&owner, "nurse").await;
    assert_eq!(app.get_as(&nurse.access, "/api/v1/me").await.status(), 200);

    let patch = app
        .client
        .patch(format!("{}/api/v1/clinic", app.url))
        .header("if-match", "*")
        .bearer_auth(&owner.access)
        .json(&json!({"require_mfa": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(patch.status(), 200);
    let refused = app.get_as(&nurse.access, "/api/v1/me").await;
    assert_eq!(refused.status(), 403);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "mfa_enrollment_required");
    let enrol = app
        .post("/api/v1/me/mfa/totp")
        .bearer_auth(&nurse.access)
        .send()
        .await
        .unwrap();
    assert_eq!(enrol.status(), 200, "enrolment stays open");
    let nurse_settings = app.get_as(&nurse.access, "/api/v1/clinic").await;
    assert_eq!(nurse_settings.status(), 403);
}

#[tokio::test]
async fn the_idle_timeout_is_a_clinic_setting_between_5_and_60_minutes() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Harbour Clinic").await;
    let set = |minutes: i64| {
        app.client
            .patch(format!("{}/api/v1/clinic", app.url))
            .header("if-match", "*")
            .bearer_auth(&owner.access)
            .json(&json!({"idle_timeout_minutes": minutes}))
            .send()
    };
    assert_eq!(set(4).await.unwrap().status(), 422);
    assert_eq!(set(61).await.unwrap().status(), 422);
    assert_eq!(set(5).await.unwrap().status(), 200);
    let settings: Value = app
        .get_as(&owner.access, "/api/v1/clinic")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(settings["idle_timeout_minutes"], 5);

    // A session started now lasts five idle minutes.
    let code = app.totp_code(owner.otpauth.as_ref().unwrap(), 1);
    app.clock.advance(Duration::seconds(30));
    let challenge: Value = app
        .login(&owner.email, salus_tests::identity::PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    let session: Value = app
        .post_json(
            "/api/v1/auth/mfa",
            json!({"mfa_token": challenge["mfa_token"], "code": code}),
        )
        .await
        .json()
        .await
        .unwrap();
    let access = session["access_token"].as_str().unwrap();
    app.clock.advance(Duration::minutes(4));
    assert_eq!(app.get_as(access, "/api/v1/me").await.status(), 200);
    app.clock.advance(Duration::minutes(6));
    assert_eq!(app.get_as(access, "/api/v1/me").await.status(), 401);
}
