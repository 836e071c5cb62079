//! Erasure where the law allows (GDPR article 17, promise D4): a member records
//! the patient's request, an owner decides with step-up; `erase` is refused while
//! the medical record is under the clinic's retention period (a 409 naming the
//! date), and once it has run out every row of the patient in every table that
//! names them is deleted (walked in the catalogue, like a clinic's closure), a
//! tombstone without identity stays, no audit detail holds the patient's name,
//! and a signed `patient_erased` entry is kept in the destruction register.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Uuid as SqlUuid};
use salus_tests::TestApp;
use salus_tests::catalogue::{count, tables_with_column};
use salus_tests::identity::Member;
use serde_json::{Value, json};

fn at(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn now(app: &TestApp) -> DateTime<Utc> {
    salus_domain::Clock::now(app.clock.as_ref())
}

#[derive(QueryableByName)]
struct TableName {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Rows of `patient` in every table outside the audit trail that names a patient
/// (a `patient_id` column, or `patients` itself), by table, as the superuser;
/// and the rows of the tables that refer to those (appointment history and
/// reminders) through the patient's appointments.
fn rows_of(app: &TestApp, patient: &str) -> Vec<(String, i64)> {
    let mut conn = app.db.superuser();
    let tables = tables_with_column(&mut conn, "patient_id", &["audit"]);
    assert!(tables.len() >= 4, "the walk finds the patient tables");
    let id = uuid::Uuid::parse_str(patient).unwrap();
    let mut rows: Vec<(String, i64)> = tables
        .into_iter()
        .map(|t| (t, "patient_id"))
        .chain([("public.patients".to_owned(), "id")])
        .map(|(table, column)| {
            let n = count(
                &mut conn,
                &format!("SELECT count(*) AS n FROM {table} WHERE {column} = '{id}'"),
            );
            (table, n)
        })
        .collect();
    for table in ["appointment_history", "appointment_reminders"] {
        let n = diesel::sql_query(format!(
            "SELECT count(*) AS n FROM {table} r JOIN appointments a
                 ON a.clinic_id = r.clinic_id AND a.id = r.appointment_id WHERE a.patient_id = $1"
        ))
        .bind::<SqlUuid, _>(id)
        .get_result::<Count>(&mut conn)
        .unwrap()
        .n;
        rows.push((format!("public.{table}"), n));
    }
    rows
}

/// Rows of any table of any schema whose JSON text holds `needle`.
fn rows_holding(app: &TestApp, needle: &str) -> Vec<String> {
    let mut conn = app.db.superuser();
    let tables = diesel::sql_query(
        "SELECT format('%I.%I', n.nspname, c.relname) AS name
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
            AND n.nspname NOT LIKE 'pg_toast%' ORDER BY 1",
    )
    .load::<TableName>(&mut conn)
    .unwrap();
    tables
        .into_iter()
        .filter(|t| {
            diesel::sql_query(format!(
                "SELECT count(*) AS n FROM {} t WHERE row_to_json(t)::text ILIKE $1",
                t.name
            ))
            .bind::<Text, _>(format!("%{needle}%"))
            .get_result::<Count>(&mut conn)
            .unwrap()
            .n > 0
        })
        .map(|t| t.name)
        .collect()
}

async fn erasure(app: &TestApp, who: &Member, patient: &str, reason: &str) -> reqwest::Response {
    app.post_json_as(
        &who.access,
        &format!("/api/v1/patients/{patient}/erasure"),
        &json!({ "reason": reason }),
    )
    .await
}

async fn decide(app: &TestApp, who: &Member, patient: &str, decision: &str) -> reqwest::Response {
    app.post_json_as(
        &who.access,
        &format!("/api/v1/patients/{patient}/erasure/decision"),
        &json!({ "decision": decision, "reason": "decided in the test" }),
    )
    .await
}

async fn set_retention(app: &TestApp, owner: &Member, years: i64) -> reqwest::Response {
    app.client
        .patch(format!("{}/api/v1/clinic", app.url))
        .bearer_auth(&owner.access)
        .header("if-match", "*")
        .json(&json!({ "record_retention_years": years }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn an_erasure_waits_for_the_retention_then_leaves_only_a_tombstone_and_a_register_entry() {
    let app = TestApp::spawn().await;
    let mut owner = app.owner_with_mfa("Harbour Clinic").await;
    let practitioner = app.practitioner(&owner).await;
    let admin = app.join_as(&owner, "administrator").await;
    let receptionist = app.join_as(&owner, "receptionist").await;
    let phone = "+33611119876";
    let patient = app
        .patient(
            &owner,
            json!({"family_name": "Quellerase", "given_name": "Ysolde", "birth_date": "1961-04-09",
                   "sex": "female", "phone": phone, "national_id": "2610475123456",
                   "reminder_consent": {"sms": true},
                   "medical_history": {"allergies": ["latex"], "conditions": [], "medications": []}}),
        )
        .await
        .id;
    let kept = app
        .patient(
            &owner,
            json!({"family_name": "Keeping", "given_name": "Kim", "birth_date": "1970-01-01", "sex": "male"}),
        )
        .await
        .id;
    let start = now(&app) + Duration::days(3);
    let booked = |p: &str| {
        json!({"patient_id": p, "practitioner_id": practitioner, "starts_at": at(start),
               "ends_at": at(start + Duration::minutes(20)), "reason": "cough"})
    };
    app.booking(&owner, booked(&patient)).await;
    let start_kept = start + Duration::hours(1);
    app.booking(
        &owner,
        json!({"patient_id": kept, "practitioner_id": practitioner, "starts_at": at(start_kept),
               "ends_at": at(start_kept + Duration::minutes(20))}),
    )
    .await;
    app.note(&owner, &patient, "Observation").await;
    app.queue_entry(&owner, &patient).await;
    assert_eq!(app.outbox(phone).len(), 1, "a reminder is queued");
    let before = rows_of(&app, &patient);
    for table in [
        "public.patients",
        "public.appointments",
        "public.clinical_notes",
        "public.queue_entries",
        "public.appointment_history",
        "public.appointment_reminders",
    ] {
        assert!(
            before.iter().any(|(t, n)| t == table && *n > 0),
            "the patient has rows in {table}: {before:?}"
        );
    }
    let kept_before = rows_of(&app, &kept);

    // Recording the request takes `patients.update`; one waits at a time.
    let refused = erasure(&app, &admin, &patient, "asked at the desk").await;
    assert_eq!(refused.status(), 403);
    let asked = erasure(&app, &receptionist, &patient, "asked at the desk").await;
    assert_eq!(asked.status(), 201);
    let asked: Value = asked.json().await.unwrap();
    assert_eq!(asked["state"], "requested");
    assert_eq!(asked["reason"], "asked at the desk");
    let again = erasure(&app, &owner, &patient, "again").await;
    assert_eq!(again.status(), 409);
    let body: Value = again.json().await.unwrap();
    assert_eq!(body["code"], "erasure_already_requested");
    let read: Value = app
        .get_as(
            &receptionist.access,
            &format!("/api/v1/patients/{patient}/erasure"),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read["request_id"], asked["request_id"]);

    // Deciding takes `patients.erase` (the owner's) and a recent MFA check.
    let body: Value = decide(&app, &admin, &patient, "erase")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["code"], "permission_denied");

    // The record is under retention: 20 years after the last encounter.
    let blocked = decide(&app, &owner, &patient, "erase").await;
    assert_eq!(blocked.status(), 409);
    let body: Value = blocked.json().await.unwrap();
    assert_eq!(body["code"], "erasure_under_retention");
    let until = DateTime::parse_from_rfc3339(&at(start))
        .unwrap()
        .with_timezone(&Utc)
        .checked_add_months(chrono::Months::new(240))
        .unwrap();
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains(&until.to_rfc3339()),
        "the detail says until when: {body}"
    );
    assert!(rows_of(&app, &patient).iter().any(|(_, n)| *n > 0));

    // Refused, then asked again.
    let refusal = decide(&app, &owner, &patient, "refuse").await;
    assert_eq!(refusal.status(), 200);
    let refusal: Value = refusal.json().await.unwrap();
    assert_eq!(refusal["state"], "refused");
    assert_eq!(decide(&app, &owner, &patient, "erase").await.status(), 409);
    assert_eq!(
        erasure(&app, &owner, &patient, "asked again in writing")
            .await
            .status(),
        201
    );

    // The clinic's retention is its own setting, within bounds.
    assert_eq!(set_retention(&app, &owner, 0).await.status(), 422);
    assert_eq!(set_retention(&app, &owner, 101).await.status(), 422);
    let set = set_retention(&app, &owner, 1).await;
    assert_eq!(set.status(), 200);
    let settings: Value = set.json().await.unwrap();
    assert_eq!(settings["record_retention_years"], 1);
    let blocked: Value = decide(&app, &owner, &patient, "erase")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        blocked["code"], "erasure_under_retention",
        "a year after the appointment"
    );

    app.clock.advance(Duration::days(3) + Duration::days(366));
    app.sign_in_again(&mut owner).await;
    app.clock.advance(Duration::minutes(11));
    let stale = decide(&app, &owner, &patient, "erase").await;
    assert_eq!(stale.status(), 403, "step-up");
    app.sign_in_again(&mut owner).await;
    let erased = decide(&app, &owner, &patient, "erase").await;
    assert_eq!(erased.status(), 200);
    let erased: Value = erased.json().await.unwrap();
    assert_eq!(erased["state"], "erased", "{erased}");
    assert_eq!(erased["reason"], Value::Null);

    // Nothing of the patient remains, anywhere; the other patient is untouched.
    let left: Vec<_> = rows_of(&app, &patient)
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .collect();
    assert!(
        left.is_empty(),
        "rows of the erased patient remain: {left:?}"
    );
    assert_eq!(rows_of(&app, &kept), kept_before);
    for needle in [
        "Quellerase",
        "Ysolde",
        phone,
        "asked at the desk",
        "asked again in writing",
    ] {
        assert_eq!(
            rows_holding(&app, needle),
            Vec::<String>::new(),
            "{needle} is still in the database"
        );
    }
    assert!(
        app.outbox(phone).is_empty(),
        "the reminder went with the patient"
    );
    assert_eq!(
        app.get_as(&owner.access, &format!("/api/v1/patients/{patient}"))
            .await
            .status(),
        404
    );

    // The tombstone: the request, who and when, no identity.
    let tombstone: Value = app
        .get_as(
            &owner.access,
            &format!("/api/v1/patients/{patient}/erasure"),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(tombstone["state"], "erased");
    assert_eq!(tombstone["patient_id"], patient.as_str());
    assert_eq!(tombstone["reason"], Value::Null);

    // The audit events that name the patient by id stay.
    let mut su = app.db.superuser();
    let named = diesel::sql_query("SELECT count(*) AS n FROM audit.events WHERE resource_id = $1")
        .bind::<SqlUuid, _>(uuid::Uuid::parse_str(&patient).unwrap())
        .get_result::<Count>(&mut su)
        .unwrap()
        .n;
    assert!(named >= 3, "the trail still names the patient: {named}");

    // The register's entry: signed, ids only, the rows per table.
    let entries: Vec<_> = std::fs::read_dir(app.register_dir())
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(entries.len(), 1);
    let name = entries[0].file_name().to_string_lossy().into_owned();
    assert!(name.contains("-patient_erased-"), "{name}");
    let entry = salus::register::read_signed(&entries[0].path()).unwrap();
    let trusted = salus::serve::audit_sealer(&app.config_with(&[]))
        .unwrap()
        .public_keys();
    assert_eq!(entry.verify(&trusted), Ok(()));
    let document = &entry.document;
    assert_eq!(document["kind"], "patient_erased");
    assert_eq!(document["patient_id"], patient.as_str());
    assert_eq!(document["request_id"], tombstone["request_id"]);
    let rows = |table: &str| {
        document["rows_deleted"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["table"] == table)
            .map_or(0, |r| r["rows"].as_i64().unwrap())
    };
    for (table, n) in before.iter().filter(|(_, n)| *n > 0) {
        assert_eq!(rows(table), *n, "{table} in the entry");
    }
    assert_eq!(rows("outbox"), 1, "the reminder's message");
    let text = String::from_utf8(std::fs::read(entries[0].path()).unwrap()).unwrap();
    assert!(!text.contains("Quellerase") && !text.contains("1961-04-09"));
}

#[tokio::test]
async fn the_erasure_function_refuses_a_patient_without_an_erase_decision() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Harbour Clinic").await;
    let patient = app
        .patient(
            &owner,
            json!({"family_name": "Staying", "given_name": "Sam", "birth_date": "1980-01-01", "sex": "male"}),
        )
        .await
        .id;
    let clinic = app.me(&owner).await["clinic"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(erasure(&app, &owner, &patient, "asked").await.status(), 201);
    let mut api = PgConnection::establish(&app.db.api_url()).unwrap();
    let called = diesel::sql_query(format!(
        "SELECT count(*) AS n FROM public.salus_erase_patient('{clinic}', '{patient}')"
    ))
    .get_result::<Count>(&mut api);
    let error = called.err().expect("refused").to_string();
    assert!(error.contains("no erasure decided"), "{error}");
    assert_eq!(
        rows_of(&app, &patient)
            .iter()
            .find(|(t, _)| t == "public.patients")
            .unwrap()
            .1,
        1
    );
}

/// The register entry is written before the erasure's transaction commits (it
/// must be out of the database's reach first); when the commit fails, the entry
/// is withdrawn, so no restore applies an erasure that did not happen.
#[tokio::test]
async fn an_erasure_whose_commit_fails_leaves_no_register_entry() {
    use diesel::connection::SimpleConnection;
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Failing Commit Clinic").await;
    let patient = app
        .patient(
            &owner,
            json!({"family_name": "Uncommitted", "given_name": "Una", "birth_date": "1950-02-03", "sex": "female"}),
        )
        .await
        .id;
    assert_eq!(
        erasure(&app, &owner, &patient, "asked in writing")
            .await
            .status(),
        201
    );
    let entries = |app: &TestApp| -> Vec<String> {
        std::fs::read_dir(app.register_dir())
            .map(|dir| {
                dir.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.ends_with(".json") && n.contains("patient_erased"))
                    .collect()
            })
            .unwrap_or_default()
    };
    // The commit fails: a deferred check refuses the tombstone at commit time.
    let mut su = app.db.superuser();
    su.batch_execute(
        "CREATE FUNCTION refuse_at_commit() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN RAISE EXCEPTION 'refused at commit'; END $$; \
         CREATE CONSTRAINT TRIGGER refuse_at_commit AFTER INSERT ON patient_tombstones \
         DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_at_commit();",
    )
    .unwrap();
    let failed = decide(&app, &owner, &patient, "erase").await;
    assert!(failed.status().is_server_error(), "{}", failed.status());
    assert_eq!(
        entries(&app),
        Vec::<String>::new(),
        "the entry was withdrawn"
    );
    assert!(
        rows_of(&app, &patient)
            .iter()
            .any(|(t, n)| t == "public.patients" && *n == 1),
        "the patient is still there"
    );

    su.batch_execute("DROP TRIGGER refuse_at_commit ON patient_tombstones;")
        .unwrap();
    assert_eq!(decide(&app, &owner, &patient, "erase").await.status(), 200);
    assert_eq!(entries(&app).len(), 1, "{:?}", entries(&app));
}
