//! Row-level security on every tenant table of every schema, found in the
//! catalogue (every table with a `clinic_id` column, and `clinics` itself): each
//! has RLS enabled and forced and exactly one policy whose `USING` and `WITH
//! CHECK` are the expressions declared here; and, as the API role with
//! `app.clinic_id` set to clinic A, none of clinic B's rows can be read, updated
//! or copied in under clinic B's id.

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text, Uuid as SqlUuid};
use salus_tests::TestApp;
use salus_tests::contract::document;
use salus_tests::identity::{Member, PASSWORD};
use serde_json::{Value, json};

const IN_CLINIC: &str =
    "(clinic_id = (NULLIF(current_setting('app.clinic_id'::text, true), ''::text))::uuid)";
const OF_ACCOUNT: &str =
    "(account_id = (NULLIF(current_setting('app.account_id'::text, true), ''::text))::uuid)";
const NO_CLINIC: &str = "(clinic_id IS NULL)";
const AUDIT_ROLE: &str = "(CURRENT_USER = 'salus_audit'::name)";
const NO_SETTING: &str = "(NULLIF(current_setting('app.clinic_id'::text, true), ''::text) IS NULL)";
const CLINIC_ID: &str =
    "(id = (NULLIF(current_setting('app.clinic_id'::text, true), ''::text))::uuid)";

/// The exact `USING` and `WITH CHECK` of a table's policy, as PostgreSQL prints them.
fn expected_policy(table: &str) -> (String, String) {
    let any = |parts: &[&str]| format!("({})", parts.join(" OR "));
    match table {
        "audit.checkpoints" => {
            let both = any(&[AUDIT_ROLE, IN_CLINIC, NO_CLINIC]);
            (both.clone(), both)
        }
        "audit.events" => (
            any(&[AUDIT_ROLE, IN_CLINIC, NO_CLINIC]),
            any(&[IN_CLINIC, NO_CLINIC]),
        ),
        "public.clinic_closures"
        | "public.clinic_exports"
        | "public.incident_clinics"
        | "public.incident_evidence"
        | "public.service_accounts"
        | "public.webhook_deliveries" => {
            let both = any(&[IN_CLINIC, NO_SETTING]);
            (both.clone(), both)
        }
        "public.audit_chain_heads" => {
            let both = any(&[NO_CLINIC, IN_CLINIC, NO_SETTING]);
            (both.clone(), both)
        }
        "public.clinics" => (
            format!(
                "({CLINIC_ID} OR (id IN ( SELECT m.clinic_id\n   FROM memberships m\n  WHERE (m.{})))",
                OF_ACCOUNT.trim_start_matches('(')
            ),
            CLINIC_ID.to_owned(),
        ),
        "public.memberships" => (any(&[IN_CLINIC, OF_ACCOUNT]), IN_CLINIC.to_owned()),
        "public.security_alerts" => {
            let both = any(&[IN_CLINIC, NO_CLINIC]);
            (both.clone(), both)
        }
        "public.sessions" => {
            let both = any(&[IN_CLINIC, OF_ACCOUNT]);
            (both.clone(), both)
        }
        _ => (IN_CLINIC.to_owned(), IN_CLINIC.to_owned()),
    }
}

#[derive(QueryableByName, Debug)]
struct TenantTable {
    /// `schema.table`.
    #[diesel(sql_type = Text)]
    name: String,
    /// The column that holds the clinic.
    #[diesel(sql_type = Text)]
    column: String,
    #[diesel(sql_type = Bool)]
    enabled: bool,
    #[diesel(sql_type = Bool)]
    forced: bool,
}

/// Every table of every non-system schema with a `clinic_id` column, and `clinics`.
fn tenant_tables(conn: &mut PgConnection) -> Vec<TenantTable> {
    diesel::sql_query(
        "SELECT format('%s.%s', n.nspname, c.relname) AS name,
                CASE WHEN c.oid = 'public.clinics'::regclass THEN 'id' ELSE 'clinic_id' END AS column,
                c.relrowsecurity AS enabled, c.relforcerowsecurity AS forced
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind IN ('r', 'p')
            AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
            AND (c.oid = 'public.clinics'::regclass
                 OR EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                              AND a.attname = 'clinic_id' AND NOT a.attisdropped))
          ORDER BY 1",
    )
    .load(conn)
    .unwrap()
}

#[derive(QueryableByName, Debug, PartialEq)]
struct Policy {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    command: String,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    roles: String,
    #[diesel(sql_type = Text)]
    using: String,
    #[diesel(sql_type = Text)]
    check: String,
}

#[test]
fn every_tenant_table_forces_rls_under_exactly_its_declared_policy() {
    let db = salus_tests::TestDb::migrated();
    let mut conn = db.superuser();
    let tables = tenant_tables(&mut conn);
    let schemas: std::collections::BTreeSet<&str> = tables
        .iter()
        .filter_map(|t| t.name.split('.').next())
        .collect();
    assert!(
        schemas.contains("audit") && tables.len() >= 20,
        "{tables:?}"
    );
    for table in &tables {
        assert!(table.enabled, "{}: row-level security is off", table.name);
        assert!(
            table.forced,
            "{}: row-level security is not forced",
            table.name
        );
        let policies: Vec<Policy> = diesel::sql_query(
            "SELECT policyname::text AS name, cmd AS command, permissive AS kind,
                    roles::text AS roles, coalesce(qual, '') AS using, coalesce(with_check, '') AS check
               FROM pg_policies WHERE format('%s.%s', schemaname, tablename) = $1",
        )
        .bind::<Text, _>(&table.name)
        .load(&mut conn)
        .unwrap();
        let (using, check) = expected_policy(&table.name);
        let expected = Policy {
            name: "clinic_isolation".into(),
            command: "ALL".into(),
            kind: "PERMISSIVE".into(),
            roles: "{public}".into(),
            using,
            check,
        };
        assert_eq!(policies, vec![expected], "{}", table.name);
    }
}

/// Clinic B with at least one row in every tenant table, made through the API
/// (and the audit job, for checkpoints and alerts).
async fn clinic_with_rows_everywhere(app: &TestApp, b: &Member) {
    let clinic = app.me(b).await["clinic"]["id"].as_str().unwrap().to_owned();
    app.set_plan(&clinic, "business");
    // A webhook endpoint, subscribed before the patient below is made (its
    // delivery waits in the outbox).
    let endpoint =
        json!({"url": "https://hooks.partner.example/b", "event_types": ["patient.created"]});
    let endpoint = app
        .post_json_as(&b.access, "/api/v1/webhook-endpoints", &endpoint)
        .await;
    assert_eq!(endpoint.status(), 201);
    let service_account = json!({"name": "B's lab", "permissions": ["patients.read"]});
    let service_account = app
        .post_json_as(&b.access, "/api/v1/service-accounts", &service_account)
        .await;
    assert_eq!(service_account.status(), 201);
    let doc = document();
    let example = |schema: &str| doc["components"]["schemas"][schema]["examples"][0].clone();
    let patient = app.patient(b, example("PatientRequest")).await.id;
    let idempotent = app
        .post("/api/v1/patients")
        .bearer_auth(&b.access)
        .header("Idempotency-Key", "b-only")
        .json(&json!({"family_name": "Keyed", "given_name": "K", "birth_date": "1990-01-01", "sex": "other"}))
        .send()
        .await
        .unwrap();
    assert_eq!(idempotent.status(), 201);
    let practitioner = app.practitioner(b).await;
    app.booking(
        b,
        json!({"patient_id": patient, "practitioner_id": practitioner,
                         "starts_at": "2031-01-06T09:00:00Z", "ends_at": "2031-01-06T09:30:00Z"}),
    )
    .await;
    let path = format!("{}/api/v1/practitioners/{practitioner}/hours", app.url);
    let hours = app
        .client
        .put(path)
        .header("if-match", "*")
        .bearer_auth(&b.access);
    let hours = hours.json(&example("HoursRequest")).send().await.unwrap();
    assert!(
        hours.status().is_success(),
        "{}",
        hours.text().await.unwrap()
    );
    let absence = format!("/api/v1/practitioners/{practitioner}/absences");
    let absence = app
        .post_json_as(&b.access, &absence, &example("AbsenceRequest"))
        .await;
    assert!(
        absence.status().is_success(),
        "{}",
        absence.text().await.unwrap()
    );
    app.note(b, &patient, "B only").await;
    app.queue_entry(b, &patient).await;
    let nurse = app.join_as(b, "nurse").await;
    let nurse = app.me(&nurse).await["membership_id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.clock.advance(chrono::Duration::seconds(30));
    let code = app.totp_code(b.otpauth.as_deref().unwrap(), 0);
    let step_up = app
        .post_json_as(&b.access, "/api/v1/auth/step-up", &json!({"code": code}))
        .await;
    assert_eq!(step_up.status(), 204);
    // An erasure request waiting, and an erased patient's tombstone.
    let request = json!({"reason": "B only"});
    let erasure = format!("/api/v1/patients/{patient}/erasure");
    let asked = app.post_json_as(&b.access, &erasure, &request).await;
    assert_eq!(asked.status(), 201);
    let gone = json!({"family_name": "Gone", "given_name": "G", "birth_date": "1990-01-01", "sex": "other"});
    let gone = app.patient(b, gone).await.id;
    let erasure = format!("/api/v1/patients/{gone}/erasure");
    let asked = app.post_json_as(&b.access, &erasure, &request).await;
    assert_eq!(asked.status(), 201);
    let decision = json!({"decision": "erase", "reason": "B only"});
    let erased = app
        .post_json_as(&b.access, &format!("{erasure}/decision"), &decision)
        .await;
    assert_eq!(erased.status(), 200, "{}", erased.text().await.unwrap());
    let role = json!({"name": "B", "permissions": ["staff.read"]});
    let role = app.post_json_as(&b.access, "/api/v1/roles", &role).await;
    let role: Value = role.json().await.unwrap();
    for (path, body) in [
        ("custom-roles", json!({"role_ids": [role["id"]]})),
        ("overrides", json!({"grants": ["staff.read"], "denies": []})),
    ] {
        let url = format!("{}/api/v1/staff/{nurse}/{path}", app.url);
        let put = app
            .client
            .put(url)
            .header("if-match", "*")
            .bearer_auth(&b.access);
        let put = put.json(&body).send().await.unwrap();
        assert!(
            put.status().is_success(),
            "{path}: {}",
            put.text().await.unwrap()
        );
    }
    let invite = json!({"email": salus_tests::identity::unique_email("bx"), "role": "nurse"});
    assert_eq!(
        app.post_json_as(&b.access, "/api/v1/invitations", &invite)
            .await
            .status(),
        201
    );
    let export = json!({"encryption": "passphrase"});
    let export = app
        .post_json_as(&b.access, "/api/v1/clinic/exports", &export)
        .await;
    assert_eq!(export.status(), 201);
    let closure = app.post("/api/v1/clinic/closure").bearer_auth(&b.access);
    assert_eq!(closure.send().await.unwrap().status(), 201);
    // An incident affecting B, with its evidence.
    let (_, operator) = app
        .operator(
            "rls@ops.example",
            salus_domain::ports::operators::OperatorRole::IncidentManager,
        )
        .await;
    let declare = json!({"title": "B only", "severity": "P3", "clinic_ids": [clinic],
                         "personal_data": "none", "text": "B only"});
    let incident = app
        .post_json_as(&operator, "/api/v1/platform/incidents", &declare)
        .await;
    assert_eq!(incident.status(), 201);
    let incident: Value = incident.json().await.unwrap();
    let evidence = format!(
        "/api/v1/platform/incidents/{}/evidence",
        incident["id"].as_str().unwrap()
    );
    let evidence = app.post_json_as(&operator, &evidence, &json!({})).await;
    assert_eq!(evidence.status(), 200, "{}", evidence.text().await.unwrap());
    // An MFA challenge, then probing for ids the audit job turns into an alert.
    assert_eq!(app.login(&b.email, PASSWORD).await.status(), 200);
    for _ in 0..20 {
        let probe = format!("/api/v1/patients/{}", uuid::Uuid::now_v7());
        assert_eq!(app.get_as(&b.access, &probe).await.status(), 404);
    }
    // A round now raises the alert; one after the chains fall due seals them.
    for wait in [0, 2] {
        app.clock.advance(chrono::Duration::hours(wait));
        let services = app.services();
        tokio::task::spawn_blocking(move || salus::audit_job::audit_round(&services))
            .await
            .unwrap()
            .unwrap();
    }
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    json: String,
}

/// Runs `sql` as the API role in a transaction scoped to `clinic`.
fn as_api_in(
    conn: &mut PgConnection,
    clinic: uuid::Uuid,
    run: impl FnOnce(&mut PgConnection) -> QueryResult<usize>,
) -> QueryResult<usize> {
    conn.transaction(|conn| {
        diesel::sql_query("SELECT set_config('app.clinic_id', $1, true)")
            .bind::<Text, _>(clinic.to_string())
            .execute(conn)?;
        run(conn)
    })
}

#[tokio::test]
async fn as_the_api_role_no_tenant_table_reads_updates_or_takes_rows_of_another_clinic() {
    let app = TestApp::spawn().await;
    let a = app.owner_with_mfa("Clinic A").await;
    let b = app.owner_with_mfa("Clinic B").await;
    let id = |me: Value| uuid::Uuid::parse_str(me["clinic"]["id"].as_str().unwrap()).unwrap();
    let (clinic_a, clinic_b) = (id(app.me(&a).await), id(app.me(&b).await));
    clinic_with_rows_everywhere(&app, &b).await;
    let mut su = app.db.superuser();
    let mut api = PgConnection::establish(&app.db.api_url()).unwrap();
    for table in tenant_tables(&mut su) {
        let (name, column) = (&table.name, &table.column);
        let row: Row = diesel::sql_query(format!(
            "SELECT row_to_json(t)::text AS json FROM {name} t WHERE {column} = $1 LIMIT 1"
        ))
        .bind::<SqlUuid, _>(clinic_b)
        .get_result(&mut su)
        .unwrap_or_else(|e| panic!("{name}: no row of clinic B to test with ({e}): add a fixture"));

        let seen = as_api_in(&mut api, clinic_a, |conn| {
            diesel::sql_query(format!(
                "SELECT count(*) AS n FROM {name} WHERE {column} = $1"
            ))
            .bind::<SqlUuid, _>(clinic_b)
            .get_result::<Count>(conn)
            .map(|c| usize::try_from(c.n).unwrap())
        });
        assert_eq!(seen, Ok(0), "{name}: clinic A reads clinic B's rows");

        let updated = as_api_in(&mut api, clinic_a, |conn| {
            diesel::sql_query(format!(
                "UPDATE {name} SET {column} = {column} WHERE {column} = $1"
            ))
            .bind::<SqlUuid, _>(clinic_b)
            .execute(conn)
        });
        match updated {
            Ok(n) => assert_eq!(n, 0, "{name}: clinic A updated clinic B's rows"),
            Err(e) => assert!(e.to_string().contains("permission denied"), "{name}: {e}"),
        }

        let inserted = as_api_in(&mut api, clinic_a, |conn| {
            diesel::sql_query(format!(
                "INSERT INTO {name} OVERRIDING SYSTEM VALUE SELECT * FROM json_populate_record(NULL::{name}, $1::json)"
            ))
            .bind::<Text, _>(&row.json)
            .execute(conn)
        });
        let error = inserted
            .err()
            .unwrap_or_else(|| panic!("{name}: clinic A inserted a row of clinic B"))
            .to_string();
        assert!(
            error.contains("row-level security") || error.contains("permission denied"),
            "{name}: refused for another reason: {error}"
        );
    }
}
