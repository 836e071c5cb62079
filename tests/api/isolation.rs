//! Clinic isolation in two independent layers, each proven on its own: the
//! application answers foreign ids like missing ones and lists nothing of another
//! clinic, and the database keys every tenant row on its clinic and keeps a pooled
//! connection's clinic to its transaction (row-level security: `rls.rs`).

use diesel::prelude::*;
use diesel::sql_types::Text;
use salus_domain::ids::ClinicId;
use salus_domain::store::{Scope, in_tx};
use salus_persistence::{PgStore, PoolSettings, build_pool};
use salus_tests::contract::operations;
use salus_tests::identity::Member;
use salus_tests::{TestApp, TestDb};
use secrecy::SecretString;
use serde_json::Value;

#[derive(QueryableByName, Debug)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

/// Tables of `public` with `clinic_id NOT NULL`, plus `clinics` itself.
fn tenant_tables(conn: &mut PgConnection) -> Vec<String> {
    diesel::sql_query(
        "SELECT c.relname::text AS name FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
           JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'clinic_id' AND a.attnotnull
          WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
          ORDER BY 1",
    )
    .load::<Name>(conn)
    .unwrap()
    .into_iter()
    .map(|n| n.name)
    .collect()
}

#[test]
fn every_tenant_table_keys_on_clinic_id() {
    let db = TestDb::migrated();
    let mut conn = db.superuser();
    let tables = tenant_tables(&mut conn);
    assert!(tables.len() >= 5, "{tables:?}");
    for table in &tables {
        let keys: Vec<Name> = diesel::sql_query(
            "SELECT con.conname::text AS name FROM pg_constraint con
              WHERE con.conrelid = $1::regclass AND con.contype IN ('p', 'u')
                AND NOT EXISTS (SELECT 1 FROM pg_attribute a
                                 WHERE a.attrelid = con.conrelid AND a.attnum = ANY (con.conkey)
                                   AND a.attname = 'clinic_id')",
        )
        .bind::<Text, _>(table)
        .load(&mut conn)
        .unwrap();
        assert!(keys.is_empty(), "{table}: keys without clinic_id: {keys:?}");

        let foreign: Vec<Name> = diesel::sql_query(
            "SELECT con.conname::text AS name FROM pg_constraint con
              WHERE con.conrelid = $1::regclass AND con.contype = 'f'
                AND con.confrelid IN (SELECT a.attrelid FROM pg_attribute a
                                       WHERE a.attname = 'clinic_id' AND a.attnotnull)
                AND NOT EXISTS (SELECT 1 FROM pg_attribute a
                                 WHERE a.attrelid = con.conrelid AND a.attnum = ANY (con.conkey)
                                   AND a.attname = 'clinic_id')",
        )
        .bind::<Text, _>(table)
        .load(&mut conn)
        .unwrap();
        assert!(
            foreign.is_empty(),
            "{table}: foreign keys into tenant tables without clinic_id: {foreign:?}"
        );
    }
}

#[test]
fn views_are_security_invoker_and_definer_functions_pin_search_path() {
    let db = TestDb::migrated();
    let mut conn = db.superuser();
    let views: Vec<Name> = diesel::sql_query(
        "SELECT c.relname::text AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'public' AND c.relkind = 'v'
            AND NOT coalesce(c.reloptions::text[] @> ARRAY['security_invoker=true'], false)",
    )
    .load(&mut conn)
    .unwrap();
    assert!(
        views.is_empty(),
        "views without security_invoker: {views:?}"
    );
    let definers: Vec<Name> = diesel::sql_query(
        "SELECT p.proname::text AS name FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
          WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND p.prosecdef
            AND NOT coalesce(p.proconfig::text[] @> ARRAY['search_path=pg_catalog'], false)
            AND NOT EXISTS (SELECT 1 FROM unnest(coalesce(p.proconfig, ARRAY[]::text[])) s WHERE s LIKE 'search_path=%')",
    )
    .load(&mut conn)
    .unwrap();
    assert!(
        definers.is_empty(),
        "SECURITY DEFINER functions without a pinned search_path: {definers:?}"
    );
}

async fn two_clinics(app: &TestApp) -> ((Member, Value), (Member, Value)) {
    let a = app.owner_with_mfa("Clinic A").await;
    let b = app.owner_with_mfa("Clinic B").await;
    let (me_a, me_b) = (app.me(&a).await, app.me(&b).await);
    ((a, me_a), (b, me_b))
}

#[tokio::test]
async fn one_pooled_connection_serving_a_then_b_never_shows_b_anything_of_a() {
    let app = TestApp::spawn().await;
    let ((_, me_a), (_, me_b)) = two_clinics(&app).await;
    let clinic =
        |me: &Value| ClinicId(uuid::Uuid::parse_str(me["clinic"]["id"].as_str().unwrap()).unwrap());
    let pool = build_pool(
        &SecretString::from(app.db.api_url()),
        PoolSettings {
            max_size: 1,
            statement_timeout_ms: 5000,
            checkout_timeout: std::time::Duration::from_secs(5),
        },
    );
    let store = PgStore::new(pool).unwrap();
    let members = |scope| {
        in_tx(&store, scope, |tx| {
            let clinic = match scope {
                Scope::Clinic(c) => c,
                _ => ClinicId(uuid::Uuid::nil()),
            };
            tx.members(clinic)
        })
        .unwrap()
    };
    // One connection serves each clinic in turn, then a transaction scoped to no
    // clinic asks for the members of the clinic it just served: a setting that
    // outlived its transaction would show them.
    let mut seen = Vec::new();
    for me in [&me_a, &me_b] {
        let served = members(Scope::Clinic(clinic(me)));
        assert_eq!(served.len(), 1, "the clinic sees its own member");
        seen.push(served[0].account_id);
        let after = in_tx(&store, Scope::Platform, |tx| tx.members(clinic(me))).unwrap();
        assert!(
            after.is_empty(),
            "the clinic setting outlived its transaction: {after:?}"
        );
    }
    assert_ne!(seen[0], seen[1]);
    let leaked = in_tx(&store, Scope::Clinic(clinic(&me_b)), |tx| {
        tx.members(clinic(&me_a))
    })
    .unwrap();
    assert!(
        leaked.is_empty(),
        "clinic B's transaction saw clinic A's members"
    );
}

#[tokio::test]
async fn foreign_ids_answer_like_missing_ones_on_every_operation_that_takes_an_id() {
    let app = TestApp::spawn().await;
    let ((a, _), (b, me_b)) = two_clinics(&app).await;
    // Clinic B's real ids, by the kind of resource a path names.
    let invite: Value = app
        .post("/api/v1/invitations")
        .bearer_auth(&b.access)
        .json(&serde_json::json!({"email": salus_tests::identity::unique_email("bx"), "role": "nurse"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // Both on the business plan, so no plan gate answers before the id lookup.
    let clinic_b = me_b["clinic"]["id"].as_str().unwrap().to_owned();
    app.set_plan(&clinic_b, "business");
    let clinic_a = app.me(&a).await["clinic"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.set_plan(&clinic_a, "business");
    let role_b: Value = app
        .post("/api/v1/roles")
        .bearer_auth(&b.access)
        .json(&serde_json::json!({"name": "B only", "permissions": ["staff.read"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let endpoint_b: Value = app
        .post("/api/v1/webhook-endpoints")
        .bearer_auth(&b.access)
        .json(&serde_json::json!({"url": "https://hooks.partner.example/b", "event_types": ["patient.created"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let service_account_b: Value = app
        .post_json_as(
            &b.access,
            "/api/v1/service-accounts",
            &serde_json::json!({"name": "B only", "permissions": ["patients.read"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let patient_b = app
        .patient(&b, serde_json::json!({"family_name": "Bee", "given_name": "Only", "birth_date": "1980-05-05", "sex": "female"}))
        .await
        .id;
    let b_member = app.practitioner(&b).await;
    let appointment_b = app
        .booking(&b, serde_json::json!({"patient_id": patient_b, "practitioner_id": b_member,
                                        "starts_at": "2031-01-01T09:00:00Z", "ends_at": "2031-01-01T09:30:00Z"}))
        .await;
    let entry_b = app.queue_entry(&b, &patient_b).await;
    let note_b = app.note(&b, &patient_b, "B only").await;
    let export_b: Value = app
        .post_json_as(
            &b.access,
            "/api/v1/clinic/exports",
            &serde_json::json!({"encryption": "passphrase"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let foreign_id = |path: &str| -> String {
        if path.starts_with("/api/v1/clinic/exports/") {
            export_b["id"]
                .as_str()
                .expect("clinic B's export")
                .to_owned()
        } else if path.starts_with("/api/v1/notes/") {
            note_b.clone()
        } else if path.starts_with("/api/v1/queue/") {
            entry_b.clone()
        } else if path.starts_with("/api/v1/appointments/") {
            appointment_b.clone()
        } else if path.starts_with("/api/v1/practitioners/") {
            b_member.clone()
        } else if path.starts_with("/api/v1/patients/") {
            patient_b.clone()
        } else if path.starts_with("/api/v1/roles/") {
            role_b["id"].as_str().unwrap().to_owned()
        } else if path.starts_with("/api/v1/invitations/") {
            invite["id"].as_str().unwrap().to_owned()
        } else if path.starts_with("/api/v1/staff/") {
            me_b["membership_id"].as_str().unwrap().to_owned()
        } else if path.starts_with("/api/v1/webhook-endpoints/") {
            endpoint_b["endpoint"]["id"]
                .as_str()
                .expect("clinic B's webhook endpoint")
                .to_owned()
        } else if path.starts_with("/api/v1/service-accounts/") {
            service_account_b["service_account"]["id"]
                .as_str()
                .expect("clinic B's service account")
                .to_owned()
        } else if path.starts_with("/api/v1/me/sessions/") {
            me_b["session_id"].as_str().unwrap().to_owned()
        } else {
            panic!("{path}: add the kind of id this path takes to the cross-clinic matrix")
        }
    };
    let strip = |mut v: Value| {
        if let Some(o) = v.as_object_mut() {
            o.remove("request_id");
        }
        v
    };
    // Operators belong to no clinic: their realm's isolation is
    // `operators::no_operator_operation_shows_a_patient_row_or_field`.
    for op in operations()
        .iter()
        .filter(|o| o.takes_id() && !o.public && !o.path.starts_with("/api/v1/platform/"))
    {
        let send = |id: String| {
            let method = reqwest::Method::from_bytes(op.method.as_bytes()).unwrap();
            let mut request = app
                .client
                .request(method, format!("{}{}", app.url, op.path_with(&id)))
                .bearer_auth(&a.access)
                // a well-formed precondition, so updates reach the id lookup
                .header("if-match", "\"v1\"");
            if let Some(schema) = &op.body {
                request = request.json(&salus_tests::contract::example(schema));
            }
            request.send()
        };
        let random = send(uuid::Uuid::now_v7().to_string()).await.unwrap();
        let foreign = send(foreign_id(&op.path)).await.unwrap();
        let (random_status, foreign_status) = (random.status(), foreign.status());
        let random_body: Value = random.json().await.unwrap();
        let foreign_body: Value = foreign.json().await.unwrap();
        assert_eq!(
            random_status,
            404,
            "{}: a random id: {random_body}",
            op.name()
        );
        assert_eq!(
            foreign_status,
            random_status,
            "{}: clinic B's id: {foreign_body}",
            op.name()
        );
        assert_eq!(strip(foreign_body), strip(random_body), "{}", op.name());
    }
    // B is untouched.
    assert_eq!(app.get_as(&b.access, "/api/v1/me").await.status(), 200);
}

#[tokio::test]
async fn no_list_contains_another_clinics_rows() {
    let app = TestApp::spawn().await;
    let ((a, _), (b, me_b)) = two_clinics(&app).await;
    let secrets = [
        me_b["clinic"]["id"].as_str().unwrap().to_owned(),
        me_b["membership_id"].as_str().unwrap().to_owned(),
        me_b["session_id"].as_str().unwrap().to_owned(),
        b.email.clone(),
    ];
    for op in operations()
        .iter()
        .filter(|o| o.method == "GET" && !o.takes_id() && !o.public)
    {
        let body = app.get_as(&a.access, &op.path).await.text().await.unwrap();
        for secret in &secrets {
            assert!(
                !body.contains(secret.as_str()),
                "{} shows clinic B's {secret}",
                op.name()
            );
        }
    }
}
