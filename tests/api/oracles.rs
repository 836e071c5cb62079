//! No timing oracle: the flows that take an address anyone may type (password
//! reset, sign-up, a new verification code) and the email change do the same work
//! whether or not the address has an account. Proven without a stopwatch: the
//! service runs over a store and a source of randomness that record every
//! transaction, SQL statement and random draw, and both paths record the same.

use salus_domain::identity::auth::SignUp;
use salus_domain::identity::model::ClientInfo;
use salus_domain::ids::{ClinicId, SessionId};
use salus_tests::TestApp;
use salus_tests::identity::{OTHER_PASSWORD, PASSWORD, unique_email};
use uuid::Uuid;

fn client() -> ClientInfo {
    ClientInfo {
        ip: Some("203.0.113.9".into()),
        user_agent: Some("oracle-test".into()),
        request_id: None,
        purpose_of_use: None,
    }
}

/// How many messages with this subject `recipient` was sent.
fn sent(app: &TestApp, recipient: &str, subject: &str) -> usize {
    app.outbox(recipient)
        .iter()
        .filter(|(s, _)| s == subject)
        .count()
}

#[tokio::test]
async fn a_password_reset_does_the_same_work_for_known_and_unknown_addresses() {
    let app = TestApp::spawn().await;
    let owner = app.new_owner("Harbour Clinic").await;
    let ghost = unique_email("ghost");
    let (services, log) = app.recording_services();
    let (known, unknown) = tokio::task::spawn_blocking({
        let (email, ghost) = (owner.email.clone(), ghost.clone());
        move || {
            services
                .auth
                .request_password_reset(&email, &client())
                .unwrap();
            let known = log.take();
            services
                .auth
                .request_password_reset(&ghost, &client())
                .unwrap();
            (known, log.take())
        }
    })
    .await
    .unwrap();
    assert!(
        known.iter().any(|l| l.contains("one_time_tokens")),
        "the known address gets a token: {known:#?}"
    );
    assert_eq!(known, unknown, "known and unknown addresses differ in work");
    assert_eq!(sent(&app, &owner.email, "Reset your Salus password"), 1);
    assert_eq!(
        sent(
            &app,
            &ghost,
            "Password reset for an address without a Salus account"
        ),
        1
    );
}

#[tokio::test]
async fn a_sign_up_does_the_same_work_whether_or_not_the_address_has_an_account() {
    let app = TestApp::spawn().await;
    let owner = app.new_owner("Harbour Clinic").await;
    let newcomer = unique_email("newcomer");
    let (services, log) = app.recording_services();
    let runs = tokio::task::spawn_blocking({
        let (owner, newcomer) = (owner.email.clone(), newcomer.clone());
        move || {
            [
                (newcomer, PASSWORD),
                (owner.clone(), OTHER_PASSWORD),
                (owner, PASSWORD),
            ]
            .map(|(email, password)| {
                let cmd = SignUp {
                    clinic_name: "Second Clinic".into(),
                    email,
                    password: password.into(),
                    given_name: "Ada".into(),
                    family_name: "Quill".into(),
                };
                services.auth.sign_up(&cmd, &client()).unwrap();
                log.take()
            })
        }
    })
    .await
    .unwrap();
    let [new, wrong_password, right_password] = runs;
    assert!(
        new.iter().any(|l| l.contains("random 16 bytes")),
        "a password is hashed: {new:#?}"
    );
    assert_eq!(
        new, wrong_password,
        "a new address and an account differ in work"
    );
    assert_eq!(
        new, right_password,
        "a new address and an account differ in work"
    );
    assert_eq!(sent(&app, &newcomer, "Verify your email for Salus"), 1);
    assert_eq!(
        sent(
            &app,
            &owner.email,
            "Someone tried to sign up with your email"
        ),
        2
    );
}

#[tokio::test]
async fn asking_for_a_new_verification_code_does_the_same_work_for_every_address() {
    let app = TestApp::spawn().await;
    let verified = app.new_owner("Harbour Clinic").await;
    let pending = unique_email("pending");
    assert_eq!(
        app.sign_up("Pending Clinic", &pending, PASSWORD)
            .await
            .status(),
        202
    );
    let (services, log) = app.recording_services();
    let runs = tokio::task::spawn_blocking({
        let addresses = [
            pending.clone(),
            verified.email.clone(),
            unique_email("ghost"),
        ];
        move || {
            addresses.map(|email| {
                services
                    .auth
                    .resend_verification(&email, &client())
                    .unwrap();
                log.take()
            })
        }
    })
    .await
    .unwrap();
    let [to_pending, to_verified, to_unknown] = runs;
    assert_eq!(
        to_pending, to_verified,
        "a pending and a verified address differ"
    );
    assert_eq!(
        to_pending, to_unknown,
        "a pending and an unknown address differ"
    );
    assert_eq!(
        sent(&app, &pending, "Verify your email for Salus"),
        2,
        "the sign-up's code and a new one"
    );
    assert_eq!(sent(&app, &verified.email, "Nothing to verify on Salus"), 1);
}

#[tokio::test]
async fn an_email_change_does_the_same_work_whether_or_not_the_new_address_is_taken() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Harbour Clinic").await;
    let other = app.new_owner("Other Clinic").await;
    let me = app.me(&owner).await;
    let ids = |v: &serde_json::Value| Uuid::parse_str(v.as_str().unwrap()).unwrap();
    let mut actor = app
        .services()
        .auth
        .authenticate(
            ClinicId(ids(&me["clinic"]["id"])),
            SessionId(ids(&me["session_id"])),
        )
        .unwrap();
    // As right after a step-up.
    actor.mfa_at = Some(app.services().now());
    let (services, log) = app.recording_services();
    let (taken, free) = tokio::task::spawn_blocking(move || {
        services
            .auth
            .request_email_change(&actor, PASSWORD, &other.email, &client())
            .unwrap();
        let taken = log.take();
        services
            .auth
            .request_email_change(&actor, PASSWORD, &unique_email("free"), &client())
            .unwrap();
        (taken, log.take())
    })
    .await
    .unwrap();
    assert!(!taken.is_empty());
    assert_eq!(taken, free, "a taken and a free address differ in work");
}

/// The argon2 computations of the flows that take a password, through the
/// API: an unknown address costs the same hashing work as a known one with a
/// wrong password (the dummy hash), for members and for operators, counted by
/// the server's hasher itself.
#[tokio::test]
async fn a_sign_in_does_the_same_hashing_work_for_known_and_unknown_addresses() {
    let app = TestApp::spawn().await;
    let owner = app.new_owner("Harbour Clinic").await;
    let services = app.services();
    let work = |before: u64| services.password_hash_computations() - before;

    let before = services.password_hash_computations();
    assert_eq!(app.login(&owner.email, OTHER_PASSWORD).await.status(), 401);
    let known = work(before);
    let before = services.password_hash_computations();
    assert_eq!(
        app.login(&unique_email("nobody"), OTHER_PASSWORD)
            .await
            .status(),
        401
    );
    let unknown = work(before);
    assert!(known >= 1, "a sign-in verifies the password: {known}");
    assert_eq!(
        known, unknown,
        "member sign-in: known {known}, unknown {unknown}"
    );

    let operator = |email: String| {
        app.post_json(
            "/api/v1/platform/auth/login",
            serde_json::json!({"email": email, "password": OTHER_PASSWORD, "code": "123456"}),
        )
    };
    let code = tokio::task::spawn_blocking({
        let services = app.services();
        move || {
            let ends_at = services.now() + chrono::Duration::days(30);
            services
                .platform
                .add_operator(&salus_domain::platform::NewOperator {
                    email: "ida@ops.example".into(),
                    role: salus_domain::ports::operators::OperatorRole::Support,
                    ends_at,
                    added_by: "ops-lead@salus.example".into(),
                })
        }
    })
    .await
    .unwrap()
    .unwrap();
    let enrolled = app
        .post_json(
            "/api/v1/platform/enrolment",
            serde_json::json!({"token": code, "password": PASSWORD}),
        )
        .await;
    assert_eq!(enrolled.status(), 200);
    let before = services.password_hash_computations();
    assert_eq!(operator("ida@ops.example".into()).await.status(), 401);
    let known = work(before);
    let before = services.password_hash_computations();
    assert_eq!(operator(unique_email("ghost-op")).await.status(), 401);
    let unknown = work(before);
    assert!(known >= 1);
    assert_eq!(
        known, unknown,
        "operator sign-in: known {known}, unknown {unknown}"
    );
}
