//! The platform operator realm (issue 16): operators added by the CLI enrol
//! with a one-time link, sign in only with their authenticator, hold sessions
//! that end idle, absolutely, at the account's end and on revocation, and no
//! operator operation shows a patient's row or field: proven on the answers of
//! every operation of the contract under `/api/v1/platform/`, on the
//! statements every operator transaction sends, and on what the API role sees
//! in the platform scope.

use chrono::Duration;
use diesel::prelude::*;
use salus_domain::ports::operators::OperatorRole;
use salus_tests::TestApp;
use salus_tests::catalogue::{count, tables_with_column};
use salus_tests::contract::{example, operations};
use serde_json::{Value, json};

async fn login(app: &TestApp, email: &str, code: &str) -> reqwest::Response {
    app.operator_login(email, code).await
}

async fn me(app: &TestApp, token: &str) -> u16 {
    app.get_as(token, "/api/v1/platform/me")
        .await
        .status()
        .as_u16()
}

#[tokio::test]
async fn an_operator_enrols_with_the_link_and_signs_in_only_with_the_authenticator() {
    let app = TestApp::spawn().await;
    let email = "uli@ops.example";
    let code = app
        .add_operator(
            email,
            OperatorRole::IncidentManager,
            app.now() + Duration::days(30),
        )
        .await;
    let mail = app.outbox(email);
    assert!(
        mail.iter().any(|(_, body)| body.contains(&code)),
        "the enrolment code is emailed: {mail:?}"
    );
    assert_eq!(
        login(&app, email, "123456").await.status(),
        401,
        "not before enrolment"
    );
    assert_eq!(
        app.start_operator_enrolment("not-the-code").await.status(),
        422
    );
    let started = app.start_operator_enrolment(&code).await;
    assert_eq!(started.status(), 200);
    let otpauth = started.json::<Value>().await.unwrap()["otpauth_uri"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        login(&app, email, &app.totp_code(&otpauth, 0))
            .await
            .status(),
        401,
        "not before the authenticator is confirmed"
    );
    let wrong = app
        .post_json_as(
            "",
            "/api/v1/platform/enrolment/confirm",
            &json!({"token": code, "code": "000000"}),
        )
        .await;
    assert_eq!(wrong.status(), 422);
    let confirmed = app
        .post_json_as(
            "",
            "/api/v1/platform/enrolment/confirm",
            &json!({"token": code, "code": app.totp_code(&otpauth, 0)}),
        )
        .await;
    assert_eq!(confirmed.status(), 204);
    assert_eq!(
        app.start_operator_enrolment(&code).await.status(),
        422,
        "the link works once"
    );

    // Every factor, every time: a wrong code, a spent code, a wrong password.
    assert_eq!(login(&app, email, "000000").await.status(), 401);
    assert_eq!(
        login(&app, email, &app.totp_code(&otpauth, 0))
            .await
            .status(),
        401,
        "the code that confirmed the authenticator is spent"
    );
    let wrong_password = app
        .post_json_as(
            "",
            "/api/v1/platform/auth/login",
            &json!({"email": email, "password": "wrong password wrong", "code": app.totp_code(&otpauth, 1)}),
        )
        .await;
    assert_eq!(wrong_password.status(), 401);
    app.clock.advance(Duration::seconds(60));
    let token = app.operator_sign_in(email, &otpauth).await;
    assert!(token.starts_with("salus_op_"), "{token}");
    let who: Value = app
        .get_as(&token, "/api/v1/platform/me")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(who["email"], email);
    assert_eq!(who["role"], "incident_manager");

    // The realms do not mix: a member's token is no operator's, and back.
    let owner = app.owner_with_mfa("Realm Clinic").await;
    assert_eq!(me(&app, &owner.access).await, 401);
    assert_eq!(app.get_as(&token, "/api/v1/me").await.status(), 401);

    // Stored as a hash, never as the token.
    let mut su = app.db.superuser();
    let raw = count(
        &mut su,
        &format!(
            "SELECT count(*) AS n FROM operator_sessions
              WHERE token_hash = sha256(convert_to('{token}', 'UTF8'))"
        ),
    );
    assert_eq!(raw, 1, "the session keeps the token's SHA-256");
    let leaked = count(
        &mut su,
        &format!(
            "SELECT count(*) AS n FROM operator_sessions s JOIN operators o ON o.id = s.operator_id
              WHERE row_to_json(s)::text LIKE '%{0}%' OR row_to_json(o)::text LIKE '%{0}%'
                 OR row_to_json(o)::text LIKE '%{code}%'",
            &token["salus_op_".len()..]
        ),
    );
    assert_eq!(leaked, 0, "no token or enrolment code in the clear");
    for action in ["operator.added", "operator.enrolled", "operator.signed_in"] {
        let n = count(
            &mut su,
            &format!(
                "SELECT count(*) AS n FROM audit.events WHERE action = '{action}' AND clinic_id IS NULL"
            ),
        );
        assert!(n >= 1, "{action} is in the platform chain");
    }
    let failed = count(
        &mut su,
        "SELECT count(*) AS n FROM audit.events WHERE action = 'operator.sign_in_failed'",
    );
    assert!(failed >= 3, "each failed sign-in is recorded: {failed}");

    let out = app
        .client
        .post(format!("{}/api/v1/platform/auth/logout", app.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    assert_eq!(me(&app, &token).await, 401, "signed out");
}

#[tokio::test]
async fn an_operator_session_ends_idle_at_eight_hours_at_the_accounts_end_and_on_revocation() {
    let app = TestApp::spawn().await;
    let email = "ida@ops.example";
    let (otpauth, token) = app.operator(email, OperatorRole::Support).await;

    // Idle: 15 minutes, extended by each request.
    app.clock.advance(Duration::minutes(14));
    assert_eq!(me(&app, &token).await, 200);
    app.clock.advance(Duration::minutes(14));
    assert_eq!(me(&app, &token).await, 200, "activity extends the idle end");
    app.clock
        .advance(Duration::minutes(15) + Duration::seconds(1));
    assert_eq!(me(&app, &token).await, 401, "15 minutes without a request");

    // Absolute: 8 hours whatever the activity.
    let token = app.operator_sign_in(email, &otpauth).await;
    for _ in 0..34 {
        app.clock.advance(Duration::minutes(14));
        assert_eq!(me(&app, &token).await, 200);
    }
    app.clock
        .advance(Duration::minutes(4) + Duration::seconds(1));
    assert_eq!(me(&app, &token).await, 401, "8 hours after sign-in");

    // Revocation: at once, and no new sign-in.
    let token = app.operator_sign_in(email, &otpauth).await;
    assert_eq!(me(&app, &token).await, 200);
    let services = app.services();
    let ended = tokio::task::spawn_blocking(move || {
        services
            .platform
            .revoke_operator(email, "ops-lead@salus.example")
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(ended, 1);
    assert_eq!(me(&app, &token).await, 401, "revoked on the next request");
    app.clock.advance(Duration::seconds(60));
    assert_eq!(
        login(&app, email, &app.totp_code(&otpauth, 1))
            .await
            .status(),
        401
    );

    // The account's end: it caps the session and ends access by itself.
    let email = "end@ops.example";
    let code = app
        .add_operator(email, OperatorRole::Support, app.now() + Duration::hours(1))
        .await;
    let otpauth = app.enrol_operator(&code).await;
    let token = app.operator_sign_in(email, &otpauth).await;
    for _ in 0..4 {
        app.clock.advance(Duration::minutes(14));
        assert_eq!(me(&app, &token).await, 200);
    }
    app.clock
        .advance(Duration::minutes(4) + Duration::seconds(1));
    assert_eq!(me(&app, &token).await, 401, "the account ended");
    assert_eq!(
        login(&app, email, &app.totp_code(&otpauth, 1))
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn no_operator_operation_shows_a_patient_row_or_field() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Harbour Clinic").await;
    let practitioner = app.practitioner(&owner).await;
    let patient = app
        .patient(
            &owner,
            json!({"family_name": "Zephyrine", "given_name": "Oriel", "birth_date": "1961-02-03",
                   "sex": "female", "national_id": "2610299123456",
                   "medical_history": {"allergies": ["QUINCE-ALLERGY"], "conditions": [], "medications": []}}),
        )
        .await
        .id;
    app.booking(
        &owner,
        json!({"patient_id": patient, "practitioner_id": practitioner,
               "starts_at": "2031-03-03T09:00:00Z", "ends_at": "2031-03-03T09:30:00Z",
               "reason": "LAPIS-REASON"}),
    )
    .await;
    app.note(&owner, &patient, "OBSIDIAN-NOTE").await;
    let clinic = app.me(&owner).await["clinic"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let secrets = [
        patient.as_str(),
        "Zephyrine",
        "Oriel",
        "2610299123456",
        "QUINCE-ALLERGY",
        "LAPIS-REASON",
        "OBSIDIAN-NOTE",
    ];

    // Every operation of the realm, as every role: no answer holds any of it.
    let platform: Vec<_> = operations()
        .into_iter()
        .filter(|o| o.path.starts_with("/api/v1/platform/") && !o.public)
        .collect();
    assert!(platform.len() >= 4, "{platform:?}");
    let (_, declarer) = app
        .operator("declarer@ops.example", OperatorRole::IncidentManager)
        .await;
    let declare = json!({"title": "Walk", "severity": "P1", "clinic_ids": [clinic],
                         "personal_data": "suspected", "text": "Declared for the walk."});
    for (n, role) in OperatorRole::ALL.into_iter().enumerate() {
        let (_, token) = app.operator(&format!("walker{n}@ops.example"), role).await;
        // An incident of its own for each role's walk (a breach is confirmed once).
        let incident: Value = app
            .post_json_as(&declarer, "/api/v1/platform/incidents", &declare)
            .await
            .json()
            .await
            .unwrap();
        let incident = incident["id"].as_str().unwrap().to_owned();
        let held: Vec<&str> = salus_domain::platform::role_permissions(role)
            .iter()
            .map(|p| p.code())
            .collect();
        for op in platform.iter().filter(|o| !o.path.ends_with("/logout")) {
            let method = reqwest::Method::from_bytes(op.method.as_bytes()).unwrap();
            let id = if op.path.starts_with("/api/v1/platform/incidents/") {
                &incident
            } else {
                &clinic
            };
            let mut request = app
                .client
                .request(method, format!("{}{}", app.url, op.path_with(id)))
                .bearer_auth(&token);
            if op.path == "/api/v1/platform/incidents" && op.method == "POST" {
                request = request.json(&declare);
            } else if let Some(schema) = &op.body {
                request = request.json(&example(schema));
            }
            let answer = request.send().await.unwrap();
            let status = answer.status();
            let body = answer.text().await.unwrap();
            let allowed = op
                .permission
                .as_deref()
                .is_none_or(|p| p == "self" || held.contains(&p));
            assert!(
                if allowed {
                    status.is_success()
                } else {
                    status == 403
                },
                "{} as {role:?}: {status} {body}",
                op.name()
            );
            for secret in secrets {
                assert!(
                    !body.contains(secret),
                    "{} as {role:?} shows {secret}: {body}",
                    op.name()
                );
            }
        }
    }
    let (_, token) = app
        .operator("counter@ops.example", OperatorRole::Support)
        .await;
    let one: Value = app
        .get_as(&token, &format!("/api/v1/platform/clinics/{clinic}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one["name"], "Harbour Clinic");
    let staff: Value = app
        .get_as(&owner.access, "/api/v1/staff")
        .await
        .json()
        .await
        .unwrap();
    let members = staff["items"].as_array().map(Vec::len).unwrap_or_default();
    assert_eq!(
        (one["patients"].as_i64(), one["members"].as_i64()),
        (Some(1), i64::try_from(members).ok()),
        "counts, not rows"
    );

    // The clinic sees the operators' reads of it in its own trail.
    let trail: Value = app
        .get_as(
            &owner.access,
            "/api/v1/audit-events?action=operator.clinic_read",
        )
        .await
        .json()
        .await
        .unwrap();
    let items = trail["items"].as_array().unwrap();
    assert_eq!(items.len(), OperatorRole::ALL.len() + 1, "{trail}");

    // The statements: every operator transaction, recorded, names no tenant
    // table (the clinics' summaries come through the function that returns
    // counts; a clinic's own trail is written through the audit tables only).
    let mut su = app.db.superuser();
    let tenant: Vec<String> = tables_with_column(&mut su, "clinic_id", &["audit"])
        .into_iter()
        .map(|t| t.trim_start_matches("public.").to_owned())
        // Platform-visible (their policy lets the platform scope see every
        // row): the chain heads, and the incident register's clinic tables.
        .filter(|t| !PLATFORM_VISIBLE.contains(&t.as_str()))
        .collect();
    assert!(tenant.iter().any(|t| t == "patients"), "{tenant:?}");
    let (services, log) = app.recording_services();
    let actor = services
        .platform
        .authenticate(&token)
        .expect("the token signs in");
    let client = salus_domain::identity::model::ClientInfo::default();
    let clinic_id = salus_domain::ids::ClinicId(uuid::Uuid::parse_str(&clinic).unwrap());
    services.platform.clinics(&actor, &client).unwrap();
    services
        .platform
        .clinic(&actor, clinic_id, &client)
        .unwrap();
    services.platform.sign_out(&actor, &client).unwrap();
    let (_, manager) = app
        .operator("recorded@ops.example", OperatorRole::IncidentManager)
        .await;
    let manager = services
        .platform
        .authenticate(&manager)
        .expect("the token signs in");
    incident_flows(&services, &manager, clinic_id);
    let lines = log.take();
    assert!(
        lines.iter().any(|l| l.contains("salus_platform_clinics"))
            && lines
                .iter()
                .any(|l| l.contains("salus_platform_incident_contacts")),
        "{lines:?}"
    );
    for line in lines.iter().filter(|l| l.starts_with("sql ")) {
        let words: Vec<&str> = line
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .collect();
        for table in &tenant {
            assert!(
                !words.contains(&table.as_str()),
                "an operator statement names the tenant table {table}: {line}"
            );
        }
    }

    // The database: as the API role in the platform scope, no tenant table
    // shows a row, before or after the summaries' function.
    let mut api = PgConnection::establish(&app.db.api_url()).unwrap();
    api.transaction::<_, diesel::result::Error, _>(|conn| {
        let visible = |conn: &mut PgConnection| -> Vec<(String, i64)> {
            tenant
                .iter()
                .map(|t| {
                    (
                        t.clone(),
                        count(conn, &format!("SELECT count(*) AS n FROM {t}")),
                    )
                })
                .filter(|(t, n)| {
                    *n > 0
                        && ![
                            "clinic_closures",
                            "clinic_exports",
                            "incident_clinics",
                            "incident_evidence",
                            "webhook_deliveries",
                        ]
                        .contains(&t.as_str())
                })
                .collect()
        };
        assert_eq!(visible(conn), [], "before");
        let summaries = count(
            conn,
            "SELECT count(*) AS n FROM salus_platform_clinics(NULL)",
        );
        assert_eq!(summaries, 1);
        assert_eq!(visible(conn), [], "after: the function puts the scope back");
        Ok(())
    })
    .unwrap();
}

/// The tenant tables the platform scope sees every row of (their policies are
/// checked in `rls.rs`): an operator's statement may name them.
const PLATFORM_VISIBLE: [&str; 3] = ["audit_chain_heads", "incident_clinics", "incident_evidence"];

/// Every operation of the incident register, as an incident manager, on one
/// clinic (recorded by the caller).
fn incident_flows(
    services: &salus_domain::services::Services,
    actor: &salus_domain::platform::OperatorActor,
    clinic: salus_domain::ids::ClinicId,
) {
    use salus_domain::ports::incidents::{IncidentStatus, Notice, PersonalData, Severity};
    let client = salus_domain::identity::model::ClientInfo::default();
    let p = &services.platform;
    let declared = p
        .declare_incident(
            actor,
            salus_domain::platform::NewIncident {
                title: "Recorded".into(),
                severity: Severity::P1,
                clinics: vec![clinic],
                personal_data: PersonalData::Suspected,
                text: "Recorded flows.".into(),
            },
            &client,
        )
        .unwrap();
    let id = declared.incident.id;
    p.incidents(actor, &client).unwrap();
    p.incident(actor, id, &client).unwrap();
    p.add_incident_entry(actor, id, "Entry.".into(), &client)
        .unwrap();
    p.confirm_breach(actor, id, &client).unwrap();
    p.record_authority_notification(actor, id, services.now(), "REF-1".into(), &client)
        .unwrap();
    let notice = Notice {
        nature: "n".into(),
        categories_and_numbers: "c".into(),
        likely_consequences: "l".into(),
        measures_taken: "m".into(),
        contact: "k".into(),
    };
    p.notify_clinics(actor, id, notice, &client).unwrap();
    p.preserve_evidence(actor, id, &client).unwrap();
    p.record_postmortem(actor, id, "Root.".into(), "Measures.".into(), &client)
        .unwrap();
    p.set_incident_status(actor, id, IncidentStatus::Closed, &client)
        .unwrap();
}
