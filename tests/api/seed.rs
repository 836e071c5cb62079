//! `salus seed-dev`: synthetic demo data a developer can sign in to; refused in production.

use std::path::PathBuf;

use diesel::RunQueryDsl;
use salus_tests::TestApp;
use serde_json::Value;

fn config(
    app: &TestApp,
    env: &str,
) -> Result<salus::config::Config, salus::config::ConfigProblems> {
    let vars = [
        ("APP_ENV".to_owned(), env.to_owned()),
        ("DATABASE_URL".to_owned(), app.db.api_url()),
        (
            "TOKEN_SIGNING_KEYS".to_owned(),
            salus_tests::app::test_keys().0.clone(),
        ),
        (
            "MASTER_KEYS".to_owned(),
            salus_tests::app::test_keys().1.clone(),
        ),
        ("MIGRATION_DATABASE_URL".to_owned(), app.db.owner_url()),
    ];
    salus::config::Config::load(&move |name: &str| {
        vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    })
}

#[tokio::test]
async fn seeded_demo_logins_work_and_production_is_refused() {
    let app = TestApp::spawn().await;
    let dir = std::env::temp_dir().join(format!("salus-seed-{}", uuid::Uuid::new_v4().simple()));
    let file = dir.join("logins.txt");
    let cfg = config(&app, "test").unwrap();
    let path = file.clone();
    let logins = tokio::task::spawn_blocking(move || salus::seed::seed(&cfg, 1, 20, &path, false))
        .await
        .unwrap()
        .unwrap();
    assert!(logins.contains("Demo clinic 1"), "{logins}");

    let desk = logins
        .lines()
        .find(|l| l.trim_start().starts_with("desk"))
        .unwrap();
    let email = desk.split_whitespace().nth(1).unwrap();
    let password = desk.split("password: ").nth(1).unwrap().trim();
    let login: Value = app.login(email, password).await.json().await.unwrap();
    assert_eq!(login["status"], "authenticated", "{login}");
    let token = login["access_token"].as_str().unwrap();
    let page: Value = app
        .get_as(token, "/api/v1/patients?limit=100")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 20);
    let appointments: Value = app
        .get_as(token, "/api/v1/appointments?limit=100")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(appointments["items"].as_array().unwrap().len(), 16);

    // A second run does not seed again; it shows the same logins.
    let cfg = config(&app, "test").unwrap();
    let again = tokio::task::spawn_blocking(move || salus::seed::seed(&cfg, 1, 20, &file, false))
        .await
        .unwrap()
        .unwrap();
    assert!(again.contains(email));
    let _ = std::fs::remove_dir_all(&dir);

    let mut production = config(&app, "test").unwrap();
    production.app_env = salus::config::AppEnv::Production;
    let refused = salus::seed::seed(&production, 1, 1, &dir.join("x"), false)
        .unwrap_err()
        .to_string();
    assert!(refused.contains("development only"), "{refused}");
}

/// Runs `salus seed-dev` (one clinic of 5 patients) against the test's database.
async fn seed_dev(app: &TestApp, file: &std::path::Path, reset: bool) -> anyhow::Result<String> {
    let cfg = config(app, "test").unwrap();
    let file = file.to_path_buf();
    tokio::task::spawn_blocking(move || salus::seed::seed(&cfg, 1, 5, &file, reset))
        .await
        .unwrap()
}

/// The desk login of a logins text: (email, password).
fn desk(logins: &str) -> (String, String) {
    let line = logins
        .lines()
        .find(|l| l.trim_start().starts_with("desk"))
        .unwrap_or_else(|| panic!("no desk login in {logins}"));
    let email = line.split_whitespace().nth(1).unwrap().to_owned();
    let password = line.split("password: ").nth(1).unwrap().trim().to_owned();
    (email, password)
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

fn count(app: &TestApp, sql: &str) -> i64 {
    diesel::sql_query(sql)
        .get_result::<Count>(&mut app.db.superuser())
        .unwrap()
        .n
}

/// `make run` in a second checkout: the database holds demo data another checkout
/// made, and this checkout has no logins file. Seeding reuses the data and says
/// how to get logins; `--reset` re-creates only the demo clinics.
#[tokio::test]
async fn seeding_again_reuses_the_demo_data_or_resets_only_it() {
    let app = TestApp::spawn().await;
    let dir = std::env::temp_dir().join(format!("salus-seed-{}", uuid::Uuid::new_v4().simple()));
    let (first, second): (PathBuf, PathBuf) = (dir.join("a/logins.txt"), dir.join("b/logins.txt"));
    let made = seed_dev(&app, &first, false).await.unwrap();
    let (email, old_password) = desk(&made);
    let clinic = made
        .split("(id ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .unwrap()
        .to_owned();
    // A clinic that is no demo clinic stays whatever happens.
    let other = app.owner_with_mfa("Harbour Clinic").await;

    // The other checkout: no file here. Nothing is created, and it says what to do.
    let told = seed_dev(&app, &second, false).await.unwrap();
    assert!(told.contains("already in this database"), "{told}");
    assert!(told.contains("is missing"), "{told}");
    assert!(told.contains("seed-dev --reset"), "{told}");
    assert!(!told.contains("password:"), "{told}");
    assert!(!second.exists());
    assert_eq!(count(&app, "SELECT count(*) AS n FROM patients"), 5);

    // The checkout that made it sees its logins again.
    let again = seed_dev(&app, &first, false).await.unwrap();
    assert!(again.contains(&old_password), "{again}");

    // Reset: the demo clinic is made anew with new logins, nothing else changes.
    let before = count(
        &app,
        &format!("SELECT count(*) AS n FROM audit.events WHERE clinic_id = '{clinic}'"),
    );
    assert!(before > 0);
    let reset = seed_dev(&app, &second, true).await.unwrap();
    assert!(
        reset.contains(&format!("removed demo clinic 1 (id {clinic})")),
        "{reset}"
    );
    let (same_email, new_password) = desk(&reset);
    assert_eq!(same_email, email);
    assert_ne!(new_password, old_password);
    assert_eq!(app.login(&email, &old_password).await.status(), 401);
    let login: Value = app.login(&email, &new_password).await.json().await.unwrap();
    assert_eq!(login["status"], "authenticated", "{login}");
    assert_eq!(count(&app, "SELECT count(*) AS n FROM patients"), 5);
    assert_eq!(
        count(
            &app,
            &format!("SELECT count(*) AS n FROM clinics WHERE id = '{clinic}'")
        ),
        0
    );
    assert_eq!(
        count(
            &app,
            &format!("SELECT count(*) AS n FROM audit.events WHERE clinic_id = '{clinic}'")
        ),
        before,
        "the audit trail keeps the removed clinic's events"
    );
    assert_eq!(app.me(&other).await["clinic"]["name"], "Harbour Clinic");

    // The first checkout's file now names a clinic that is gone: it says so.
    let stale = seed_dev(&app, &first, false).await.unwrap();
    assert!(stale.contains("names other demo clinics"), "{stale}");
    assert!(!stale.contains(&old_password), "{stale}");

    let mut production = config(&app, "test").unwrap();
    production.app_env = salus::config::AppEnv::Production;
    let refused = salus::seed::seed(&production, 1, 1, &second, true)
        .unwrap_err()
        .to_string();
    assert!(refused.contains("development only"), "{refused}");
    let _ = std::fs::remove_dir_all(&dir);
}
