//! Chaining off the request path (issue 18): requests record their audit events
//! without waiting for the chain's head, reads share durable commits (group
//! commit) and are never served before their event is durable, the sequencer
//! gives every event its position in the order it was recorded, and an event
//! left waiting past the bound raises an alert.

use chrono::Duration;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;
use salus_tests::TestApp;
use salus_tests::catalogue::count;
use serde_json::json;

async fn new_patient(app: &TestApp, owner: &salus_tests::identity::Member, n: usize) -> String {
    app.patient(
        owner,
        json!({"family_name": format!("Sequence{n}"), "given_name": "Ada",
               "birth_date": "1980-01-01", "sex": "female"}),
    )
    .await
    .id
}

/// The clinic's id, as `/me` gives it.
async fn clinic_of(app: &TestApp, owner: &salus_tests::identity::Member) -> String {
    app.me(owner).await["clinic"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A connection holding the clinic's chain head (`FOR UPDATE`) in an open
/// transaction, as the sequencer or a reader of the trail holds it; `ROLLBACK`
/// on it lets go.
fn hold_chain_head(app: &TestApp, clinic: &str) -> PgConnection {
    let mut holder = app.db.superuser();
    holder
        .batch_execute(&format!(
            "BEGIN; SELECT 1 FROM audit_chain_heads WHERE chain_id = '{clinic}' FOR UPDATE;"
        ))
        .unwrap();
    holder
}

/// With a chain's head held by another transaction (as the sequencer or a
/// reader of the trail holds it), writes and reads of that clinic still answer:
/// nothing on the request path waits for the head. Each answer's event is
/// there, without a position; once the head is free, the sequencer chains them
/// in the order they were recorded and the chain verifies.
#[tokio::test]
async fn requests_never_wait_for_the_chain_head_and_the_sequencer_chains_in_order() {
    let app = TestApp::spawn_with(&[("AUDIT_SEQUENCE_MILLIS", "0")]).await;
    let owner = app.owner_with_mfa("Busy Clinic").await;
    let first = new_patient(&app, &owner, 0).await;
    app.services().audit.sequence_everything().unwrap();
    let clinic = clinic_of(&app, &owner).await;

    let mut holder = hold_chain_head(&app, &clinic);
    let limit = std::time::Duration::from_secs(5);
    let second = tokio::time::timeout(limit, new_patient(&app, &owner, 1))
        .await
        .expect("a write does not wait for the head");
    let read = tokio::time::timeout(
        limit,
        app.get_as(&owner.access, &format!("/api/v1/patients/{first}")),
    )
    .await
    .expect("a read does not wait for the head");
    assert_eq!(read.status(), 200);
    let mut su = app.db.superuser();
    let waiting = count(
        &mut su,
        "SELECT count(*) AS n FROM audit.events WHERE seq IS NULL \
         AND action IN ('patient.created', 'patient.clinical_read')",
    );
    assert_eq!(
        waiting, 2,
        "both events are recorded, without a position yet"
    );
    holder.batch_execute("COMMIT;").unwrap();

    let round = app.services().audit.sequence_everything().unwrap();
    assert!(round.sequenced >= 2, "{round:?}");
    #[derive(QueryableByName)]
    struct Action {
        #[diesel(sql_type = Text)]
        action: String,
    }
    let order: Vec<String> = diesel::sql_query(format!(
        "SELECT action FROM audit.events WHERE chain_id = '{clinic}' \
         AND action IN ('patient.created', 'patient.clinical_read') ORDER BY seq"
    ))
    .load::<Action>(&mut su)
    .unwrap()
    .into_iter()
    .map(|a| a.action)
    .collect();
    assert_eq!(
        order,
        [
            "patient.created",
            "patient.created",
            "patient.clinical_read"
        ],
        "positions follow the order the events were recorded ({second})"
    );
    assert_eq!(
        count(
            &mut su,
            "SELECT count(*) AS n FROM audit.events WHERE seq IS NULL"
        ),
        0
    );
    let reports = salus::audit_admin::verify(
        &secrecy::SecretString::from(app.db.owner_url()),
        app.services().audit.sealer(),
        None,
        &mut |_, _, _| {},
    )
    .unwrap();
    assert!(
        reports.iter().all(|r| r.broken.is_none()),
        "the chains verify: {reports:?}"
    );
}

/// Reads arriving together share one durable commit of their events (one
/// transaction id for many events), and each answer's event is durable when
/// the answer arrives.
#[tokio::test]
async fn concurrent_reads_share_commits_and_each_event_is_there_with_its_answer() {
    let app = TestApp::spawn_with(&[("AUDIT_SEQUENCE_MILLIS", "0")]).await;
    let owner = app.owner_with_mfa("Reading Clinic").await;
    let patient = new_patient(&app, &owner, 0).await;
    let reads = 48;
    let answers = futures_util::future::join_all((0..reads).map(|_| {
        let app = &app;
        let owner = &owner;
        let path = format!("/api/v1/patients/{patient}");
        async move {
            let answer = app.get_as(&owner.access, &path).await;
            let status = answer.status().as_u16();
            let request = answer
                .headers()
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            (status, request)
        }
    }))
    .await;
    let mut su = app.db.superuser();
    for (status, request) in &answers {
        assert_eq!(*status, 200);
        let request = request.as_deref().expect("a request id");
        assert_eq!(
            count(
                &mut su,
                &format!(
                    "SELECT count(*) AS n FROM audit.events \
                     WHERE action = 'patient.clinical_read' AND request_id = '{request}'"
                )
            ),
            1,
            "the read's event is durable with its answer"
        );
    }
    let commits = count(
        &mut su,
        "SELECT count(DISTINCT xmin::text) AS n FROM audit.events \
         WHERE action = 'patient.clinical_read'",
    );
    assert!(
        commits < reads,
        "{reads} concurrent reads took {commits} commits: none shared"
    );
}

/// A read whose event cannot be written is not served: the group commit fails,
/// the answer is a problem and holds nothing of the record.
#[tokio::test]
async fn a_read_whose_event_cannot_be_written_is_not_served() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Guarded Clinic").await;
    let patient = app
        .patient(
            &owner,
            json!({"family_name": "Unservable", "given_name": "Ada", "birth_date": "1980-01-01",
                   "sex": "female", "national_id": "2 80 01 75 042 042 17"}),
        )
        .await
        .id;
    let mut su = app.db.superuser();
    su.batch_execute("REVOKE INSERT ON audit.events FROM salus_api")
        .unwrap();
    let read = app
        .get_as(&owner.access, &format!("/api/v1/patients/{patient}"))
        .await;
    let status = read.status().as_u16();
    let body = read.text().await.unwrap();
    assert!(status >= 500, "{status}: {body}");
    assert!(
        !body.contains("Unservable") && !body.contains("042 042"),
        "nothing of the record is served: {body}"
    );
    su.batch_execute("GRANT INSERT ON audit.events TO salus_api")
        .unwrap();
    let again = app
        .get_as(&owner.access, &format!("/api/v1/patients/{patient}"))
        .await;
    assert_eq!(again.status(), 200);
}

/// An event left without a position past the bound (the sequencer stopped)
/// raises one platform alert, `audit_sequencing_late`; the audit round then
/// chains it; the same stuck event never raises a second alert.
#[tokio::test]
async fn an_event_left_waiting_past_the_bound_raises_one_alert() {
    let app = TestApp::spawn_with(&[("AUDIT_SEQUENCE_MILLIS", "0")]).await;
    let owner = app.owner_with_mfa("Stalled Clinic").await;
    new_patient(&app, &owner, 0).await;
    let quiet = app.audit_round().await;
    assert!(
        quiet
            .alerts
            .iter()
            .all(|a| a.kind != "audit_sequencing_late"),
        "{quiet:?}"
    );
    // What the round itself recorded after sequencing waits for the job.
    app.services().audit.sequence_everything().unwrap();

    new_patient(&app, &owner, 1).await;
    app.clock.advance(Duration::seconds(29));
    let mut su = app.db.superuser();
    // A second before the bound: not late yet.
    let before_bound = app.services().alerts.watch_sequencing().unwrap();
    assert!(before_bound.is_empty(), "{before_bound:?}");
    app.clock.advance(Duration::seconds(2));
    let late = app.audit_round().await;
    let raised: Vec<&str> = late
        .alerts
        .iter()
        .filter(|a| a.kind == "audit_sequencing_late")
        .map(|a| a.kind.as_str())
        .collect();
    assert_eq!(raised.len(), 1, "{late:?}");
    assert_eq!(
        count(
            &mut su,
            "SELECT count(*) AS n FROM audit.events WHERE seq IS NULL"
        ),
        0,
        "the round chained what waited"
    );
    let again = app.audit_round().await;
    assert!(
        again
            .alerts
            .iter()
            .all(|a| a.kind != "audit_sequencing_late"),
        "{again:?}"
    );
}

/// The sequencer job every node runs positions the events on its own, within
/// its bound, with nobody reading the trail (readers sequence before they
/// read, so they would hide a job that does nothing): the database is watched
/// directly until no event waits, and the positions run 1, 2, 3... in each chain.
#[tokio::test]
async fn the_sequencer_job_positions_events_with_nobody_reading_the_trail() {
    let app = TestApp::spawn_with(&[("AUDIT_SEQUENCE_MILLIS", "50")]).await;
    let owner = app.owner_with_mfa("Unread Clinic").await;
    for n in 0..3 {
        new_patient(&app, &owner, n).await;
    }
    let mut su = app.db.superuser();
    let waiting = "SELECT count(*) AS n FROM audit.events WHERE seq IS NULL";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while count(&mut su, waiting) > 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        count(&mut su, waiting),
        0,
        "events still wait for a position"
    );
    assert_eq!(
        count(
            &mut su,
            "SELECT count(*) AS n FROM (SELECT seq, row_number() OVER (PARTITION BY chain_id \
             ORDER BY seq) AS expected FROM audit.events) p WHERE seq <> expected"
        ),
        0,
        "positions skip or repeat"
    );
}

/// A sequencing round reports what it did (the job logs it): the chains that
/// had waiting events, the chains skipped because another transaction held
/// their head, and how many events took a position.
#[tokio::test]
async fn a_sequencing_round_reports_the_chains_and_events_it_positioned() {
    let app = TestApp::spawn_with(&[("AUDIT_SEQUENCE_MILLIS", "0")]).await;
    let owner = app.owner_with_mfa("Counted Clinic").await;
    app.services().audit.sequence_everything().unwrap();
    for n in 0..3 {
        new_patient(&app, &owner, n).await;
    }
    let mut su = app.db.superuser();
    let waiting = count(
        &mut su,
        "SELECT count(*) AS n FROM audit.events WHERE seq IS NULL",
    );
    assert!(waiting >= 3, "{waiting} events wait");
    // A head another transaction holds is skipped, and said so.
    let mut holder = hold_chain_head(&app, &clinic_of(&app, &owner).await);
    let held = app.services().audit.sequence_waiting().unwrap();
    assert_eq!(
        (held.chains, held.sequenced, held.skipped),
        (1, 0, 1),
        "{held:?}"
    );
    holder.batch_execute("ROLLBACK;").unwrap();
    let round = app.services().audit.sequence_waiting().unwrap();
    assert_eq!(
        (round.chains, round.sequenced, round.skipped),
        (1, usize::try_from(waiting).unwrap(), 0),
        "{round:?}"
    );
}
