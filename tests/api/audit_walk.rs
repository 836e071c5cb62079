//! Every operation that changes state or reads clinical data records its audit
//! event (L1), walked over the contract: each is performed successfully, and the
//! events its request left must be the ones `salus_http::audited` declares for
//! it, naming the caller and the resource. An operation that changes state and
//! is neither declared nor on the short list below fails the walk, so a new
//! route cannot forget its event.

mod account;
mod clinic;
mod platform;
mod staff;
mod walker;

use std::collections::BTreeSet;

use salus_http::audited::{AUDITED_OPERATIONS, audited};
use salus_http::clinical_reads::is_clinical_read;
use salus_tests::TestApp;
use salus_tests::contract::operations;

use self::walker::Walk;

/// Operations that change state and record nothing, by design: each is a first
/// step whose effect starts, and is recorded, at the step that confirms it, or
/// the renewal of a session whose sign-in is recorded. The walk performs them
/// too and finds no event.
const RECORD_NOTHING: &[(&str, &str)] = &[
    (
        "POST /api/v1/auth/refresh",
        "renews a live session's tokens: its sign-in is recorded, and so is a \
         refresh token used twice (auth.refresh_token_reuse)",
    ),
    (
        "POST /api/v1/me/phone",
        "sends a code to a number that is not the member's until the code is \
         confirmed (account.phone_verified)",
    ),
    (
        "POST /api/v1/me/mfa/totp",
        "draws a secret that protects nothing until a code confirms it \
         (mfa.enrolled)",
    ),
    (
        "POST /api/v1/platform/enrolment",
        "checks the emailed code and draws the authenticator's secret; the \
         operator can sign in only once the confirmation records operator.enrolled",
    ),
];

/// The operations the walk must perform: every one that changes state, every
/// clinical read, and every read declared as recorded.
fn walked() -> BTreeSet<String> {
    operations()
        .into_iter()
        .filter(|op| {
            op.method != "GET"
                || is_clinical_read(&op.method, &op.path)
                || audited(&op.method, &op.path).is_some()
        })
        .map(|op| op.name())
        .collect()
}

/// The declaration and the short list name operations of the contract, and each
/// operation the walk covers is in exactly one of them.
#[test]
fn every_operation_that_changes_state_is_declared_or_listed_as_recording_nothing() {
    let contract: BTreeSet<String> = operations().iter().map(|op| op.name()).collect();
    for declared in AUDITED_OPERATIONS {
        let name = format!("{} {}", declared.method, declared.path);
        assert!(
            contract.contains(&name),
            "{name} is declared but not in the contract"
        );
    }
    for (name, _) in RECORD_NOTHING {
        assert!(
            contract.contains(*name),
            "{name} is listed but not in the contract"
        );
    }
    for name in walked() {
        let (method, path) = name.split_once(' ').unwrap();
        let declared = audited(method, path).is_some();
        let listed = RECORD_NOTHING.iter().any(|(n, _)| *n == name);
        assert!(
            declared != listed,
            "{name}: {}",
            if declared {
                "declared in salus_http::audited and listed as recording nothing"
            } else {
                "declares no audit event: add it to salus_http::audited (or, if it \
                 records nothing by design, to RECORD_NOTHING with the reason)"
            }
        );
    }
}

/// Performs every operation of [`walked`] as a member or an operator would,
/// from sign-up to the platform's, each request's events checked as it answers.
async fn walk_every_operation(app: &TestApp) -> Walk<'_> {
    let walk = Walk::new(app);
    let owner = account::walk(&walk).await;
    clinic::walk(&walk, &owner).await;
    let clinic = staff::walk(&walk, &owner).await;
    platform::walk(&walk, &clinic).await;
    walk
}

/// The walk itself: every operation of [`walked`] performed as a member or an
/// operator would, each request's events checked as it answers.
#[tokio::test]
async fn every_operation_that_changes_state_or_reads_clinical_data_records_its_event() {
    let app = TestApp::spawn().await;
    let walk = walk_every_operation(&app).await;

    let missed: Vec<String> = walked().difference(&walk.performed()).cloned().collect();
    assert!(missed.is_empty(), "the walk performed none of {missed:#?}");
}

/// Statements that return rows and may go out unprepared, with the reason.
const UNPREPARED_READS: &[(&str, &str)] = &[
    (
        "DECLARE salus_export ",
        "an export's cursor: PostgreSQL plans the query inside once per export",
    ),
    (
        "SELECT max(version)::text AS version FROM __diesel_schema_migrations",
        "diesel_migrations' own check, once when the server starts",
    ),
];

/// Every statement of the walk that returns rows is a prepared one, parsed and
/// planned once per connection (issue 18): diesel's instrumentation sees each
/// statement it caches and each that finishes, on every connection of the
/// server (its API role) to the walk's database, its background jobs included.
/// Writes without `RETURNING` are left out: diesel runs them for their row
/// count by a path that never caches a statement diesel cannot bound (see
/// `salus_persistence::cached`).
#[tokio::test]
async fn every_statement_of_the_walk_that_returns_rows_is_prepared() {
    salus_tests::statements::instrument();
    let app = TestApp::spawn().await;
    salus_tests::statements::watch(&app.db.api_url());
    walk_every_operation(&app).await;

    let returns_rows = |sql: &str| {
        let sql = sql.trim_start();
        sql.starts_with("SELECT") || sql.starts_with("WITH") || sql.contains("RETURNING")
    };
    let unprepared: Vec<String> = salus_tests::statements::unprepared(&app.db.api_url())
        .into_iter()
        .filter(|sql| returns_rows(sql))
        .filter(|sql| {
            !UNPREPARED_READS
                .iter()
                .any(|(start, _)| sql.starts_with(start))
        })
        .collect();
    assert!(
        unprepared.is_empty(),
        "{} statements that return rows went out unprepared: {unprepared:#?}",
        unprepared.len()
    );
}
