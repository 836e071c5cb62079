//! One transaction per request (issue 18): the session check and the service's
//! first transaction are one database transaction, and a request that never
//! reaches a transaction still keeps the session's activity.

use chrono::Duration;
use diesel::prelude::*;
use diesel::sql_types::Text;
use salus_tests::TestApp;
use serde_json::json;

#[derive(QueryableByName)]
struct Xmin {
    #[diesel(sql_type = Text)]
    xmin: String,
}

fn xmin(app: &TestApp, sql: &str) -> String {
    diesel::sql_query(sql)
        .get_result::<Xmin>(&mut app.db.superuser())
        .unwrap()
        .xmin
}

/// The session's activity (touched at most once a minute by the session check)
/// and the change the request makes are written by the same transaction.
#[tokio::test]
async fn the_session_check_and_the_action_are_one_transaction() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("One Transaction Clinic").await;
    let patient = app
        .patient(
            &owner,
            json!({"family_name": "Single", "given_name": "Ada", "birth_date": "1980-01-01",
                   "sex": "female"}),
        )
        .await;
    app.clock.advance(Duration::minutes(2));
    let updated = app
        .client
        .put(format!("{}/api/v1/patients/{}", app.url, patient.id))
        .bearer_auth(&owner.access)
        .header("if-match", &patient.etag)
        .json(&json!({"family_name": "Singled", "given_name": "Ada",
                      "birth_date": "1980-01-01", "sex": "female"}))
        .send()
        .await
        .unwrap();
    assert_eq!(updated.status(), 200);
    let session = xmin(
        &app,
        "SELECT xmin::text AS xmin FROM sessions ORDER BY last_seen_at DESC LIMIT 1",
    );
    let row = xmin(
        &app,
        &format!(
            "SELECT xmin::text AS xmin FROM patients WHERE id = '{}'",
            patient.id
        ),
    );
    assert_eq!(
        session, row,
        "the session's touch and the patient's change share one transaction"
    );
}

/// A request refused before its service opens any transaction (a permission
/// it lacks) still records the session's activity: the held transaction of its
/// session check is committed.
#[tokio::test]
async fn a_request_refused_before_any_transaction_keeps_the_sessions_activity() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Refusing Clinic").await;
    let receptionist = app.join_as(&owner, "receptionist").await;
    #[derive(QueryableByName)]
    struct Seen {
        #[diesel(sql_type = diesel::sql_types::Timestamptz)]
        last_seen_at: chrono::DateTime<chrono::Utc>,
    }
    let seen = |app: &TestApp| {
        diesel::sql_query(
            "SELECT s.last_seen_at FROM sessions s JOIN accounts a ON a.id = s.account_id \
             WHERE a.email = $1 AND s.revoked_at IS NULL ORDER BY s.created_at DESC LIMIT 1",
        )
        .bind::<Text, _>(&receptionist.email)
        .get_result::<Seen>(&mut app.db.superuser())
        .unwrap()
        .last_seen_at
    };
    let before = seen(&app);
    app.clock.advance(Duration::minutes(2));
    let refused = app
        .get_as(&receptionist.access, "/api/v1/audit-events")
        .await;
    assert_eq!(refused.status(), 403);
    assert!(
        seen(&app) > before,
        "the refused request's activity was kept"
    );
}
