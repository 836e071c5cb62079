//! Faults survived (issue 17): the API under load against a project-private
//! PostgreSQL cluster that is stopped hard (`pg_ctl stop -m immediate`) and
//! started again, and against a pool drained by statements that block. During
//! the outage only 503 problems, no request hanging past the checkout timeout;
//! within 5 s of the database's return requests succeed, without restarting the
//! API; no partial write (every write answered 2xx is there, none without its
//! audit event); the audit chains verify afterwards.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use salus_tests::cluster::{Cluster, Scratch};
use salus_tests::identity::Member;
use salus_tests::{TestApp, TestDb};
use secrecy::SecretString;
use serde_json::json;

/// What one request of the load saw.
#[derive(Debug, Clone)]
struct Outcome {
    at: Instant,
    took: Duration,
    status: u16,
    family_name: String,
}

/// The pool's checkout timeout the server runs with.
const CHECKOUT_MS: u64 = 1000;

async fn private_app(scratch: &Scratch, overrides: &[(&str, &str)]) -> (Cluster, TestApp) {
    let mut cluster = Cluster::init(scratch, "faults");
    cluster.start();
    let port = cluster.port;
    let db = tokio::task::spawn_blocking(move || TestDb::migrated_on(port))
        .await
        .unwrap();
    let checkout = CHECKOUT_MS.to_string();
    let mut vars = vec![
        ("DB_CHECKOUT_TIMEOUT_MS", checkout.as_str()),
        ("HTTP_WORKERS", "2"),
    ];
    vars.extend_from_slice(overrides);
    let app = TestApp::try_spawn_on(db, &vars)
        .await
        .unwrap_or_else(|(e, _)| panic!("server failed to start: {e:#}"));
    (cluster, app)
}

/// `workers` loops creating patients until `stop` is set; every answer.
fn load(
    app: &Arc<TestApp>,
    owner: &Member,
    workers: usize,
    stop: &Arc<std::sync::atomic::AtomicBool>,
) -> (Arc<Mutex<Vec<Outcome>>>, Vec<tokio::task::JoinHandle<()>>) {
    let outcomes = Arc::new(Mutex::new(Vec::new()));
    let handles = (0..workers)
        .map(|w| {
            let (app, token, stop, outcomes) = (
                app.clone(),
                owner.access.clone(),
                stop.clone(),
                outcomes.clone(),
            );
            tokio::spawn(async move {
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    n += 1;
                    let family_name = format!("Load-{w}-{n}");
                    let started = Instant::now();
                    let answer = app
                        .client
                        .post(format!("{}/api/v1/patients", app.url))
                        .bearer_auth(&token)
                        .json(&json!({"family_name": family_name, "given_name": "Ana",
                                      "birth_date": "1980-01-01", "sex": "female"}))
                        .timeout(Duration::from_secs(30))
                        .send()
                        .await;
                    let status = answer.as_ref().map_or(0, |a| a.status().as_u16());
                    if let Ok(answer) = answer
                        && status >= 400
                    {
                        let body = answer.text().await.unwrap_or_default();
                        assert!(
                            status != 503 || body.contains("service_unavailable"),
                            "a 503 that is not a problem: {body}"
                        );
                    }
                    outcomes.lock().unwrap().push(Outcome {
                        at: started,
                        took: started.elapsed(),
                        status,
                        family_name,
                    });
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            })
        })
        .collect();
    (outcomes, handles)
}

/// The names the database holds, and those without their `patient.created` event.
fn stored(app: &TestApp) -> (Vec<String>, i64) {
    let mut su = app.db.superuser();
    #[derive(diesel::QueryableByName)]
    struct Name {
        #[diesel(sql_type = diesel::sql_types::Text)]
        family_name: String,
    }
    let names: Vec<String> = diesel::RunQueryDsl::load::<Name>(
        diesel::sql_query("SELECT family_name FROM patients WHERE family_name LIKE 'Load-%'"),
        &mut su,
    )
    .unwrap()
    .into_iter()
    .map(|n| n.family_name)
    .collect();
    let unaudited = salus_tests::catalogue::count(
        &mut su,
        "SELECT count(*) AS n FROM patients p WHERE NOT EXISTS (
             SELECT 1 FROM audit.events e WHERE e.action = 'patient.created'
                AND e.resource_id = p.id)",
    );
    (names, unaudited)
}

async fn chains_verify(app: &TestApp) {
    let owner_url = SecretString::from(app.db.owner_url());
    let sealer = salus::serve::audit_sealer(&app.config_with(&[])).unwrap();
    let reports = tokio::task::spawn_blocking(move || {
        salus::audit_admin::verify(&owner_url, &sealer, None, &mut |_, _, _| {}).unwrap()
    })
    .await
    .unwrap();
    assert!(!reports.is_empty());
    assert!(
        reports.iter().all(|r| r.broken.is_none()),
        "a chain is broken: {reports:?}"
    );
}

/// What every fault leaves: only 201s and 503 problems were answered, every
/// write answered 201 is stored with its audit event, and the chains verify.
async fn nothing_partial(app: &TestApp, outcomes: &[Outcome]) {
    let statuses: std::collections::BTreeSet<u16> = outcomes.iter().map(|o| o.status).collect();
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 503),
        "only 201 and 503: {statuses:?}"
    );
    let (names, unaudited) = stored(app);
    for written in outcomes.iter().filter(|o| o.status == 201) {
        assert!(
            names.contains(&written.family_name),
            "{} was answered 201 and is not stored",
            written.family_name
        );
    }
    assert_eq!(unaudited, 0, "a write without its audit event");
    chains_verify(app).await;
}

#[tokio::test]
async fn a_database_stopped_hard_mid_load_gives_503s_then_service_again_and_loses_nothing() {
    let scratch = Scratch::new("faults-stop");
    let (mut cluster, app) = private_app(&scratch, &[]).await;
    let app = Arc::new(app);
    let owner = app.owner_with_mfa("Fault Clinic").await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (outcomes, workers) = load(&app, &owner, 4, &stop);

    tokio::time::sleep(Duration::from_millis(800)).await;
    let down_at = Instant::now();
    // Kept (and stopped when dropped) until the end of the test.
    let _cluster = tokio::task::spawn_blocking(move || {
        cluster.stop_now();
        std::thread::sleep(Duration::from_secs(3));
        cluster.start();
        cluster
    })
    .await
    .unwrap();
    let up_at = Instant::now();
    tokio::time::sleep(Duration::from_secs(6)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for worker in workers {
        worker.await.unwrap();
    }
    let outcomes = outcomes.lock().unwrap().clone();

    assert!(
        outcomes.iter().any(|o| o.status == 503),
        "the outage was seen"
    );
    let slowest = outcomes.iter().map(|o| o.took).max().unwrap();
    assert!(
        slowest < Duration::from_millis(CHECKOUT_MS) + Duration::from_secs(4),
        "a request hung for {slowest:?}"
    );
    assert!(
        outcomes.iter().any(|o| o.at < down_at && o.status == 201),
        "writes succeeded before the outage"
    );
    let first_after = outcomes
        .iter()
        .filter(|o| o.at >= up_at && o.status == 201)
        .map(|o| o.at)
        .min()
        .expect("a write succeeded after the database came back");
    assert!(
        first_after - up_at <= Duration::from_secs(5),
        "service came back after {:?}",
        first_after - up_at
    );

    nothing_partial(&app, &outcomes).await;
}

#[tokio::test]
async fn a_pool_drained_by_blocked_statements_answers_503_and_recovers() {
    let scratch = Scratch::new("faults-pool");
    let (_cluster, app) = private_app(
        &scratch,
        &[("DB_POOL_SIZE", "2"), ("DB_STATEMENT_TIMEOUT_MS", "700")],
    )
    .await;
    let app = Arc::new(app);
    let owner = app.owner_with_mfa("Pool Clinic").await;
    // A transaction elsewhere holds the patients table: every write blocks
    // until the statement timeout, and the others wait for a connection.
    let url = app.db.owner_url();
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let blocker = std::thread::spawn(move || {
        use diesel::Connection;
        let mut conn = diesel::PgConnection::establish(&url).unwrap();
        conn.transaction::<_, diesel::result::Error, _>(|conn| {
            diesel::RunQueryDsl::execute(
                diesel::sql_query("LOCK TABLE patients IN ACCESS EXCLUSIVE MODE"),
                conn,
            )?;
            locked_tx.send(()).unwrap();
            release_rx.recv().unwrap();
            Ok(())
        })
        .unwrap();
    });
    locked_rx.recv().unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (outcomes, workers) = load(&app, &owner, 6, &stop);
    tokio::time::sleep(Duration::from_secs(3)).await;
    release_tx.send(()).unwrap();
    blocker.join().unwrap();
    let released_at = Instant::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for worker in workers {
        worker.await.unwrap();
    }
    let outcomes = outcomes.lock().unwrap().clone();
    assert!(
        outcomes
            .iter()
            .any(|o| o.at < released_at && o.status == 503),
        "the blocked writes were answered 503"
    );
    assert!(
        outcomes
            .iter()
            .any(|o| o.at >= released_at && o.status == 201),
        "writes succeed again once the lock is gone"
    );
    nothing_partial(&app, &outcomes).await;
}
