//! Known vulnerabilities and their remediation deadlines (promise N3): `salus
//! vuln import|list|fix|accept` over the test server's services (its clock is
//! the hand-moved one), fed with real scanner reports of a throwaway project
//! (`tests/fixtures/vulns/regenerate.sh` says how they were made), and the
//! gauges of `/metrics`.

use std::process::ExitCode;

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text, Uuid as SqlUuid};
use salus::vulns::ListOptions;
use salus_domain::services::Services;
use salus_domain::vulns::model::{Band, Finding, Resolution, Standing};
use salus_tests::{TestApp, metric_value};
use serde_json::Value;

/// cargo-deny 0.20.2 over the throwaway project.
const DENY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fixtures/vulns/cargo-deny.jsonl"
);
/// The same after smallvec went from 1.6.0 to 1.6.1.
const DENY_FIXED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fixtures/vulns/cargo-deny-fixed.jsonl"
);
/// cargo-audit 0.22.2 over the same lock file.
const AUDIT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fixtures/vulns/cargo-audit.json"
);

/// A finding the report holds, with the remediation time the promise gives
/// its band.
struct Expected {
    advisory: &'static str,
    package: &'static str,
    version: &'static str,
    score: Option<f64>,
    band: Band,
    remediation: Duration,
}

const fn expected(
    (advisory, package, version): (&'static str, &'static str, &'static str),
    score: Option<f64>,
    band: Band,
    remediation: Duration,
) -> Expected {
    Expected {
        advisory,
        package,
        version,
        score,
        band,
        remediation,
    }
}

/// What the report holds.
const REPORTED: [Expected; 7] = [
    expected(
        ("RUSTSEC-2021-0003", "smallvec", "1.6.0"),
        Some(9.8),
        Band::Critical,
        Duration::hours(24),
    ),
    expected(
        ("RUSTSEC-2019-0034", "http", "0.1.19"),
        Some(9.8),
        Band::Critical,
        Duration::hours(24),
    ),
    expected(
        ("RUSTSEC-2019-0033", "http", "0.1.19"),
        Some(7.5),
        Band::High,
        Duration::hours(72),
    ),
    // A vulnerability without a CVSS vector: high (docs/operations.md).
    expected(
        ("RUSTSEC-2024-0421", "idna", "0.5.0"),
        None,
        Band::High,
        Duration::hours(72),
    ),
    expected(
        ("RUSTSEC-2021-0004", "lazy-init", "0.4.0"),
        Some(5.3),
        Band::Moderate,
        Duration::days(14),
    ),
    expected(
        ("RUSTSEC-2025-0163", "trailer", "0.1.2"),
        Some(2.9),
        Band::Low,
        Duration::days(30),
    ),
    // Informational (unmaintained), no vector: low.
    expected(
        ("RUSTSEC-2021-0139", "ansi_term", "0.12.1"),
        None,
        Band::Low,
        Duration::days(30),
    ),
];

const METRICS_ON: [(&str, &str); 1] = [("METRICS_BIND", "127.0.0.1:0")];
const OPERATOR: &str = "ops@salus.test";

/// A test server whose clock stands on a whole second (the deadlines and the
/// time left come out round).
async fn spawn(overrides: &[(&str, &str)]) -> TestApp {
    let app = TestApp::spawn_with(overrides).await;
    let now = now(&app);
    app.clock
        .advance(Duration::seconds(1) - Duration::nanoseconds(now.timestamp_subsec_nanos().into()));
    app
}

/// Runs `work` over the server's services on the blocking pool.
async fn with<T: Send + 'static>(
    app: &TestApp,
    work: impl FnOnce(&Services) -> T + Send + 'static,
) -> T {
    let services = app.services();
    tokio::task::spawn_blocking(move || work(&services))
        .await
        .unwrap()
}

/// `salus vuln import FILE`: its exit code and output.
async fn import(app: &TestApp, file: &'static str) -> (ExitCode, String) {
    with(app, move |s| {
        let mut out = Vec::new();
        let code = salus::vulns::import(s, std::path::Path::new(file), &mut out).unwrap();
        (code, String::from_utf8(out).unwrap())
    })
    .await
}

/// `salus vuln list` with `options`: its exit code and output.
async fn list(app: &TestApp, options: ListOptions) -> (ExitCode, String) {
    with(app, move |s| {
        let mut out = Vec::new();
        let code = salus::vulns::list(s, options, &mut out).unwrap();
        (code, String::from_utf8(out).unwrap())
    })
    .await
}

const OVERDUE: ListOptions = ListOptions {
    overdue: true,
    all: false,
    json: true,
};

/// The advisories `salus vuln list --overdue --json` names (sorted), and its
/// exit code.
async fn overdue(app: &TestApp) -> (ExitCode, Vec<String>) {
    let (code, out) = list(app, OVERDUE).await;
    let items: Vec<Value> = serde_json::from_str(&out).unwrap();
    let mut ids: Vec<String> = items
        .iter()
        .map(|i| i["advisory_id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    (code, ids)
}

/// Every finding, fixed ones included.
async fn findings(app: &TestApp) -> Vec<Finding> {
    with(app, |s| s.vulns.findings(true).unwrap()).await
}

fn of<'a>(findings: &'a [Finding], advisory: &str) -> &'a Finding {
    findings
        .iter()
        .find(|f| f.advisory_id == advisory)
        .unwrap_or_else(|| panic!("no finding of {advisory}: {findings:?}"))
}

fn now(app: &TestApp) -> DateTime<Utc> {
    salus_domain::Clock::now(app.clock.as_ref())
}

/// Moves the server's clock to `at`.
fn move_to(app: &TestApp, at: DateTime<Utc>) {
    app.clock.advance(at - now(app));
}

#[derive(QueryableByName)]
struct Event {
    #[diesel(sql_type = Text)]
    chain: String,
    #[diesel(sql_type = Text)]
    action: String,
    #[diesel(sql_type = Nullable<SqlUuid>)]
    resource_id: Option<uuid::Uuid>,
    #[diesel(sql_type = Nullable<Text>)]
    user_agent: Option<String>,
    #[diesel(sql_type = Text)]
    details: String,
}

/// The `vulnerability.*` events, in the order of the chain: action, the
/// finding they name, details.
fn events(app: &TestApp) -> Vec<(String, Option<uuid::Uuid>, Value)> {
    let events: Vec<Event> = diesel::sql_query(
        "SELECT chain_id::text AS chain, action, resource_id, user_agent, details
           FROM audit.events WHERE action LIKE 'vulnerability.%' ORDER BY arrival",
    )
    .load(&mut app.db.superuser())
    .unwrap();
    events
        .into_iter()
        .map(|e| {
            assert_eq!(
                e.chain,
                uuid::Uuid::nil().to_string(),
                "{} is not in the platform chain",
                e.action
            );
            assert!(
                e.user_agent.as_deref().unwrap().starts_with("salus vuln "),
                "{:?}",
                e.user_agent
            );
            (
                e.action,
                e.resource_id,
                serde_json::from_str(&e.details).unwrap(),
            )
        })
        .collect()
}

fn actions(app: &TestApp) -> Vec<String> {
    events(app).into_iter().map(|e| e.0).collect()
}

#[tokio::test]
async fn an_import_records_each_finding_with_its_score_band_and_deadline() {
    let app = spawn(&[]).await;
    let imported_at = now(&app);
    let (code, out) = import(&app, DENY).await;
    assert_eq!(code, ExitCode::SUCCESS, "{out}");
    assert!(out.contains("7 finding(s), 7 new, 0 seen again"), "{out}");

    let found = findings(&app).await;
    assert_eq!(found.len(), REPORTED.len(), "{found:?}");
    for e in REPORTED {
        let (advisory, f) = (e.advisory, of(&found, e.advisory));
        assert_eq!(
            (f.package.as_str(), f.version.as_str()),
            (e.package, e.version)
        );
        assert_eq!(f.severity.score, e.score, "{advisory}");
        assert_eq!(f.severity.vector.is_some(), e.score.is_some(), "{advisory}");
        assert_eq!(f.severity.band, e.band, "{advisory}");
        assert_eq!(f.first_seen, imported_at, "{advisory}");
        assert_eq!(f.due_at, imported_at + e.remediation, "{advisory}");
        assert_eq!(f.resolution, Resolution::Open, "{advisory}");
        assert_eq!(f.source.as_str(), "cargo-deny");
    }
    assert_eq!(
        of(&found, "RUSTSEC-2021-0139").kind.as_str(),
        "unmaintained"
    );

    let events = events(&app);
    assert_eq!(events.len(), 8, "{events:?}");
    for (action, id, details) in &events[..7] {
        assert_eq!(action, "vulnerability.found");
        let f = found.iter().find(|f| Some(f.id.0) == *id).unwrap();
        assert_eq!(details["advisory"], f.advisory_id.as_str());
        assert_eq!(details["band"], f.severity.band.as_str());
        assert_eq!(details["due_at"], f.due_at.to_rfc3339());
    }
    let (action, _, summary) = &events[7];
    assert_eq!(action, "vulnerability.imported");
    assert_eq!(summary["source"], "cargo-deny");
    assert_eq!(
        (summary["reported"].as_i64(), summary["new"].as_i64()),
        (Some(7), Some(7))
    );

    // The table lists them, the earliest deadline first, with the time left.
    let (code, table) = list(&app, ListOptions::default()).await;
    assert_eq!(code, ExitCode::SUCCESS);
    let rows: Vec<&str> = table.lines().skip(1).take(7).collect();
    assert!(rows[0].contains("\tcritical\t9.8\topen\t"), "{table}");
    assert!(
        rows[0].ends_with("\t23h59m left") || rows[0].ends_with("\t1d00h left"),
        "{table}"
    );
    assert!(rows[6].contains("\tlow\t"), "{table}");
    assert!(
        table.ends_with("salus: 7 finding(s), 0 overdue\n"),
        "{table}"
    );
}

#[tokio::test]
async fn each_band_is_overdue_one_second_after_its_deadline_and_not_before() {
    let app = spawn(&[]).await;
    let start = now(&app);
    import(&app, DENY).await;
    assert_eq!(overdue(&app).await, (ExitCode::SUCCESS, vec![]));

    let mut late: Vec<String> = Vec::new();
    for (band, remediation) in [
        (Band::Critical, Duration::hours(24)),
        (Band::High, Duration::hours(72)),
        (Band::Moderate, Duration::days(14)),
        (Band::Low, Duration::days(30)),
    ] {
        let of_band: Vec<String> = REPORTED
            .iter()
            .filter(|e| e.band == band)
            .map(|e| e.advisory.to_owned())
            .collect();
        let deadline = start + remediation;
        move_to(&app, deadline - Duration::seconds(1));
        let expected_code = if late.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        };
        assert_eq!(
            overdue(&app).await,
            (expected_code, late.clone()),
            "{band:?}, one second before its deadline"
        );
        for f in findings(&app).await {
            if of_band.contains(&f.advisory_id) {
                assert_eq!(f.standing(now(&app)), Standing::Open, "{}", f.advisory_id);
            }
        }

        move_to(&app, deadline + Duration::seconds(1));
        late.extend(of_band);
        late.sort();
        assert_eq!(
            overdue(&app).await,
            (ExitCode::FAILURE, late.clone()),
            "{band:?}, one second after its deadline: listed, and --overdue exits 1"
        );
    }
    let (_, table) = list(&app, ListOptions::default()).await;
    assert!(table.contains("\toverdue by 29d00h"), "{table}");
    assert!(
        table.ends_with("salus: 7 finding(s), 7 overdue\n"),
        "{table}"
    );
}

#[tokio::test]
async fn importing_again_moves_no_deadline_and_a_finding_left_out_stays_open() {
    let app = spawn(&[]).await;
    import(&app, DENY).await;
    let first = findings(&app).await;

    app.clock.advance(Duration::hours(5));
    let (_, out) = import(&app, DENY).await;
    assert!(
        out.contains("7 finding(s), 0 new, 7 seen again, 0 reopened"),
        "{out}"
    );
    let again = findings(&app).await;
    assert_eq!(again.len(), 7);
    for f in &again {
        let before = of(&first, &f.advisory_id);
        assert_eq!(
            (f.id, f.first_seen, f.due_at),
            (before.id, before.first_seen, before.due_at)
        );
        assert_eq!(f.last_seen, now(&app), "{}", f.advisory_id);
    }

    // The next CI run no longer reports smallvec 1.6.0: it is named, not closed.
    let (_, out) = import(&app, DENY_FIXED).await;
    assert!(out.contains("6 finding(s), 0 new, 6 seen again"), "{out}");
    assert!(
        out.contains("1 finding(s) not in this report stay as they are"),
        "{out}"
    );
    assert!(out.contains("RUSTSEC-2021-0003\tsmallvec\t1.6.0"), "{out}");
    let smallvec = of(&findings(&app).await, "RUSTSEC-2021-0003").clone();
    assert_eq!(smallvec.resolution, Resolution::Open);
    app.clock.advance(Duration::hours(20));
    assert!(
        overdue(&app)
            .await
            .1
            .contains(&"RUSTSEC-2021-0003".to_owned())
    );
    let summary = events(&app).pop().unwrap();
    assert_eq!(summary.0, "vulnerability.imported");
    assert_eq!(summary.2["not_reported"], 1);

    // The same findings from cargo-audit are the same findings.
    let (_, out) = import(&app, AUDIT).await;
    assert!(out.contains("imported the cargo-audit report"), "{out}");
    assert!(out.contains("7 finding(s), 0 new, 7 seen again"), "{out}");
    assert_eq!(findings(&app).await.len(), 7);
}

#[tokio::test]
async fn a_cargo_audit_report_is_read_like_cargo_denys() {
    let app = spawn(&[]).await;
    let (_, out) = import(&app, AUDIT).await;
    assert!(out.contains("7 finding(s), 7 new"), "{out}");
    let found = findings(&app).await;
    for e in REPORTED {
        let f = of(&found, e.advisory);
        assert_eq!(
            (f.version.as_str(), f.severity.score, f.severity.band),
            (e.version, e.score, e.band)
        );
        assert_eq!(f.source.as_str(), "cargo-audit");
    }
}

#[tokio::test]
async fn operators_fix_and_accept_findings_in_the_audit_chain_and_acceptances_end() {
    let app = spawn(&[]).await;
    let start = now(&app);
    import(&app, DENY).await;
    let found = findings(&app).await;
    let smallvec = of(&found, "RUSTSEC-2021-0003").id.0;
    let lazy = of(&found, "RUSTSEC-2021-0004").id.0;

    let fix = |id, commit: &'static str, operator: &'static str| {
        with(&app, move |s| {
            let mut out = Vec::new();
            salus::vulns::fix(s, id, commit, operator, &mut out)
                .map(|_| String::from_utf8(out).unwrap())
        })
    };
    for (commit, operator, why) in [
        ("not-a-commit", OPERATOR, "commit"),
        ("abc12", OPERATOR, "commit"),
        ("c0ffee0", "nobody", "operator"),
    ] {
        let error = fix(smallvec, commit, operator).await.unwrap_err();
        assert!(format!("{error:#}").contains(why), "{error:#}");
    }
    let error = fix(uuid::Uuid::now_v7(), "c0ffee0", OPERATOR)
        .await
        .unwrap_err();
    assert!(
        format!("{error:#}").contains("no such finding"),
        "{error:#}"
    );
    let out = fix(smallvec, "C0FFEE0BEEF", OPERATOR).await.unwrap();
    assert!(out.contains("is fixed by commit c0ffee0beef"), "{out}");
    assert_eq!(
        fix(smallvec, "c0ffee0beef", OPERATOR).await.unwrap(),
        out,
        "the same fix again"
    );
    let error = fix(smallvec, "0000000", OPERATOR).await.unwrap_err();
    assert!(
        format!("{error:#}").contains("marked fixed already"),
        "{error:#}"
    );

    let f = of(&findings(&app).await, "RUSTSEC-2021-0003").clone();
    assert!(matches!(&f.resolution, Resolution::Fixed { commit, by, at }
        if commit == "c0ffee0beef" && by == OPERATOR && *at == start));
    let (_, table) = list(&app, ListOptions::default()).await;
    assert!(
        !table.contains("smallvec"),
        "fixed findings are left out: {table}"
    );
    let (_, table) = list(
        &app,
        ListOptions {
            all: true,
            ..ListOptions::default()
        },
    )
    .await;
    assert!(
        table.contains("\tsmallvec\t1.6.0\tcritical\t9.8\tfixed\t"),
        "{table}"
    );
    let fixed: Vec<_> = events(&app)
        .into_iter()
        .filter(|e| e.0 == "vulnerability.fixed")
        .collect();
    assert_eq!(fixed.len(), 1, "one event per change: {fixed:?}");
    assert_eq!(fixed[0].1, Some(smallvec));
    assert_eq!(fixed[0].2["commit"], "c0ffee0beef");
    assert_eq!(fixed[0].2["operator"], OPERATOR);
    assert_eq!(fixed[0].2["within_deadline"], true);

    // Accepted to the end of a day after the 14-day deadline of lazy-init.
    let accept = |id, reason: &'static str, days: i64| {
        let until = (start + Duration::days(days)).date_naive();
        with(&app, move |s| {
            let mut out = Vec::new();
            salus::vulns::accept(s, id, reason, until, OPERATOR, &mut out)
                .map(|_| String::from_utf8(out).unwrap())
        })
    };
    let reason = "Send bound: only used single-threaded in the build script";
    let error = accept(lazy, reason, -1).await.unwrap_err();
    assert!(
        format!("{error:#}").contains("until: must be in the future"),
        "{error:#}"
    );
    let error = accept(lazy, "  ", 20).await.unwrap_err();
    assert!(format!("{error:#}").contains("reason"), "{error:#}");
    let error = accept(smallvec, reason, 20).await.unwrap_err();
    assert!(
        format!("{error:#}").contains("marked fixed already"),
        "{error:#}"
    );
    let out = accept(lazy, reason, 20).await.unwrap();
    assert!(
        out.contains("then it counts as open again, past its deadline"),
        "{out}"
    );

    let f = of(&findings(&app).await, "RUSTSEC-2021-0004").clone();
    let Resolution::Accepted { until, .. } = f.resolution.clone() else {
        panic!("{f:?}");
    };
    assert_eq!(
        until,
        salus::vulns::end_of((start + Duration::days(20)).date_naive()).unwrap()
    );
    let accepted: Vec<_> = events(&app)
        .into_iter()
        .filter(|e| e.0 == "vulnerability.accepted")
        .collect();
    assert_eq!(accepted.len(), 1);
    assert_eq!(accepted[0].1, Some(lazy));
    assert_eq!(accepted[0].2["reason"], reason);
    assert_eq!(accepted[0].2["until"], until.to_rfc3339());
    assert_eq!(accepted[0].2["operator"], OPERATOR);

    // Past its deadline, the accepted finding is not overdue until the
    // acceptance ends; then it is.
    move_to(&app, until - Duration::seconds(1));
    assert_eq!(f.standing(now(&app)), Standing::Accepted);
    assert!(
        !overdue(&app)
            .await
            .1
            .contains(&"RUSTSEC-2021-0004".to_owned())
    );
    move_to(&app, until + Duration::seconds(1));
    assert_eq!(f.standing(now(&app)), Standing::Overdue);
    assert!(
        overdue(&app)
            .await
            .1
            .contains(&"RUSTSEC-2021-0004".to_owned())
    );
    let (_, table) = list(&app, ListOptions::default()).await;
    assert!(
        table.contains("\tlazy-init\t0.4.0\tmoderate\t5.3\taccepted (ended)\t"),
        "{table}"
    );

    // A report that still holds the fixed version reopens it, deadline unchanged.
    let (_, out) = import(&app, DENY).await;
    assert!(out.contains("1 reopened"), "{out}");
    let f = of(&findings(&app).await, "RUSTSEC-2021-0003").clone();
    assert_eq!(
        (f.resolution, f.due_at),
        (Resolution::Open, start + Duration::hours(24))
    );
    let reopened: Vec<_> = events(&app)
        .into_iter()
        .filter(|e| e.0 == "vulnerability.reopened")
        .collect();
    assert_eq!(reopened.len(), 1);
    assert_eq!(reopened[0].2["fixed_commit"], "c0ffee0beef");

    // Every change is a platform event, and the chain still verifies.
    assert_eq!(
        actions(&app)
            .iter()
            .filter(|a| a.as_str() != "vulnerability.found")
            .collect::<Vec<_>>(),
        [
            "vulnerability.imported",
            "vulnerability.fixed",
            "vulnerability.accepted",
            "vulnerability.reopened",
            "vulnerability.imported"
        ]
    );
    let owner = secrecy::SecretString::from(app.db.owner_url());
    let services = app.services();
    let reports = tokio::task::spawn_blocking(move || {
        salus::audit_admin::verify(&owner, services.audit.sealer(), None, &mut |_, _, _| {})
            .unwrap()
    })
    .await
    .unwrap();
    assert!(reports.iter().all(|r| r.broken.is_none()), "{reports:?}");
}

#[tokio::test]
async fn the_list_in_json_says_where_each_finding_stands() {
    let app = spawn(&[]).await;
    import(&app, DENY).await;
    app.clock.advance(Duration::hours(25));
    let (code, out) = list(
        &app,
        ListOptions {
            json: true,
            ..ListOptions::default()
        },
    )
    .await;
    assert_eq!(
        code,
        ExitCode::SUCCESS,
        "without --overdue the list succeeds"
    );
    let items: Vec<Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(items.len(), 7);
    let smallvec = items.iter().find(|i| i["package"] == "smallvec").unwrap();
    assert_eq!(smallvec["standing"], "overdue");
    assert_eq!(smallvec["seconds_left"], -3600);
    assert_eq!(
        smallvec["cvss_vector"],
        "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
    );
    let idna = items.iter().find(|i| i["package"] == "idna").unwrap();
    assert_eq!(
        (idna["standing"].as_str(), idna["cvss_score"].as_f64()),
        (Some("open"), None)
    );
    assert_eq!(idna["seconds_left"], 47 * 3600);
}

#[tokio::test]
async fn metrics_show_open_and_overdue_findings_by_band() {
    let app = spawn(&METRICS_ON).await;
    let start = now(&app);
    let gauges = |text: &str| -> Vec<(f64, f64)> {
        ["critical", "high", "moderate", "low"]
            .iter()
            .map(|band| {
                let value = |name: &str| {
                    metric_value(text, &format!("{name}{{band=\"{band}\"}}"))
                        .unwrap_or_else(|| panic!("no {name} for {band}: {text}"))
                };
                (
                    value("salus_vulnerabilities_open"),
                    value("salus_vulnerabilities_overdue"),
                )
            })
            .collect()
    };
    assert_eq!(gauges(&app.scrape_metrics().await), [(0.0, 0.0); 4]);

    import(&app, DENY).await;
    assert_eq!(
        gauges(&app.scrape_metrics().await),
        [(2.0, 0.0), (2.0, 0.0), (1.0, 0.0), (2.0, 0.0)]
    );

    move_to(&app, start + Duration::hours(24) + Duration::seconds(1));
    assert_eq!(
        gauges(&app.scrape_metrics().await),
        [(2.0, 2.0), (2.0, 0.0), (1.0, 0.0), (2.0, 0.0)]
    );

    // One critical fixed, the other accepted for a day: neither counts.
    let found = findings(&app).await;
    let (smallvec, http) = (
        of(&found, "RUSTSEC-2021-0003").id,
        of(&found, "RUSTSEC-2019-0034").id,
    );
    let until = start + Duration::hours(48);
    with(&app, move |s| {
        s.vulns.fix(smallvec, "c0ffee0", OPERATOR).unwrap();
        s.vulns
            .accept(http, "HeaderMap::drain is not called", until, OPERATOR)
            .unwrap();
    })
    .await;
    assert_eq!(
        gauges(&app.scrape_metrics().await),
        [(0.0, 0.0), (2.0, 0.0), (1.0, 0.0), (2.0, 0.0)]
    );

    // When the acceptance ends, the accepted one is open and overdue again.
    move_to(&app, until + Duration::seconds(1));
    assert_eq!(
        gauges(&app.scrape_metrics().await),
        [(1.0, 1.0), (2.0, 0.0), (1.0, 0.0), (2.0, 0.0)]
    );
}
