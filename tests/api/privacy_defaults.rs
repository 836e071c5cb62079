//! Privacy by default (promise D5): the defaults that protect, each read where it
//! really comes from (the configuration's defaults, a new clinic's settings and
//! members as the API answers them, a reminder the outbox really holds), so a
//! test fails when one of them changes.

use chrono::{Duration, SecondsFormat};
use salus_domain::access::Role;
use salus_tests::TestApp;
use salus_tests::access::MEMBER_PASSWORD;
use salus_tests::identity::unique_email;
use serde_json::{Value, json};

/// The configuration a deployment gets when it sets only what it must.
fn default_config() -> salus::config::Config {
    salus::config::Config::load(&|name: &str| {
        (name == "DATABASE_URL").then(|| "postgres://localhost/salus".to_owned())
    })
    .unwrap_or_else(|problems| panic!("{problems}"))
}

#[tokio::test]
async fn reminders_need_consent_and_say_only_when_and_where() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Harbour Clinic").await;
    let practitioner = app.practitioner(&owner).await;
    let start = salus_domain::Clock::now(app.clock.as_ref()) + Duration::days(3);
    let book = |patient: String, hours: i64| {
        let from = start + Duration::hours(hours);
        let at = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(SecondsFormat::Secs, true);
        json!({"patient_id": patient, "practitioner_id": practitioner, "starts_at": at(from),
               "ends_at": at(from + Duration::minutes(20)), "reason": "PRIVACY-REASON-HERON"})
    };

    // Contact details on file, consent not given: it is off, and nothing is sent.
    let silent = app
        .patient(
            &owner,
            json!({"family_name": "Silent", "given_name": "Sid", "birth_date": "1970-01-01", "sex": "male",
                   "phone": "+33633330001", "email": "silent@example.org"}),
        )
        .await
        .id;
    let read: Value = app
        .get_as(&owner.access, &format!("/api/v1/patients/{silent}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        read["reminder_consent"],
        json!({"email": false, "sms": false})
    );
    app.booking(&owner, book(silent, 0)).await;
    assert!(app.outbox("+33633330001").is_empty(), "no consent, no SMS");
    assert!(
        app.outbox("silent@example.org").is_empty(),
        "no consent, no email"
    );

    // With consent, the reminder holds the date, the time and the clinic, and
    // nothing of the patient's health, name or practitioner.
    let reminded = app
        .patient(
            &owner,
            json!({"family_name": "PRIVACY-FAMILY", "given_name": "PRIVACY-GIVEN", "birth_date": "1970-01-01", "sex": "female",
                   "phone": "+33633330002", "email": "reminded@example.org", "reminder_consent": {"email": true, "sms": true},
                   "medical_history": {"allergies": ["PRIVACY-ALLERGY"], "conditions": ["PRIVACY-CONDITION"], "medications": []}}),
        )
        .await
        .id;
    app.booking(&owner, book(reminded, 2)).await;
    let messages: Vec<(String, String)> = app
        .outbox("+33633330002")
        .into_iter()
        .chain(app.outbox("reminded@example.org"))
        .collect();
    assert_eq!(messages.len(), 2, "one SMS and one email: {messages:?}");
    for (subject, body) in &messages {
        let text = format!("{subject}\n{body}");
        assert!(text.contains("Harbour Clinic"), "{text}");
        for private in [
            "PRIVACY-REASON-HERON",
            "PRIVACY-FAMILY",
            "PRIVACY-GIVEN",
            "PRIVACY-ALLERGY",
            "PRIVACY-CONDITION",
            "Quill",
            "General practice",
        ] {
            assert!(!text.contains(private), "{private} in a reminder: {text}");
        }
    }
}

#[tokio::test]
async fn sessions_are_short_by_default() {
    let config = default_config();
    assert_eq!(config.session_lifetime_hours, 12, "absolute lifetime");
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Harbour Clinic").await;
    let clinic: Value = app
        .get_as(&owner.access, "/api/v1/clinic")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(clinic["idle_timeout_minutes"], 30, "{clinic}");
}

#[tokio::test]
async fn privileged_roles_must_use_mfa_whatever_the_clinic_says() {
    let privileged: Vec<Role> = Role::ALL.into_iter().filter(|r| r.requires_mfa()).collect();
    assert_eq!(privileged, [Role::Owner, Role::Administrator]);

    let app = TestApp::spawn().await;
    let owner = app.new_owner("Harbour Clinic").await;
    let confined = app.get_as(&owner.access, "/api/v1/me").await;
    assert_eq!(confined.status(), 403);
    let problem: Value = confined.json().await.unwrap();
    assert_eq!(problem["code"], "mfa_enrollment_required");

    let mut owner = owner;
    app.enrol_mfa(&mut owner).await;
    let clinic: Value = app
        .get_as(&owner.access, "/api/v1/clinic")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        clinic["require_mfa"], false,
        "the clinic asks nothing more of others"
    );
    // An administrator who has not enrolled reaches nothing but enrolment.
    let email = unique_email("administrator");
    let invite = app
        .post_json_as(
            &owner.access,
            "/api/v1/invitations",
            &json!({"email": email, "role": "administrator"}),
        )
        .await;
    assert_eq!(invite.status(), 201);
    let token = app.token_sent(&email, "invited to join");
    let accept = app
        .post_json(
            "/api/v1/invitations/accept",
            json!({"token": token, "password": MEMBER_PASSWORD, "given_name": "Sam", "family_name": "Rivers"}),
        )
        .await;
    assert_eq!(accept.status(), 204);
    let login: Value = app
        .login(&email, MEMBER_PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    let access = login["access_token"].as_str().unwrap();
    let confined = app.get_as(access, "/api/v1/me").await;
    assert_eq!(confined.status(), 403);
    let problem: Value = confined.json().await.unwrap();
    assert_eq!(problem["code"], "mfa_enrollment_required");
}

#[tokio::test]
async fn no_origin_is_trusted_and_metrics_stay_off_the_public_listener() {
    let config = default_config();
    assert!(config.cors_allowed_origins.is_empty(), "CORS closed");
    assert_eq!(config.metrics_bind, None, "no metrics listener");

    let app = TestApp::spawn().await;
    let preflight = app
        .client
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/api/v1/patients", app.url),
        )
        .header("origin", "https://app.clinic.test")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert!(
        preflight
            .headers()
            .get("access-control-allow-origin")
            .is_none(),
        "a preflight from any origin is refused"
    );
    let simple = app
        .get("/health/live")
        .header("origin", "https://app.clinic.test")
        .send()
        .await
        .unwrap();
    assert!(
        simple
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );

    assert_eq!(app.metrics_addr, None);
    assert_eq!(app.get("/metrics").send().await.unwrap().status(), 404);
}
