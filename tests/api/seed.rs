//! `salus seed-dev`: synthetic demo data a developer can sign in to; refused in production.

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
    let logins = tokio::task::spawn_blocking(move || salus::seed::seed(&cfg, 1, 20, &path))
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
    let again = tokio::task::spawn_blocking(move || salus::seed::seed(&cfg, 1, 20, &file))
        .await
        .unwrap()
        .unwrap();
    assert!(again.contains(email));
    let _ = std::fs::remove_dir_all(&dir);

    let mut production = config(&app, "test").unwrap();
    production.app_env = salus::config::AppEnv::Production;
    let refused = salus::seed::seed(&production, 1, 1, &dir.join("x"))
        .unwrap_err()
        .to_string();
    assert!(refused.contains("development only"), "{refused}");
}
