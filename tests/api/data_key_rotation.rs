//! Clinic data-key rotation without downtime (promise E3): a new data key
//! version while members keep reading and writing; every sealed field moves to
//! it in batches; the old version is destroyed only when nothing can need it;
//! both steps audited in the clinic's chain. And the list of columns the
//! rotation moves is held to the schema.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{Bytea, Text, Uuid as SqlUuid};
use salus_domain::crypto::DATA_KEY_COLUMNS;
use salus_domain::ids::ClinicId;
use salus_domain::keyring::data_key::{Advance, BATCH};
use salus_tests::TestApp;
use salus_tests::identity::Member;
use serde_json::{Value, json};
use uuid::Uuid;

/// Patients made before the rotation: more than one batch.
const BEFORE: usize = BATCH as usize + 40;

fn national_id(n: usize) -> String {
    format!("1 80 01 75 {n:03} 042 17")
}

fn patient_body(n: usize) -> Value {
    json!({"family_name": format!("Rotation{n}"), "given_name": "Ada", "birth_date": "1980-01-01",
           "sex": "female", "national_id": national_id(n),
           "medical_history": {"allergies": [format!("allergy-{n}")], "conditions": [], "medications": [], "notes": ""}})
}

#[derive(QueryableByName)]
struct Sealed {
    #[diesel(sql_type = Bytea)]
    sealed: Vec<u8>,
}

/// The key id in the header of every value of every rotated column, as stored.
fn stored_field_key_ids(app: &TestApp) -> std::collections::BTreeMap<String, usize> {
    let mut conn = app.db.superuser();
    let mut ids = std::collections::BTreeMap::new();
    for column in DATA_KEY_COLUMNS {
        let rows: Vec<Sealed> = diesel::sql_query(format!(
            "SELECT {} AS sealed FROM {} WHERE {0} IS NOT NULL",
            column.column, column.table
        ))
        .load(&mut conn)
        .unwrap();
        for row in rows {
            let len = usize::from(row.sealed[1]);
            let id = String::from_utf8(row.sealed[2..2 + len].to_vec()).unwrap();
            *ids.entry(id).or_default() += 1;
        }
    }
    ids
}

async fn read_patient(app: &TestApp, member: &Member, id: &str) -> (u16, Value) {
    let read = app
        .get_as(&member.access, &format!("/api/v1/patients/{id}"))
        .await;
    let status = read.status().as_u16();
    (status, read.json().await.unwrap_or(Value::Null))
}

async fn clinic_of(app: &TestApp, owner: &Member) -> ClinicId {
    ClinicId(
        app.me(owner).await["clinic"]["id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap(),
    )
}

async fn advance(app: &TestApp, clinic: ClinicId) -> Advance {
    let services = app.services();
    tokio::task::spawn_blocking(move || services.data_keys.advance(clinic, "rotation-test"))
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn a_clinic_data_key_rotates_under_concurrent_reads_and_writes() {
    let app = Arc::new(TestApp::spawn().await);
    let owner = app.owner_with_mfa("Rotating Clinic").await;
    let clinic = clinic_of(&app, &owner).await;
    let mut patients = Vec::new();
    for n in 0..BEFORE {
        patients.push((n, app.patient(&owner, patient_body(n)).await.id));
    }
    let note = app
        .note(&owner, &patients[0].1, "a note sealed under dk1")
        .await;
    let signed = app
        .client
        .put(format!("{}/api/v1/notes/{note}", app.url))
        .header("if-match", "*")
        .bearer_auth(&owner.access)
        .json(&json!({"sign": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), 200, "a signed note is re-encrypted too");
    let before = stored_field_key_ids(&app);
    assert_eq!(before.keys().collect::<Vec<_>>(), ["dk1"], "{before:?}");

    let services = app.services();
    let version =
        tokio::task::spawn_blocking(move || services.data_keys.start(clinic, "rotation-test"))
            .await
            .unwrap()
            .unwrap();
    assert_eq!(version, 2);
    let services = app.services();
    let again = tokio::task::spawn_blocking(move || services.data_keys.start(clinic, "again"))
        .await
        .unwrap();
    assert!(again.is_err(), "no second rotation while one is under way");

    // Members read and write throughout: new patients (sealed under dk2 from
    // now on) and reads of old and new ones, each checked for its plaintext.
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let app = app.clone();
        let owner = owner.clone();
        let stop = stop.clone();
        let patients = patients.clone();
        tokio::spawn(async move {
            let mut written = Vec::new();
            let mut reads = 0;
            let mut n = BEFORE;
            while !stop.load(Ordering::SeqCst) || written.len() < 5 {
                let id = app.patient(&owner, patient_body(n)).await.id;
                written.push((n, id));
                for (k, id) in [&patients[n % BEFORE], written.last().unwrap()] {
                    let (status, body) = read_patient(&app, &owner, id).await;
                    assert_eq!(status, 200, "a read during the rotation: {body}");
                    assert_eq!(body["national_id"], national_id(*k), "{body}");
                    assert_eq!(
                        body["medical_history"]["allergies"][0],
                        format!("allergy-{k}")
                    );
                    reads += 1;
                }
                n += 1;
            }
            (written, reads)
        })
    };

    let mut passes = Vec::new();
    let finished = loop {
        let step = advance(&app, clinic).await;
        passes.push(step);
        if let Advance::Finished { version, .. } = step {
            break version;
        }
        assert!(passes.len() < 200, "the rotation does not end: {passes:?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        if passes.len() == 2 {
            stop.store(true, Ordering::SeqCst);
        }
    };
    stop.store(true, Ordering::SeqCst);
    let (written, reads) = load.await.unwrap();
    assert_eq!(finished, 2);
    assert!(reads >= 10, "reads ran during the rotation: {reads}");
    let resealed: u64 = passes
        .iter()
        .map(|p| match p {
            Advance::Moving { resealed, .. } | Advance::Finished { resealed, .. } => *resealed,
            Advance::Idle => 0,
        })
        .sum();
    assert!(
        resealed >= (2 * BEFORE + 1) as u64,
        "every field made before moved (two per patient and the note): {resealed}"
    );

    // Nothing is under the old key, and the old key is gone.
    let after = stored_field_key_ids(&app);
    assert_eq!(after.keys().collect::<Vec<_>>(), ["dk2"], "{after:?}");
    #[derive(QueryableByName)]
    struct Keys {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        data_key_version: i32,
        #[diesel(sql_type = diesel::sql_types::Bool)]
        retiring_gone: bool,
    }
    let keys: Keys = diesel::sql_query(
        "SELECT data_key_version, retiring_data_key IS NULL AND retiring_data_key_version IS NULL \
         AND rotation_started_at IS NULL AS retiring_gone FROM clinic_keys",
    )
    .get_result(&mut app.db.superuser())
    .unwrap();
    assert_eq!((keys.data_key_version, keys.retiring_gone), (2, true));

    // Everything reads back, made before or during the rotation.
    for (n, id) in patients.iter().take(20).chain(written.iter()) {
        let (status, body) = read_patient(&app, &owner, id).await;
        assert_eq!(
            (status, body["national_id"].clone()),
            (200, json!(national_id(*n)))
        );
    }
    let notes: Value = app
        .get_as(
            &owner.access,
            &format!("/api/v1/patients/{}/notes", patients[0].1),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        notes["items"][0]["body"], "a note sealed under dk1",
        "{notes}"
    );

    // Both steps are in the clinic's own chain, with who ran them.
    for action in ["keys.data_key_rotation_started", "keys.data_key_rotated"] {
        let n = salus_tests::catalogue::count(
            &mut app.db.superuser(),
            &format!(
                "SELECT count(*) AS n FROM audit.events WHERE action = '{action}' \
                 AND clinic_id = '{}' AND details LIKE '%rotation-test%'",
                clinic.0
            ),
        );
        assert_eq!(n, 1, "{action} audited once in the clinic's chain");
    }
    assert_eq!(
        advance(&app, clinic).await,
        Advance::Idle,
        "a finished rotation has nothing left to do"
    );
}

/// A transaction that began before the new key was visible may hold the old
/// key as the active one: the old key outlives it, even with no field left.
#[tokio::test]
async fn the_old_key_outlives_every_transaction_that_may_still_seal_with_it() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Careful Clinic").await;
    let clinic = clinic_of(&app, &owner).await;
    app.patient(&owner, patient_body(1)).await;

    // A transaction of the API role, open since before the rotation.
    let mut held = PgConnection::establish(&app.db.api_url()).unwrap();
    held.batch_execute("BEGIN; SELECT 1;").unwrap();

    let services = app.services();
    tokio::task::spawn_blocking(move || services.data_keys.start(clinic, "rotation-test"))
        .await
        .unwrap()
        .unwrap();
    for _ in 0..3 {
        match advance(&app, clinic).await {
            Advance::Moving { remaining: 0, .. } => {}
            other => panic!("the old key must wait for the open transaction: {other:?}"),
        }
    }
    held.batch_execute("COMMIT;").unwrap();
    assert!(
        matches!(
            advance(&app, clinic).await,
            Advance::Finished { version: 2, .. }
        ),
        "once it ended, the rotation finishes"
    );
}

/// A field under the old key that a pass could not move (a writer held its
/// row) keeps the rotation going: the old key is destroyed only once a count
/// finds no field under it.
#[tokio::test]
async fn a_field_left_under_the_old_key_keeps_the_rotation_going() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Straggler Clinic").await;
    let clinic = clinic_of(&app, &owner).await;
    let id = app.patient(&owner, patient_body(7)).await.id;
    let row: Uuid = id.parse().unwrap();
    #[derive(QueryableByName)]
    struct Old {
        #[diesel(sql_type = Bytea)]
        national_id: Vec<u8>,
    }
    let mut conn = app.db.superuser();
    let old: Old = diesel::sql_query("SELECT national_id FROM patients WHERE id = $1")
        .bind::<SqlUuid, _>(row)
        .get_result(&mut conn)
        .unwrap();

    // Held open from before the start, so the first pass cannot finish.
    let mut held = PgConnection::establish(&app.db.api_url()).unwrap();
    held.batch_execute("BEGIN; SELECT 1;").unwrap();
    let services = app.services();
    tokio::task::spawn_blocking(move || services.data_keys.start(clinic, "rotation-test"))
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(
        advance(&app, clinic).await,
        Advance::Moving { resealed: 2, .. }
    ));
    held.batch_execute("COMMIT;").unwrap();

    // A late writer put the old envelope back, and another holds the row.
    diesel::sql_query("UPDATE patients SET national_id = $1 WHERE id = $2")
        .bind::<Bytea, _>(&old.national_id)
        .bind::<SqlUuid, _>(row)
        .execute(&mut conn)
        .unwrap();
    let mut locker = app.db.superuser();
    locker
        .batch_execute(&format!(
            "BEGIN; SELECT 1 FROM patients WHERE id = '{row}' FOR UPDATE;"
        ))
        .unwrap();
    assert_eq!(
        advance(&app, clinic).await,
        Advance::Moving {
            resealed: 0,
            remaining: 1
        },
        "the held row is skipped, counted, and the old key stays"
    );
    locker.batch_execute("COMMIT;").unwrap();
    assert!(matches!(
        advance(&app, clinic).await,
        Advance::Finished {
            resealed: 1,
            version: 2
        }
    ));
    assert_eq!(
        stored_field_key_ids(&app).keys().collect::<Vec<_>>(),
        ["dk2"],
        "the straggler was moved before the old key went"
    );
    let (status, body) = read_patient(&app, &owner, &id).await;
    assert_eq!(
        (status, body["national_id"].clone()),
        (200, json!(national_id(7)))
    );
}

/// `bytea` columns that hold no value sealed under a clinic's data key.
const NOT_UNDER_A_DATA_KEY: &[&str] = &[
    // hashes and signatures of the audit chain
    "audit.checkpoints.hash",
    "audit.checkpoints.signature",
    "audit.events.hash",
    "audit.events.prev_hash",
    "public.audit_chain_heads.hash",
    "public.audit_chain_heads.prev_hash",
    // sealed under a master key (`salus keys rotate-master` re-seals them)
    "public.accounts.totp_pending_secret",
    "public.accounts.totp_secret",
    "public.operators.totp_secret",
    "public.clinic_keys.retiring_data_key",
    "public.clinic_keys.wrapped_data_key",
    "public.clinic_keys.wrapped_index_key",
    // the blind index, under the index key (which a data-key rotation keeps)
    "public.patients.national_id_index",
    // digests of tokens, codes, devices and evidence
    "public.incident_evidence.sha256",
    "public.invitations.token_hash",
    "public.known_devices.fingerprint",
    "public.mfa_challenges.token_hash",
    "public.one_time_tokens.token_hash",
    "public.operator_sessions.token_hash",
    "public.operators.enrolment_token_hash",
    "public.phone_challenges.code_hash",
    "public.recovery_codes.code_hash",
    "public.refresh_tokens.token_hash",
    "public.service_account_keys.secret_sha256",
    "public.sign_ups.token_hash",
];

/// Every `bytea` column of the schema is either sealed under a clinic's data
/// key (and so in `DATA_KEY_COLUMNS`, which the rotation moves) or named here
/// as something else: a new sealed column cannot be forgotten by the rotation.
#[tokio::test]
async fn every_bytea_column_is_known_to_the_rotation() {
    let app = TestApp::spawn().await;
    #[derive(QueryableByName)]
    struct Column {
        #[diesel(sql_type = Text)]
        table_schema: String,
        #[diesel(sql_type = Text)]
        table_name: String,
        #[diesel(sql_type = Text)]
        column_name: String,
    }
    let columns: Vec<Column> = diesel::sql_query(
        "SELECT table_schema::text, table_name::text, column_name::text \
         FROM information_schema.columns c JOIN information_schema.tables t USING (table_schema, table_name) \
         WHERE data_type = 'bytea' AND t.table_type = 'BASE TABLE' \
         AND table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2, 3",
    )
    .load(&mut app.db.superuser())
    .unwrap();
    let rotated: Vec<(&str, &str)> = DATA_KEY_COLUMNS
        .iter()
        .map(|c| (c.table, c.column))
        .collect();
    let unknown: Vec<String> = columns
        .iter()
        .filter(|c| {
            c.table_schema != "public"
                || !rotated.contains(&(c.table_name.as_str(), c.column_name.as_str()))
        })
        .map(|c| format!("{}.{}.{}", c.table_schema, c.table_name, c.column_name))
        .filter(|c| !NOT_UNDER_A_DATA_KEY.contains(&c.as_str()))
        .collect();
    assert!(
        unknown.is_empty(),
        "bytea columns neither rotated nor classified: {unknown:?}"
    );
    for column in DATA_KEY_COLUMNS {
        assert!(
            columns.iter().any(|c| c.table_schema == "public"
                && c.table_name == column.table
                && c.column_name == column.column),
            "{column:?} is not a bytea column of the schema"
        );
    }
}

/// `salus keys rotate-clinic`: the foreground command drives a rotation from
/// start to end with progress, records who ran it, and a data key past its
/// rotation period is young again afterwards (the secrets report).
#[tokio::test]
async fn the_command_rotates_an_overdue_data_key_to_the_end_and_its_age_starts_again() {
    use salus_domain::secrets::{SecretAge, SecretKind};
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Overdue Clinic").await;
    let clinic = clinic_of(&app, &owner).await;
    let id = app.patient(&owner, patient_body(3)).await.id;
    // The key was made 91 days ago: past the 90-day period.
    app.db
        .superuser()
        .batch_execute(
            "UPDATE clinic_keys SET created_at = created_at - interval '91 days', \
             data_key_created_at = data_key_created_at - interval '91 days'",
        )
        .unwrap();
    let data_key_overdue = |app: &TestApp| {
        let services = app.services();
        async move {
            tokio::task::spawn_blocking(move || services.secrets.ages())
                .await
                .unwrap()
                .unwrap()
                .iter()
                .filter(|a| a.kind == SecretKind::ClinicDataKey)
                .map(SecretAge::overdue)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(data_key_overdue(&app).await, [true]);

    let config = app.config_with(&[]);
    let (version, steps) = tokio::task::spawn_blocking(move || {
        let mut steps = Vec::new();
        let version =
            salus::operator::rotate_clinic_key(&config, clinic, "keys-cli@ops.example", &mut |s| {
                steps.push(s);
            })
            .unwrap();
        (version, steps)
    })
    .await
    .unwrap();
    assert_eq!(version, 2);
    assert!(
        matches!(steps.last(), Some(Advance::Finished { version: 2, .. })),
        "progress ends with the finish: {steps:?}"
    );
    assert_eq!(
        stored_field_key_ids(&app).keys().collect::<Vec<_>>(),
        ["dk2"]
    );
    assert_eq!(
        data_key_overdue(&app).await,
        [false],
        "the new version is young"
    );
    let recorded = salus_tests::catalogue::count(
        &mut app.db.superuser(),
        &format!(
            "SELECT count(*) AS n FROM audit.events WHERE action IN \
             ('keys.data_key_rotation_started', 'keys.data_key_rotated') \
             AND clinic_id = '{}' AND details LIKE '%keys-cli@ops.example%'",
            clinic.0
        ),
    );
    assert_eq!(recorded, 2, "both steps name who ran the command");
    let (status, body) = read_patient(&app, &owner, &id).await;
    assert_eq!(
        (status, body["national_id"].clone()),
        (200, json!(national_id(3)))
    );
}
