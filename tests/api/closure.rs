//! The end of a clinic (promise D3, issue 15): an owner asks for the closure
//! with step-up, members are told, the grace period holds until its last
//! minute, and then every row of the clinic in every schema is deleted (found
//! by walking the catalogue, not from a list), its keys destroyed, the other
//! clinic untouched, and a signed certificate of destruction is kept in the
//! register and emailed to the owners; it verifies offline and any change
//! breaks it.

use chrono::Duration;
use diesel::prelude::*;
use diesel::sql_types::Text;
use salus_domain::closure::certificate::Signed;
use salus_tests::TestApp;
use salus_tests::catalogue::{count, tables_with_column};
use salus_tests::identity::Member;
use serde_json::{Value, json};

/// Rows of `clinic` in every table of every schema that names a clinic (a
/// `clinic_id` column, or `clinics` itself), by table, as the superuser.
fn rows_of(app: &TestApp, clinic: &str) -> Vec<(String, i64)> {
    let mut conn = app.db.superuser();
    let id = uuid::Uuid::parse_str(clinic).unwrap();
    let tables = tables_with_column(&mut conn, "clinic_id", &[]);
    assert!(
        tables.len() > 15,
        "the walk finds the tenant tables: {}",
        tables.len()
    );
    tables
        .into_iter()
        .map(|t| (t, "clinic_id"))
        .chain([("public.clinics".to_owned(), "id")])
        .map(|(table, column)| {
            let n = count(
                &mut conn,
                &format!("SELECT count(*) AS n FROM {table} WHERE {column} = '{id}'"),
            );
            (table, n)
        })
        .collect()
}

async fn clinic_id(app: &TestApp, member: &Member) -> String {
    app.me(member).await["clinic"]["id"]
        .as_str()
        .expect("clinic id")
        .to_owned()
}

/// A clinic with something in every area: a practitioner, a patient with a
/// sealed history who consented to reminders, a booking (with its reminder), a
/// note, a queue entry, an invited administrator.
async fn busy_clinic(app: &TestApp, name: &str, phone: &str) -> (Member, Member) {
    let owner = app.owner_with_mfa(name).await;
    let practitioner = app.practitioner(&owner).await;
    let patient = app
        .patient(
            &owner,
            json!({"family_name": "Curie", "given_name": "Marie", "birth_date": "1967-11-07",
                   "sex": "female", "phone": phone, "reminder_consent": {"sms": true},
                   "medical_history": {"allergies": ["penicillin"], "conditions": [], "medications": []}}),
        )
        .await
        .id;
    let start = salus_domain::Clock::now(app.clock.as_ref()) + Duration::days(3);
    let at =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    app.booking(
        &owner,
        json!({"patient_id": patient, "practitioner_id": practitioner, "starts_at": at(start),
               "ends_at": at(start + Duration::minutes(20)), "reason": "cough"}),
    )
    .await;
    app.note(&owner, &patient, "Observation").await;
    app.queue_entry(&owner, &patient).await;
    let admin = app.join_as(&owner, "administrator").await;
    (owner, admin)
}

async fn closure(app: &TestApp, method: reqwest::Method, who: &Member) -> reqwest::Response {
    app.client
        .request(method, format!("{}/api/v1/clinic/closure", app.url))
        .bearer_auth(&who.access)
        .send()
        .await
        .expect("request")
}

#[tokio::test]
async fn an_owner_asks_for_the_closure_with_step_up_members_are_told_and_it_can_be_cancelled() {
    let app = TestApp::spawn().await;
    let (owner, admin) = busy_clinic(&app, "Harbour Clinic", "+33611110001").await;

    let refused = closure(&app, reqwest::Method::POST, &admin).await;
    assert_eq!(
        refused.status(),
        403,
        "an administrator may not close the clinic"
    );
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "permission_denied");

    let asked = closure(&app, reqwest::Method::POST, &owner).await;
    assert_eq!(asked.status(), 201);
    let asked: Value = asked.json().await.unwrap();
    assert_eq!(asked["state"], "scheduled");
    assert_eq!(asked["requested_by"], owner.email.as_str());
    let now = salus_domain::Clock::now(app.clock.as_ref());
    let due = chrono::DateTime::parse_from_rfc3339(asked["due_at"].as_str().unwrap()).unwrap();
    assert_eq!(
        due.with_timezone(&chrono::Utc),
        now + Duration::days(30),
        "30 days of grace by default"
    );
    assert_eq!(
        closure(&app, reqwest::Method::POST, &owner).await.status(),
        409
    );
    let read: Value = closure(&app, reqwest::Method::GET, &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read["state"], "scheduled", "members see the closure");
    for member in [&owner, &admin] {
        assert!(
            app.outbox(&member.email)
                .iter()
                .any(|(subject, _)| subject.contains("will be closed")),
            "{} is told",
            member.email
        );
    }

    assert_eq!(
        closure(&app, reqwest::Method::DELETE, &owner)
            .await
            .status(),
        204
    );
    let read: Value = closure(&app, reqwest::Method::GET, &owner)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read["state"], "none");
    assert!(
        app.outbox(&admin.email)
            .iter()
            .any(|(s, _)| s.contains("cancelled"))
    );
    assert_eq!(
        closure(&app, reqwest::Method::DELETE, &owner)
            .await
            .status(),
        404
    );

    app.clock.advance(Duration::minutes(11));
    let stale = closure(&app, reqwest::Method::POST, &owner).await;
    assert_eq!(stale.status(), 403);
    let body: Value = stale.json().await.unwrap();
    assert_eq!(body["code"], "step_up_required");
    // A cancelled closure is never executed.
    app.clock.advance(Duration::days(31));
    assert!(app.closure_round().await.is_empty());
}

#[tokio::test]
async fn at_the_end_of_the_grace_period_every_row_and_key_of_the_clinic_is_destroyed_and_certified()
{
    let app = TestApp::spawn().await;
    let (owner, admin) = busy_clinic(&app, "Harbour Clinic", "+33611110002").await;
    let (other_owner, _) = busy_clinic(&app, "Hill Clinic", "+33611110003").await;
    let clinic = clinic_id(&app, &owner).await;
    let other = clinic_id(&app, &other_owner).await;
    let before = rows_of(&app, &clinic);
    let other_before = rows_of(&app, &other);
    for table in [
        "public.patients",
        "public.clinic_keys",
        "audit.events",
        "public.appointment_reminders",
        "public.memberships",
    ] {
        assert!(
            before.iter().any(|(t, n)| t == table && *n > 0),
            "the clinic has rows in {table} to destroy: {before:?}"
        );
    }

    assert_eq!(
        closure(&app, reqwest::Method::POST, &owner).await.status(),
        201
    );
    app.clock.advance(Duration::days(30) - Duration::minutes(1));
    assert!(
        app.closure_round().await.is_empty(),
        "the grace period holds to its end"
    );
    assert!(rows_of(&app, &clinic).iter().any(|(_, n)| *n > 0));
    app.clock.advance(Duration::minutes(1));
    let issued = app.closure_round().await;
    assert_eq!(issued.len(), 1);
    assert!(app.closure_round().await.is_empty(), "executed once");

    let left: Vec<_> = rows_of(&app, &clinic)
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .collect();
    assert!(
        left.is_empty(),
        "rows of the closed clinic remain: {left:?}"
    );
    assert_eq!(
        rows_of(&app, &other),
        other_before,
        "the other clinic is untouched"
    );

    // The certificate: what was deleted, per table, matches what there was.
    let certificate = &issued[0].document;
    assert_eq!(certificate["kind"], "clinic_destroyed");
    assert_eq!(certificate["clinic_id"], clinic.as_str());
    assert_eq!(certificate["clinic_name"], "Harbour Clinic");
    assert_eq!(certificate["requested_by"], owner.email.as_str());
    let deleted: std::collections::HashMap<String, i64> = certificate["rows_deleted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["table"].as_str().unwrap().to_owned(),
                r["rows"].as_i64().unwrap(),
            )
        })
        .collect();
    for (table, n) in before.iter().filter(|(t, _)| t != "public.clinics") {
        let expected = if table == "audit.events" || table == "audit.checkpoints" {
            // The closure's own sealed event and checkpoint went with them.
            deleted[table] >= *n
        } else if table == "public.clinic_closures" {
            deleted.get(table) == Some(&(n + 1))
        } else {
            deleted.get(table) == Some(n)
        };
        assert!(
            expected,
            "{table}: {n} rows before, certificate says {:?}",
            deleted.get(table)
        );
    }
    assert_eq!(deleted["clinics"], 1);
    assert!(
        deleted["outbox"] >= 1,
        "the reminder's queued message is deleted too"
    );
    assert_eq!(certificate["keys_destroyed"].as_array().unwrap().len(), 2);
    assert_eq!(certificate["sent_to"], json!([owner.email]));
    let head = certificate["audit_head"]["hash"].as_str().unwrap();
    assert_eq!(head.len(), 64);

    // The platform chain says so, with the same head.
    let mut conn = app.db.superuser();
    #[derive(QueryableByName)]
    struct Details {
        #[diesel(sql_type = Text)]
        details: String,
    }
    let recorded = diesel::sql_query(
        "SELECT details FROM audit.events WHERE action = 'clinic.destroyed' AND clinic_id IS NULL",
    )
    .load::<Details>(&mut conn)
    .unwrap();
    assert_eq!(recorded.len(), 1);
    let recorded: Value = serde_json::from_str(&recorded[0].details).unwrap();
    assert_eq!(recorded["audit_head_hash"], head);
    assert_eq!(recorded["certificate_id"], certificate["certificate_id"]);

    // Kept in the register, emailed to the owner (not to the administrator),
    // and both verify with the platform's key; any change breaks them.
    let trusted = salus::serve::audit_sealer(&app.config_with(&[]))
        .unwrap()
        .public_keys();
    let files: Vec<_> = std::fs::read_dir(app.register_dir())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let lines = salus::certificates::verify_file(&files[0], &trusted)
        .unwrap_or_else(|e| panic!("the certificate does not verify: {e:#}"));
    assert!(lines.iter().any(|l| l.contains(&clinic)), "{lines:?}");
    let mail = app.outbox(&owner.email);
    let (_, body) = mail
        .iter()
        .find(|(s, _)| s.contains("Certificate of destruction"))
        .expect("the owner gets the certificate");
    let emailed: Signed = serde_json::from_str(&body[body.find("{\n").unwrap()..]).unwrap();
    assert_eq!(emailed.verify(&trusted), Ok(()));
    assert_eq!(emailed.document, *certificate);
    assert!(
        !app.outbox(&admin.email)
            .iter()
            .any(|(s, _)| s.contains("Certificate")),
        "the certificate goes to the owners"
    );
    let mut forged = emailed.clone();
    forged.document["rows_deleted"][0]["rows"] = json!(0);
    assert!(forged.verify(&trusted).is_err());
    let tampered = app.register_dir().join("tampered.json");
    std::fs::write(&tampered, forged.to_file().unwrap()).unwrap();
    assert!(salus::certificates::verify_file(&tampered, &trusted).is_err());

    // The closed clinic's sessions are gone with it.
    let me = app
        .get("/api/v1/me")
        .bearer_auth(&owner.access)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 401);
}

#[tokio::test]
async fn an_operator_closes_a_clinic_now_only_when_an_owner_asked() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Harbour Clinic").await;
    let clinic = clinic_id(&app, &owner).await;
    let config = app.config_with(&[]);
    let id = salus_domain::ids::ClinicId(uuid::Uuid::parse_str(&clinic).unwrap());
    let refused = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || {
            salus::certificates::close_now(&config, id, "ops@salus.test")
        })
        .await
        .unwrap()
    };
    let refused = refused.expect_err("no closure was asked");
    assert!(
        format!("{refused:#}").contains("no closure asked"),
        "{refused:#}"
    );
    assert!(rows_of(&app, &clinic).iter().any(|(_, n)| *n > 0));

    assert_eq!(
        closure(&app, reqwest::Method::POST, &owner).await.status(),
        201
    );
    let signed = tokio::task::spawn_blocking(move || {
        salus::certificates::close_now(&config, id, "ops@salus.test")
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("close --now failed: {e:#}"));
    assert_eq!(
        signed.document["executed_by"],
        "operator ops@salus.test (salus clinic close --now)"
    );
    assert!(rows_of(&app, &clinic).iter().all(|(_, n)| *n == 0));
}
