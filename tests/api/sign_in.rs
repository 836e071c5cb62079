//! Sign-up, email verification, sign-in, clinic choice and the password policy.

use salus_tests::TestApp;
use salus_tests::identity::{OTHER_PASSWORD, PASSWORD, unique_email};
use serde_json::{Value, json};

async fn problem(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn sign_up_verify_and_sign_in() {
    let app = TestApp::spawn().await;
    let email = unique_email("ada");
    let response = app
        .sign_up("Harbour Clinic", &email.to_uppercase(), PASSWORD)
        .await;
    assert_eq!(response.status(), 202);

    let token = app.token_sent(&email, "Verify your email");
    let verify = app
        .post_json("/api/v1/auth/verify-email", json!({"token": token}))
        .await;
    assert_eq!(verify.status(), 204);
    let again = app
        .post_json("/api/v1/auth/verify-email", json!({"token": token}))
        .await;
    assert_eq!(again.status(), 422, "a verification token works once");

    let login: Value = app.login(&email, PASSWORD).await.json().await.unwrap();
    assert_eq!(login["status"], "authenticated", "{login}");
    assert_eq!(login["token_type"], "Bearer");
    assert!(login["expires_in"].as_i64().unwrap() <= 900);
    let access = login["access_token"].as_str().unwrap();

    // An owner must enrol MFA before anything else.
    let me = app.get_as(access, "/api/v1/me").await;
    assert_eq!(me.status(), 403);
    let (_, body) = problem(me).await;
    assert_eq!(body["code"], "mfa_enrollment_required");
    let enrol = app
        .post("/api/v1/me/mfa/totp")
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(enrol.status(), 200);
    let enrol: Value = enrol.json().await.unwrap();
    assert!(
        enrol["otpauth_uri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/")
    );
    assert!(enrol["qr_svg"].as_str().unwrap().contains("<svg"));
}

#[tokio::test]
async fn an_enrolled_owner_sees_their_profile() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Harbour Clinic").await;
    let me: Value = app
        .get_as(&owner.access, "/api/v1/me")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["email"], owner.email.as_str());
    assert_eq!(me["role"], "owner");
    assert_eq!(me["clinic"]["name"], "Harbour Clinic");
    assert_eq!(me["clinic"]["plan"], "free");
    assert_eq!(me["mfa_enrolled"], true);
    assert_eq!(me["mfa_required"], true);
}

#[tokio::test]
async fn the_password_policy_explains_its_refusals() {
    let app = TestApp::spawn().await;
    let email = unique_email("weak");
    for (password, code) in [
        ("passwordpassword1234", "too_weak"),
        ("short-one", "too_short"),
        ("harbour blossom quartz lantern", "personal_information"),
    ] {
        let (status, body) = problem(app.sign_up("Harbour Clinic", &email, password).await).await;
        assert_eq!(status, 422, "{password}");
        assert_eq!(body["errors"][0]["field"], "password");
        assert_eq!(body["errors"][0]["code"], code, "{password}: {body}");
    }
    assert!(app.outbox(&email).is_empty(), "nothing was created");
    assert_eq!(
        app.sign_up("Harbour Clinic", &email, "violet quarry mango zephyr")
            .await
            .status(),
        202
    );
}

#[tokio::test]
async fn known_and_unknown_emails_answer_identically() {
    let app = TestApp::spawn().await;
    let owner = app.new_owner("Harbour Clinic").await;
    let unknown = unique_email("nobody");

    let strip = |mut v: Value| {
        v.as_object_mut().unwrap().remove("request_id");
        v
    };
    let wrong = app.login(&owner.email, OTHER_PASSWORD).await;
    let missing = app.login(&unknown, OTHER_PASSWORD).await;
    assert_eq!(wrong.status(), 401);
    assert_eq!(missing.status(), 401);
    assert_eq!(
        strip(wrong.json().await.unwrap()),
        strip(missing.json().await.unwrap())
    );

    let known_signup = app
        .sign_up("Second Clinic", &owner.email, OTHER_PASSWORD)
        .await;
    let new_signup = app.sign_up("Second Clinic", &unknown, OTHER_PASSWORD).await;
    assert_eq!(known_signup.status(), new_signup.status());
    assert_eq!(
        known_signup.text().await.unwrap(),
        new_signup.text().await.unwrap()
    );
    assert!(
        app.outbox(&owner.email)
            .iter()
            .any(|(s, _)| s.contains("tried to sign up"))
    );

    let known_reset = app
        .post_json("/api/v1/auth/password-reset", json!({"email": owner.email}))
        .await;
    let unknown_reset = app
        .post_json(
            "/api/v1/auth/password-reset",
            json!({"email": unique_email("ghost")}),
        )
        .await;
    assert_eq!(known_reset.status(), 202);
    assert_eq!(known_reset.status(), unknown_reset.status());
    assert_eq!(
        known_reset.text().await.unwrap(),
        unknown_reset.text().await.unwrap()
    );
}

#[tokio::test]
async fn one_account_two_clinics_chooses_where_to_act() {
    let app = TestApp::spawn().await;
    let owner = app.new_owner("First Clinic").await;
    assert_eq!(
        app.sign_up("Second Clinic", &owner.email, PASSWORD)
            .await
            .status(),
        202
    );

    let body: Value = app
        .login(&owner.email, PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["status"], "choose_clinic", "{body}");
    let clinics = body["clinics"].as_array().unwrap();
    assert_eq!(clinics.len(), 2);
    let second = clinics
        .iter()
        .find(|c| c["clinic_name"] == "Second Clinic")
        .unwrap();

    let chosen: Value = app
        .post_json(
            "/api/v1/auth/login",
            json!({"email": owner.email, "password": PASSWORD, "clinic_id": second["clinic_id"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(chosen["status"], "authenticated");
    assert_eq!(chosen["clinic_id"], second["clinic_id"]);
}

#[tokio::test]
async fn mass_assignment_and_malformed_bodies_are_refused() {
    let app = TestApp::spawn().await;
    let (status, body) = problem(
        app.post_json(
            "/api/v1/clinics",
            json!({"clinic_name": "X", "email": unique_email("m"), "password": PASSWORD,
                   "given_name": "A", "family_name": "B", "plan": "business"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("plan"),
        "{body}"
    );

    let response = app
        .post("/api/v1/auth/login")
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .unwrap();
    let (status, body) = problem(response).await;
    assert_eq!(status, 400);
    assert_eq!(body["code"], "malformed_json");

    let response = app
        .post("/api/v1/auth/login")
        .header("content-type", "application/json")
        .body(format!("{{\"email\": \"{}\"}}", "a".repeat(70_000)))
        .send()
        .await
        .unwrap();
    let (status, body) = problem(response).await;
    assert_eq!(status, 413);
    assert_eq!(body["code"], "payload_too_large");

    let (status, body) = problem(
        app.post_json("/api/v1/auth/login", json!({"email": "", "password": ""}))
            .await,
    )
    .await;
    assert_eq!(status, 422);
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["email", "password"]);
}
