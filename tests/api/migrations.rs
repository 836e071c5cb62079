//! `salus migrate` is idempotent; `salus serve` refuses a database with pending migrations.

use salus_tests::{TestApp, TestDb};
use secrecy::SecretString;

#[test]
fn migrating_twice_applies_nothing_the_second_time() {
    let db = TestDb::empty();
    let url = SecretString::from(db.owner_url());
    let first = salus_persistence::migrations::migrate(&url).unwrap();
    assert!(!first.is_empty());
    let second = salus_persistence::migrations::migrate(&url).unwrap();
    assert!(second.is_empty(), "{second:?}");
}

#[tokio::test]
async fn serve_refuses_to_start_with_pending_migrations() {
    let db = tokio::task::spawn_blocking(TestDb::empty).await.unwrap();
    let Err((error, _db)) = TestApp::try_spawn_on(db, &[]).await else {
        panic!("the server started on an unmigrated database");
    };
    let message = format!("{error:#}");
    assert!(message.contains("pending"), "{message}");
    assert!(message.contains("salus migrate"), "{message}");
}
