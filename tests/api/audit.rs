//! The audit trail: what is recorded, that nobody can change it, that tampering
//! is found, that retention purges only what it may, and the verifiable export.

use chrono::Duration;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use salus::audit_admin;
use salus_tests::TestApp;
use salus_tests::identity::Member;
use secrecy::SecretString;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

#[derive(QueryableByName, Debug)]
struct N {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn count(conn: &mut PgConnection, sql: &str) -> i64 {
    diesel::sql_query(sql).get_result::<N>(conn).unwrap().n
}

/// A new patient `family` with a medical history: its id.
async fn new_patient(app: &TestApp, who: &Member, family: &str) -> String {
    app.patient(
        who,
        json!({"family_name": family, "given_name": "Ada", "birth_date": "1985-12-10", "sex": "female",
               "medical_history": {"allergies": ["penicillin"], "conditions": [], "medications": [], "notes": "QUIET-HISTORY"}}),
    )
    .await
    .id
}

async fn events(app: &TestApp, who: &Member, query: &str) -> Vec<Value> {
    let page = app
        .get_as(&who.access, &format!("/api/v1/audit-events?{query}"))
        .await;
    assert_eq!(page.status(), 200);
    let body: Value = page.json().await.unwrap();
    body["items"].as_array().unwrap().clone()
}

/// The action codes of a page of events, in its order.
fn actions(page: &Value) -> Vec<&str> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect()
}

#[derive(QueryableByName)]
struct Chain {
    #[diesel(sql_type = Text)]
    chain: String,
}

/// The longest clinic chain.
fn clinic_chain(su: &mut PgConnection) -> String {
    diesel::sql_query(
        "SELECT chain_id::text AS chain FROM audit.events WHERE clinic_id IS NOT NULL
          GROUP BY chain_id ORDER BY count(*) DESC LIMIT 1",
    )
    .get_result::<Chain>(su)
    .unwrap()
    .chain
}

/// Every chain verified, once every event waiting for its position has one.
fn verify(app: &TestApp) -> Vec<salus_domain::audit::verify::ChainReport> {
    app.services().audit.sequence_everything().unwrap();
    let owner = SecretString::from(app.db.owner_url());
    audit_admin::verify(
        &owner,
        app.services().audit.sealer(),
        None,
        &mut |_, _, _| {},
    )
    .unwrap()
}

fn first_break(app: &TestApp) -> Option<(i64, String)> {
    verify(app)
        .into_iter()
        .find_map(|r| r.broken.map(|b| (b.seq, b.reason)))
}

/// A request for an id that names nothing in the clinic (a 404 on an `{id}`
/// route) is recorded as `access.not_found`, with the caller, the method and
/// the route template (never the id asked for): many of them are how probing
/// for other clinics' ids shows.
#[tokio::test]
async fn a_request_for_an_id_that_names_nothing_is_recorded_as_access_not_found() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Probe Clinic").await;
    let missing = uuid::Uuid::now_v7();
    let answer = app
        .get_as(&owner.access, &format!("/api/v1/patients/{missing}"))
        .await;
    assert_eq!(answer.status(), 404);
    let probes = events(&app, &owner, "action=access.not_found").await;
    assert_eq!(probes.len(), 1, "{probes:?}");
    assert_eq!(probes[0]["outcome"], "failure");
    assert_eq!(probes[0]["details"]["method"], "GET");
    assert_eq!(probes[0]["details"]["route"], "/api/v1/patients/{id}");
    let me: Value = app.me(&owner).await;
    assert_eq!(probes[0]["account_id"], me["account_id"], "{me}");
    assert!(
        !probes[0].to_string().contains(&missing.to_string()),
        "the id asked for is kept: {}",
        probes[0]
    );
}

#[tokio::test]
async fn actions_refusals_and_clinical_reads_are_recorded_with_their_actor() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Harbour Clinic").await;
    let receptionist = app.join_as(&owner, "receptionist").await;
    let patient = new_patient(&app, &owner, "Lovelace").await;

    let refused = app
        .get_as(&receptionist.access, "/api/v1/audit-events")
        .await;
    assert_eq!(refused.status(), 403);
    let denied = events(&app, &owner, "action=access.denied&outcome=denied").await;
    assert_eq!(denied.len(), 1, "{denied:?}");
    assert_eq!(denied[0]["details"]["permission"], "audit.read");
    assert_eq!(denied[0]["details"]["route"], "/api/v1/audit-events");
    let me: Value = app.me(&receptionist).await;
    assert_eq!(denied[0]["account_id"], me["account_id"], "{me}");
    assert!(
        denied[0]["request_id"]
            .as_str()
            .is_some_and(|r| !r.is_empty())
    );

    // A receptionist's read shows no clinical data, so it is no clinical read;
    // it shows identifying data, so it is recorded all the same (reads and lists).
    let read = app
        .get_as(&receptionist.access, &format!("/api/v1/patients/{patient}"))
        .await;
    assert_eq!(read.status(), 200);
    assert!(
        events(&app, &owner, "action=patient.clinical_read")
            .await
            .is_empty()
    );
    let identifying = events(&app, &owner, "action=patient.read").await;
    assert_eq!(identifying.len(), 1, "{identifying:?}");
    assert_eq!(identifying[0]["resource_id"], patient.as_str());
    let listed = app
        .get_as(&receptionist.access, "/api/v1/patients?name=Love")
        .await;
    assert_eq!(listed.status(), 200);
    let read = app
        .get_as(&owner.access, &format!("/api/v1/patients/{patient}"))
        .await;
    assert_eq!(read.status(), 200);
    let reads = events(&app, &owner, "action=patient.clinical_read").await;
    assert_eq!(reads.len(), 1);
    assert_eq!(reads[0]["resource_id"], patient.as_str());

    let created = events(
        &app,
        &owner,
        &format!("resource_id={patient}&action=patient.created"),
    )
    .await;
    assert_eq!(created.len(), 1);
    assert_eq!(created[0]["outcome"], "success");

    // The patient's access log holds the change, the read and the list that showed it.
    let list = app
        .get_as(&owner.access, "/api/v1/patients?name=Love")
        .await;
    assert_eq!(list.status(), 200);
    let log: Value = app
        .get_as(
            &owner.access,
            &format!("/api/v1/patients/{patient}/access-log"),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        actions(&log),
        [
            "patient.list_clinical_read",
            "patient.clinical_read",
            "patient.list_read",
            "patient.read",
            "patient.created"
        ]
    );
    assert_eq!(
        app.get_as(
            &receptionist.access,
            &format!("/api/v1/patients/{patient}/access-log")
        )
        .await
        .status(),
        403
    );
}

#[tokio::test]
async fn a_member_sees_their_own_sign_ins_and_failures() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Harbour Clinic").await;
    // Events of different chains are ordered by time: let the failure come later.
    app.clock.advance(Duration::seconds(1));
    let wrong = app.login(&owner.email, "not the password at all").await;
    assert_eq!(wrong.status(), 401);
    let body: Value = app
        .get_as(&owner.access, "/api/v1/me/sign-ins")
        .await
        .json()
        .await
        .unwrap();
    let actions = actions(&body);
    assert_eq!(actions.first(), Some(&"auth.login_failed"), "{body}");
    assert!(actions.contains(&"auth.login_succeeded"), "{body}");
    let failure = &body["items"][0];
    assert_eq!(failure["outcome"], "failure");
    assert_eq!(failure["details"]["reason"], "wrong_password");
    let stranger = app
        .login("nobody@clinic.test", "not the password at all")
        .await;
    assert_eq!(stranger.status(), 401);
    assert_eq!(
        count(
            &mut app.db.superuser(),
            "SELECT count(*) AS n FROM audit.events WHERE action = 'auth.login_failed'
               AND account_id IS NULL AND details = '{\"reason\":\"unknown_account\"}'"
        ),
        1,
        "a failed sign-in for an unknown email is recorded, without the email"
    );
    assert!(
        !failure.to_string().contains("not the password"),
        "no password in the trail"
    );
}

#[tokio::test]
async fn nobody_changes_the_trail_not_the_api_role_nor_the_owner_role() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Harbour Clinic").await;
    new_patient(&app, &owner, "Lovelace").await;
    app.services().audit.sequence_everything().unwrap();
    let mut api = PgConnection::establish(&app.db.api_url()).unwrap();
    for sql in [
        "UPDATE audit.events SET action = 'nothing'",
        "DELETE FROM audit.events",
        "TRUNCATE audit.events",
        "UPDATE audit.checkpoints SET seq = 1",
        // The chain columns only take a first position, never another.
        "UPDATE audit.events SET seq = seq + 1000",
        "UPDATE audit.events SET hash = prev_hash",
    ] {
        let refused = diesel::sql_query(sql).execute(&mut api);
        assert!(refused.is_err(), "the API role could run: {sql}");
    }
    // Nor can it purge recent events, even of its own clinic's chain.
    let mut su = app.db.superuser();
    let chain = clinic_chain(&mut su);
    diesel::sql_query("SELECT set_config('app.clinic_id', $1, false)")
        .bind::<Text, _>(&chain)
        .execute(&mut api)
        .unwrap();
    assert!(
        count(
            &mut api,
            &format!("SELECT count(*) AS n FROM audit.events WHERE chain_id = '{chain}'")
        ) > 0
    );
    let purge =
        diesel::sql_query(format!("SELECT audit.purge_through('{chain}', 1)")).execute(&mut api);
    assert!(purge.is_err(), "recent events cannot be purged");

    // Even the audit schema's owner cannot rewrite events: the triggers refuse.
    let mut owner_conn = PgConnection::establish(&app.db.owner_url()).unwrap();
    diesel::sql_query("SET ROLE salus_audit")
        .execute(&mut owner_conn)
        .unwrap();
    for sql in [
        "UPDATE audit.events SET action = 'nothing'",
        "DELETE FROM audit.events",
        "TRUNCATE audit.events",
        "UPDATE audit.events SET seq = NULL, prev_hash = NULL, hash = NULL",
    ] {
        let refused = diesel::sql_query(sql).execute(&mut owner_conn);
        let message = refused.expect_err(sql).to_string();
        assert!(message.contains("append-only"), "{sql}: {message}");
    }
    assert!(count(&mut su, "SELECT count(*) AS n FROM audit.events") >= 4);
}

#[tokio::test]
async fn an_action_fails_when_its_audit_event_cannot_be_written() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Harbour Clinic").await;
    let mut su = app.db.superuser();
    diesel::sql_query("REVOKE INSERT ON audit.events FROM salus_api")
        .execute(&mut su)
        .unwrap();
    let created = app
        .post("/api/v1/patients")
        .bearer_auth(&owner.access)
        .json(&json!({"family_name": "Lovelace", "given_name": "Ada", "birth_date": "1985-12-10", "sex": "female"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 500);
    assert_eq!(count(&mut su, "SELECT count(*) AS n FROM patients"), 0);
    diesel::sql_query("GRANT INSERT ON audit.events TO salus_api")
        .execute(&mut su)
        .unwrap();
}

#[tokio::test]
async fn concurrent_appends_and_sequencers_give_every_event_one_position_and_verify() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Harbour Clinic").await;
    let mut su = app.db.superuser();
    let before = count(
        &mut su,
        "SELECT count(*) AS n FROM audit.events WHERE clinic_id IS NOT NULL",
    );
    let names: Vec<String> = (0..24).map(|i| format!("Parallel{i}")).collect();
    futures_util::future::join_all(names.iter().map(|n| new_patient(&app, &owner, n))).await;
    // Two sequencers (two nodes) at once, while the server's own may run too.
    let rounds: Vec<_> = (0..2)
        .map(|_| {
            let services = app.services();
            tokio::task::spawn_blocking(move || services.audit.sequence_waiting())
        })
        .collect();
    for round in rounds {
        round.await.unwrap().unwrap();
    }
    app.services().audit.sequence_everything().unwrap();

    let chain = clinic_chain(&mut su);
    let positions = count(
        &mut su,
        &format!(
            "SELECT count(DISTINCT seq) AS n FROM audit.events
              WHERE chain_id = '{chain}' AND action = 'patient.created'"
        ),
    );
    assert_eq!(positions, 24, "each append took its own position");
    let after = count(
        &mut su,
        &format!("SELECT max(seq) AS n FROM audit.events WHERE chain_id = '{chain}'"),
    );
    assert!(after >= before + 24, "{before} -> {after}");
    let reports = verify(&app);
    assert!(
        reports.iter().all(|r| r.broken.is_none() && r.events > 0),
        "gapless and linked: {reports:?}"
    );
}

#[tokio::test]
async fn verify_finds_an_edit_a_deletion_a_reordering_and_a_lost_tail() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Harbour Clinic").await;
    for name in ["Lovelace", "Hopper", "Curie", "Noether"] {
        new_patient(&app, &owner, name).await;
    }
    assert!(
        verify(&app)
            .iter()
            .all(|r| r.broken.is_none() && r.events > 0)
    );
    let mut su = app.db.superuser();
    diesel::sql_query("SET session_replication_role = replica")
        .execute(&mut su)
        .unwrap();
    let chain = clinic_chain(&mut su);
    let run = |su: &mut PgConnection, sql: &str| {
        diesel::sql_query(sql.replace("$chain", &chain))
            .execute(su)
            .unwrap();
    };

    run(
        &mut su,
        "UPDATE audit.events SET details = '{\"quiet\":1}' WHERE chain_id = '$chain' AND seq = 3",
    );
    let (seq, reason) = first_break(&app).expect("an edit is found");
    assert_eq!(seq, 3, "{reason}");
    assert!(reason.contains("altered"), "{reason}");
    run(
        &mut su,
        "UPDATE audit.events SET details = '{}' WHERE chain_id = '$chain' AND seq = 3",
    );
    assert_eq!(first_break(&app), None, "restored");

    run(
        &mut su,
        "CREATE TEMP TABLE kept AS SELECT * FROM audit.events WHERE chain_id = '$chain' AND seq = 2",
    );
    run(
        &mut su,
        "DELETE FROM audit.events WHERE chain_id = '$chain' AND seq = 2",
    );
    let (seq, reason) = first_break(&app).expect("a deletion is found");
    assert_eq!(seq, 3, "{reason}");
    assert!(reason.contains("missing"), "{reason}");
    run(&mut su, "INSERT INTO audit.events SELECT * FROM kept");

    run(
        &mut su,
        "UPDATE audit.events SET seq = seq + 1000000 WHERE chain_id = '$chain' AND seq IN (2, 3)",
    );
    run(
        &mut su,
        "UPDATE audit.events SET seq = CASE seq WHEN 1000002 THEN 3 ELSE 2 END WHERE chain_id = '$chain' AND seq > 1000000",
    );
    let (seq, reason) = first_break(&app).expect("a reordering is found");
    assert_eq!(seq, 2, "{reason}");
    run(
        &mut su,
        "UPDATE audit.events SET seq = seq + 1000000 WHERE chain_id = '$chain' AND seq IN (2, 3)",
    );
    run(
        &mut su,
        "UPDATE audit.events SET seq = CASE seq WHEN 1000002 THEN 3 ELSE 2 END WHERE chain_id = '$chain' AND seq > 1000000",
    );
    assert_eq!(first_break(&app), None, "restored");

    run(
        &mut su,
        "DELETE FROM audit.events WHERE chain_id = '$chain' AND seq = (SELECT max(seq) FROM audit.events WHERE chain_id = '$chain')",
    );
    let (_, reason) = first_break(&app).expect("a lost tail is found");
    assert!(reason.contains("last events are missing"), "{reason}");
}

#[tokio::test]
async fn retention_purges_only_events_past_twelve_months_and_the_rest_still_verifies() {
    let app = TestApp::spawn().await;
    app.clock.advance(-Duration::days(400));
    let owner = app.owner_with_mfa("Harbour Clinic").await;
    new_patient(&app, &owner, "Lovelace").await;
    app.clock.advance(Duration::days(400));
    let fresh = app.owner_with_mfa("Harbour Clinic").await;
    new_patient(&app, &fresh, "Hopper").await;
    let mut su = app.db.superuser();
    // The round also records the secrets in use for the first time (recent
    // events of the platform chain): counted apart.
    let others = "SELECT count(*) AS n FROM audit.events WHERE action <> 'secret.first_seen'";
    let before = count(&mut su, others);

    app.clock.advance(Duration::hours(2));
    let services = app.services();
    let round = tokio::task::spawn_blocking(move || salus::audit_job::audit_round(&services))
        .await
        .unwrap()
        .unwrap();
    assert!(round.purged > 0, "{round:?}");
    let old = count(
        &mut su,
        "SELECT count(*) AS n FROM audit.events WHERE occurred_at < now() - interval '12 months'",
    );
    assert_eq!(old, 0, "every event past retention is gone");
    let after = count(&mut su, others);
    assert_eq!(after, before - round.purged);
    assert!(after > 0, "recent events are kept");
    assert_eq!(
        first_break(&app),
        None,
        "checkpoints keep the rest verifiable"
    );
    assert!(count(&mut su, "SELECT count(*) AS n FROM audit.checkpoints") > 0);

    // What remains is recent: the purge function refuses it, whoever asks.
    let chain = clinic_chain(&mut su);
    let purge = diesel::sql_query(format!(
        "SELECT audit.purge_through('{chain}', (SELECT min(seq) FROM audit.events WHERE chain_id = '{chain}'))"
    ))
    .execute(&mut su);
    assert!(purge.is_err(), "recent events cannot be purged");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Verifies an NDJSON export the way a clinic would offline: each line without
/// its last two members is the hashed encoding.
fn verify_export(text: &str) -> usize {
    let mut lines = text.lines();
    let header: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert!(
        header["export"]["public_keys"]
            .as_object()
            .is_some_and(|k| !k.is_empty())
    );
    let mut prev = hex(&[0; 32]);
    let mut n = 0;
    for line in lines {
        let at = line.rfind(",\"prev_hash\":").unwrap();
        let encoded = format!("{}}}", &line[..at]);
        let fields: Value = serde_json::from_str(line).unwrap();
        assert_eq!(fields["prev_hash"], prev.as_str(), "line {n}");
        let mut h = Sha256::new();
        h.update(
            (0..prev.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&prev[i..i + 2], 16).unwrap())
                .collect::<Vec<_>>(),
        );
        h.update(encoded.as_bytes());
        let hash = hex(&h.finalize());
        assert_eq!(fields["hash"], hash.as_str(), "line {n}");
        prev = hash;
        n += 1;
    }
    n
}

#[tokio::test]
async fn the_export_streams_a_history_that_verifies_offline() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Harbour Clinic").await;
    for name in ["Lovelace", "Hopper"] {
        new_patient(&app, &owner, name).await;
    }
    let response = app
        .get("/api/v1/audit-events/export")
        .bearer_auth(&owner.access)
        .header("accept", "application/x-ndjson")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    assert!(
        response.headers().get("content-length").is_none(),
        "streamed"
    );
    let text = response.text().await.unwrap();
    let exported = verify_export(&text);
    assert!(exported >= 3, "{text}");
    assert!(
        !text.contains("QUIET-HISTORY"),
        "no health data in the trail"
    );

    let mut tampered = text.replace("patient.created", "patient.deleted");
    tampered.push('\n');
    let caught = std::panic::catch_unwind(|| verify_export(&tampered));
    assert!(caught.is_err(), "the offline check catches an edit");

    let csv = app
        .get("/api/v1/audit-events/export")
        .bearer_auth(&owner.access)
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    let csv = csv.text().await.unwrap();
    assert!(csv.starts_with("chain_id,seq,id,"), "{csv}");
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let row: Vec<&str> = csv.lines().nth(1).unwrap().split(',').collect();
    assert_eq!(row.len(), header.len(), "{csv}");
    let column = |name: &str| row[header.iter().position(|h| *h == name).unwrap()];
    assert_eq!(column("seq"), "1", "columns follow the header: {csv}");
    assert!(column("action").contains('.'), "{csv}");
    assert_eq!(column("outcome"), "success", "{csv}");
    assert_eq!(
        csv.lines().count(),
        exported + 2,
        "header, events, and the export itself"
    );

    let xml = app
        .get("/api/v1/audit-events/export")
        .bearer_auth(&owner.access)
        .header("accept", "application/xml")
        .send()
        .await
        .unwrap();
    assert_eq!(xml.status(), 406);

    app.clock.advance(Duration::minutes(11));
    let stale = app
        .get("/api/v1/audit-events/export")
        .bearer_auth(&owner.access)
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 403);
    let body: Value = stale.json().await.unwrap();
    assert_eq!(body["code"], "step_up_required");
}

#[tokio::test]
async fn nodes_share_the_retention_job_without_taking_the_same_chain() {
    use salus_domain::ports::audit::AuditRepo;
    use salus_persistence::store::PgTx;
    let app = TestApp::spawn().await;
    for clinic in ["Harbour Clinic", "Hill Clinic"] {
        let owner = app.owner_with_mfa(clinic).await;
        new_patient(&app, &owner, "Lovelace").await;
    }
    let url = app.db.api_url();
    let later = salus_domain::Clock::now(app.clock.as_ref()) + Duration::hours(2);
    let claims = tokio::task::spawn_blocking(move || {
        let mut nodes: Vec<PgConnection> = (0..3)
            .map(|_| PgConnection::establish(&url).unwrap())
            .collect();
        for node in &mut nodes {
            // A claim that waited for another node's lock would fail, not hang.
            diesel::sql_query("SET lock_timeout = '2s'")
                .execute(node)
                .unwrap();
            diesel::sql_query("BEGIN").execute(node).unwrap();
        }
        // Each node holds its claim (its transaction stays open) while the next asks.
        let claims: Vec<Option<uuid::Uuid>> = nodes
            .iter_mut()
            .map(|conn| {
                let mut tx = PgTx::new(conn);
                tx.claim_chain_maintenance(later, later + Duration::hours(1))
                    .unwrap()
                    .map(|h| h.chain_id.0)
            })
            .collect();
        claims
    })
    .await
    .unwrap();
    assert!(claims[0].is_some() && claims[1].is_some(), "{claims:?}");
    assert_ne!(claims[0], claims[1], "two nodes never take the same chain");
    let chains = count(
        &mut app.db.superuser(),
        "SELECT count(*) AS n FROM audit_chain_heads",
    );
    let taken = claims.iter().flatten().count();
    assert_eq!(
        i64::try_from(taken).unwrap(),
        chains.min(3),
        "every due chain is taken by someone: {claims:?}"
    );
}
