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
    app.confirm_sign_up(&owner.email).await;

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

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// A count read as the superuser.
fn count(app: &TestApp, sql: &str) -> i64 {
    use diesel::RunQueryDsl;
    diesel::sql_query(sql)
        .get_result::<Count>(&mut app.db.superuser())
        .unwrap()
        .n
}

async fn resend(app: &TestApp, email: &str) -> (u16, String) {
    let response = app
        .post_json(
            "/api/v1/auth/verify-email/resend",
            json!({ "email": email }),
        )
        .await;
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn an_unverified_address_runs_no_clinic_until_it_is_confirmed() {
    let app = TestApp::spawn().await;
    let email = unique_email("unverified");
    assert_eq!(
        app.sign_up("Harbour Clinic", &email, PASSWORD)
            .await
            .status(),
        202
    );
    let first = app.token_sent(&email, "Verify your email");

    // The right password hears that the address comes first, and gets no tokens.
    let login: Value = app.login(&email, PASSWORD).await.json().await.unwrap();
    assert_eq!(login["status"], "email_verification_required", "{login}");
    assert!(login.get("access_token").is_none(), "{login}");
    assert!(login.get("refresh_token").is_none(), "{login}");
    // Nothing exists yet that anyone could act in.
    assert_eq!(count(&app, "SELECT count(*) AS n FROM clinics"), 0);
    assert_eq!(count(&app, "SELECT count(*) AS n FROM accounts"), 0);
    // A wrong password is refused as for an unknown address.
    let (status, wrong) = problem(app.login(&email, OTHER_PASSWORD).await).await;
    assert_eq!(status, 401);
    assert_eq!(wrong["code"], "invalid_credentials");

    // A new code, with the answer every address gets; the earlier code stops working.
    app.clock.advance(chrono::Duration::seconds(1));
    let (status, asked) = resend(&app, &email).await;
    assert_eq!(status, 202);
    assert_eq!(resend(&app, &unique_email("nobody")).await, (202, asked));
    let fresh = app.token_sent(&email, "Verify your email");
    assert_ne!(fresh, first);
    let stale = app
        .post_json("/api/v1/auth/verify-email", json!({"token": first}))
        .await;
    assert_eq!(stale.status(), 422);
    let confirmed = app
        .post_json("/api/v1/auth/verify-email", json!({"token": fresh}))
        .await;
    assert_eq!(confirmed.status(), 204);

    let owner = app.sign_in_owner(&email).await;
    let me = app.me(&owner).await;
    assert_eq!(me["code"], "mfa_enrollment_required", "{me}");
    assert_eq!(count(&app, "SELECT count(*) AS n FROM sign_ups"), 0);
    assert_eq!(
        count(
            &app,
            "SELECT count(*) AS n FROM accounts WHERE email_verified_at IS NOT NULL"
        ),
        1
    );
    // A verified address has nothing left to verify: the same answer, and word of it.
    let (status, _) = resend(&app, &email).await;
    assert_eq!(status, 202);
    assert!(
        app.outbox(&email)
            .iter()
            .any(|(s, _)| s == "Nothing to verify on Salus")
    );
}

#[tokio::test]
async fn an_account_left_unverified_must_verify_before_it_signs_in() {
    let app = TestApp::spawn().await;
    let owner = app.new_owner("Harbour Clinic").await;
    // As an account made before sign-up waited for the address.
    {
        use diesel::RunQueryDsl;
        diesel::sql_query("UPDATE accounts SET email_verified_at = NULL")
            .execute(&mut app.db.superuser())
            .unwrap();
    }
    let login: Value = app
        .login(&owner.email, PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(login["status"], "email_verification_required", "{login}");
    assert!(login.get("access_token").is_none(), "{login}");

    app.clock.advance(chrono::Duration::seconds(1));
    let (status, _) = resend(&app, &owner.email).await;
    assert_eq!(status, 202);
    let token = app.token_sent(&owner.email, "Verify your email");
    let verified = app
        .post_json("/api/v1/auth/verify-email", json!({"token": token}))
        .await;
    assert_eq!(verified.status(), 204);
    app.sign_in_owner(&owner.email).await;
}

#[tokio::test]
async fn a_lapsed_sign_up_frees_the_address_and_the_trail_keeps_it() {
    let app = TestApp::spawn().await;
    let email = unique_email("lapsing");
    assert_eq!(
        app.sign_up("Harbour Clinic", &email, PASSWORD)
            .await
            .status(),
        202
    );
    // Six days on, a new code is valid only until the sign-up lapses (day seven).
    app.clock.advance(chrono::Duration::days(6));
    assert_eq!(resend(&app, &email).await.0, 202);
    let late = app.token_sent(&email, "Verify your email");
    app.clock
        .advance(chrono::Duration::days(1) + chrono::Duration::minutes(1));
    let refused = app
        .post_json("/api/v1/auth/verify-email", json!({"token": late}))
        .await;
    assert_eq!(refused.status(), 422, "the sign-up lapsed");
    let login = app.login(&email, PASSWORD).await;
    assert_eq!(login.status(), 401, "a lapsed sign-up is like no sign-up");
    assert_eq!(resend(&app, &email).await.0, 202);
    assert!(
        app.outbox(&email)
            .iter()
            .any(|(s, _)| s == "Nothing to verify on Salus")
    );

    // The address is free: a new sign-up succeeds as new, and removes the lapsed one.
    assert_eq!(
        app.sign_up("Harbour Clinic", &email, OTHER_PASSWORD)
            .await
            .status(),
        202
    );
    assert_eq!(count(&app, "SELECT count(*) AS n FROM sign_ups"), 1);
    app.confirm_sign_up(&email).await;
    assert_eq!(app.login(&email, PASSWORD).await.status(), 401);
    let login: Value = app
        .login(&email, OTHER_PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(login["status"], "authenticated", "{login}");
    // The audit trail is append-only: both sign-ups are still in it.
    assert_eq!(
        count(
            &app,
            "SELECT count(*) AS n FROM audit.events WHERE action = 'auth.sign_up_requested'"
        ),
        2
    );
}
