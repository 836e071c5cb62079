//! Backups with pgBackRest (`salus backup`, issue 14), on a PostgreSQL 15 cluster
//! of each test's own that archives its WAL into an encrypted repository: the
//! cluster destroyed and restored to a moment between two writes, a
//! repository that holds no plaintext and opens with its passphrase only, the
//! restore drill passing on a sound backup and failing (with an alert) on a
//! corrupted one, and expiry after the retention period.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use salus::backup::{BackupInfo, BackupKind};
use salus::config::Config;
use salus_tests::cluster::{Cluster, Scratch, as_cluster_user, contains, files_under};
use salus_tests::identity::Member;
use salus_tests::{TestApp, TestDb, metric_value};
use secrecy::SecretString;
use serde_json::json;

const PASSPHRASE: &str = "test-only-backup-passphrase-long-enough-0001";

/// The `BACKUP_*` settings for `cluster`, with the repository and the work
/// directory (`work`) in `scratch`.
fn backup_vars(
    scratch: &Scratch,
    cluster: &Cluster,
    work: &str,
    passphrase: &str,
) -> Vec<(&'static str, String)> {
    vec![
        (
            "BACKUP_REPO_PATH",
            scratch.path("repo").display().to_string(),
        ),
        ("BACKUP_CIPHER_PASS", passphrase.to_owned()),
        ("BACKUP_PG_DATA", cluster.data.display().to_string()),
        ("BACKUP_PG_PORT", cluster.port.to_string()),
        ("BACKUP_PG_SOCKET", cluster.socket.display().to_string()),
        ("BACKUP_WORK_DIR", scratch.path(work).display().to_string()),
    ]
}

fn refs<'a>(vars: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    vars.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// A cluster that archives its WAL with `salus backup archive-command`'s
/// command (with the settings `extra` adds), migrated, and a server over it.
async fn archiving_cluster(
    scratch: &Scratch,
    extra: &[(&'static str, &str)],
) -> (Cluster, Vec<(&'static str, String)>, TestApp) {
    let mut cluster = Cluster::init(scratch, "live");
    let mut vars = backup_vars(scratch, &cluster, "work", PASSPHRASE);
    vars.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .chain([("APP_ENV".to_owned(), "test".to_owned())])
        .collect();
    let backup = salus::config::read_backup(&move |name: &str| map.get(name).cloned())
        .unwrap()
        .expect("backups configured");
    let archive_command = salus::backup::archive_command(&backup).unwrap();
    cluster.configure(&[
        ("archive_mode", "on"),
        ("archive_command", &archive_command),
    ]);
    cluster.start();
    let port = cluster.port;
    let db = tokio::task::spawn_blocking(move || TestDb::migrated_on(port))
        .await
        .unwrap();
    let app = TestApp::try_spawn_on(db, &[("METRICS_BIND", "127.0.0.1:0")])
        .await
        .unwrap_or_else(|(e, _)| panic!("server failed to start: {e:#}"));
    (cluster, vars, app)
}

/// Creates a patient through the API; its id.
async fn patient(app: &TestApp, owner: &Member, family_name: &str) -> String {
    app.patient(
        owner,
        json!({"family_name": family_name, "given_name": "Ada", "birth_date": "1985-12-10",
               "sex": "female", "national_id": format!("NID-{family_name}")}),
    )
    .await
    .id
}

async fn take(config: &Config, kind: BackupKind) -> BackupInfo {
    let config = config.clone();
    tokio::task::spawn_blocking(move || {
        let mut lines = Vec::new();
        let info = salus::backup::run(&config, kind, &mut |l| lines.push(l.to_owned()))
            .unwrap_or_else(|e| panic!("backup failed: {e:#}"));
        assert!(
            lines.iter().any(|l| l.contains("taking a backup")),
            "progress is reported: {lines:?}"
        );
        info
    })
    .await
    .unwrap()
}

async fn restore(
    config: &Config,
    target: Option<DateTime<Utc>>,
    to: &Path,
) -> anyhow::Result<String> {
    let (config, to) = (config.clone(), to.to_owned());
    tokio::task::spawn_blocking(move || {
        salus::backup::restore(&config, target, &to, &mut |_| {}).map(|r| r.label)
    })
    .await
    .unwrap()
}

/// A restore target after `backup` and half a second before anything the test
/// writes next. pgBackRest keeps whole seconds: a restore starts from a backup
/// whose stop second ended before the target.
async fn a_target_after(backup: &BackupInfo) -> DateTime<Utc> {
    let wait = backup.stopped + chrono::Duration::milliseconds(1500) - Utc::now();
    tokio::time::sleep(
        wait.to_std()
            .unwrap_or_default()
            .max(Duration::from_millis(500)),
    )
    .await;
    let target = Utc::now();
    tokio::time::sleep(Duration::from_millis(500)).await;
    target
}

/// Letters only (a family name the text policy accepts), unique to this run.
fn marker() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let letters: String = id
        .bytes()
        .map(|b| char::from(b'a' + b % 26))
        .take(20)
        .collect();
    format!("Zq{letters}")
}

#[tokio::test]
async fn a_destroyed_cluster_is_restored_to_a_moment_with_every_write_before_it_and_none_after() {
    let scratch = Scratch::new("backup-pitr");
    let (mut live, vars, app) = archiving_cluster(&scratch, &[]).await;
    let config = app.config_with(&refs(&vars));
    let owner = app.owner_with_mfa("Backup Clinic").await;

    let first = patient(&app, &owner, "Before-full").await;
    let full = take(&config, BackupKind::Full).await;
    assert_eq!(full.kind, "full");
    let second = patient(&app, &owner, "Between-backups").await;
    let incr = take(&config, BackupKind::Incr).await;
    assert_eq!(
        (incr.kind.as_str(), incr.prior.as_deref()),
        ("incr", Some(full.label.as_str()))
    );
    let third = patient(&app, &owner, "After-backups").await;
    let target = a_target_after(&incr).await;
    let after_target = patient(&app, &owner, "After-target").await;
    live.archive_wal();

    let listed = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || salus::backup::list(&config, &mut |_| {}).unwrap())
            .await
            .unwrap()
    };
    let labels: Vec<&str> = listed.iter().map(|b| b.label.as_str()).collect();
    assert_eq!(labels, [full.label.as_str(), incr.label.as_str()]);
    assert!(
        listed
            .iter()
            .all(|b| b.size > 0 && b.repo_size > 0 && b.wal.is_some())
    );

    // The cluster is lost; the server keeps running without its database.
    live.destroy();
    let to = scratch.path("restored");
    let label = restore(&config, Some(target), &to)
        .await
        .unwrap_or_else(|e| panic!("restore failed: {e:#}"));
    assert_eq!(label, incr.label, "the newest backup before the target");
    let mut copy = Cluster::adopt(&scratch, "restored", to);
    copy.start();
    copy.wait_until_promoted();

    let db = app.db.name();
    let present = copy.sql(
        db,
        "SELECT string_agg(id::text, ',' ORDER BY id) FROM patients",
    );
    for (name, id) in [("first", &first), ("second", &second), ("third", &third)] {
        assert!(
            present.contains(id.as_str()),
            "{name} is missing: {present}"
        );
    }
    assert!(
        !present.contains(after_target.as_str()),
        "a patient created after the target is present"
    );
    let taken = copy.sql(
        db,
        "SELECT count(*) FROM audit.events WHERE action = 'backup.taken' AND outcome = 'success' \
         AND clinic_id IS NULL AND user_agent = 'salus backup run'",
    );
    assert_eq!(
        taken, "2",
        "both backups are in the platform chain, the command as their client"
    );

    let copy_db = app.db.copy_on(copy.port);
    let owner_url = SecretString::from(copy_db.owner_url());
    let sealer = salus::serve::audit_sealer(&config).unwrap();
    let reports = tokio::task::spawn_blocking(move || {
        salus::audit_admin::verify(&owner_url, &sealer, None, &mut |_, _, _| {}).unwrap()
    })
    .await
    .unwrap();
    assert!(
        reports.len() >= 2,
        "clinic and platform chains: {reports:?}"
    );
    assert!(
        reports.iter().all(|r| r.broken.is_none()),
        "a chain is broken after the restore: {reports:?}"
    );
}

#[tokio::test]
async fn the_repository_holds_no_plaintext_and_opens_only_with_its_passphrase() {
    let scratch = Scratch::new("backup-cipher");
    // Uncompressed, so only the encryption can hide the marker.
    let (live, vars, app) = archiving_cluster(&scratch, &[("BACKUP_COMPRESS_TYPE", "none")]).await;
    let config = app.config_with(&refs(&vars));
    let owner = app.owner_with_mfa("Cipher Clinic").await;
    let marker = marker();
    patient(&app, &owner, &marker).await;
    assert!(
        live.files_contain(marker.as_bytes()),
        "the family name is plain in the cluster's files, so the search below can see it"
    );

    let full = take(&config, BackupKind::Full).await;
    live.archive_wal();
    let repo = scratch.path("repo");
    let files = files_under(&repo);
    let bytes: usize = files.iter().map(|f| std::fs::read(f).unwrap().len()).sum();
    assert!(
        files.len() > 10 && bytes > 100_000,
        "the repository holds the backup and WAL ({} files, {bytes} bytes)",
        files.len()
    );
    for file in &files {
        assert!(
            !contains(&std::fs::read(file).unwrap(), marker.as_bytes()),
            "{} holds the marker in clear",
            file.display()
        );
    }

    // A wrong passphrase: neither salus nor pgbackrest itself can restore.
    let wrong_vars = backup_vars(
        &scratch,
        &live,
        "work-wrong",
        "a-wrong-passphrase-of-enough-length-0002",
    );
    let wrong = app.config_with(&refs(&wrong_vars));
    let refused = restore(&wrong, None, &scratch.path("wrong"))
        .await
        .unwrap_err();
    assert!(
        format!("{refused:#}").contains("the repository cannot be read"),
        "{refused:#}"
    );
    let wrong_backup = wrong.backup.clone().unwrap();
    salus::backup::archive_command(&wrong_backup).unwrap();
    let target = scratch.dir("wrong-direct", 0o700);
    let output = as_cluster_user("pgbackrest")
        .arg(format!(
            "--config={}",
            scratch.path("work-wrong").join("pgbackrest.conf").display()
        ))
        .args([
            "--stanza=salus",
            "restore",
            &format!("--set={}", full.label),
        ])
        .arg(format!("--pg1-path={}", target.display()))
        .output()
        .unwrap();
    assert!(
        !output.status.success(),
        "pgbackrest restored with a wrong passphrase"
    );
    assert!(!target.join("PG_VERSION").exists());

    // The right one restores.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let label = restore(&config, None, &scratch.path("right"))
        .await
        .unwrap_or_else(|e| panic!("restore failed: {e:#}"));
    assert_eq!(label, full.label);
    assert!(scratch.path("right").join("PG_VERSION").exists());
}

#[tokio::test]
async fn a_restore_refuses_a_directory_in_use_and_never_touches_the_live_cluster() {
    let scratch = Scratch::new("backup-refusals");
    let (live, vars, app) = archiving_cluster(&scratch, &[]).await;
    let config = app.config_with(&refs(&vars));
    take(&config, BackupKind::Full).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let now = Utc::now();

    let error = restore(&config, Some(now), &live.data).await.unwrap_err();
    assert!(
        format!("{error:#}").contains("overlaps the live data directory"),
        "{error:#}"
    );
    let busy = scratch.dir("busy", 0o700);
    std::fs::write(busy.join("keep.txt"), "operator's file").unwrap();
    let error = restore(&config, Some(now), &busy).await.unwrap_err();
    assert!(
        format!("{error:#}").contains("it is not empty"),
        "{error:#}"
    );
    assert_eq!(
        std::fs::read_to_string(busy.join("keep.txt")).unwrap(),
        "operator's file"
    );
    let error = restore(
        &config,
        Some(now + chrono::Duration::hours(1)),
        &scratch.path("later"),
    )
    .await
    .unwrap_err();
    assert!(format!("{error:#}").contains("in the future"), "{error:#}");
    let error = restore(
        &config,
        Some(now - chrono::Duration::days(1)),
        &scratch.path("earlier"),
    )
    .await
    .unwrap_err();
    assert!(
        format!("{error:#}").contains("no backup finished before"),
        "{error:#}"
    );
    assert_eq!(
        live.sql("postgres", "SELECT 1"),
        "1",
        "the live cluster still serves"
    );
}

async fn drill(config: &Config, set: Option<&str>) -> salus::backup::DrillReport {
    let (config, set) = (config.clone(), set.map(str::to_owned));
    tokio::task::spawn_blocking(move || {
        salus::backup::verify(&config, set.as_deref(), &mut |_| {})
            .unwrap_or_else(|e| panic!("the drill could not run: {e:#}"))
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn the_drill_restores_a_backup_and_finds_every_table_as_the_source_held_it() {
    let scratch = Scratch::new("backup-drill");
    let (_live, vars, app) = archiving_cluster(&scratch, &[]).await;
    let config = app.config_with(&refs(&vars));
    let owner = app.owner_with_mfa("Drill Clinic").await;
    for name in ["Drill-one", "Drill-two", "Drill-three"] {
        patient(&app, &owner, name).await;
    }
    let before = app.scrape_metrics().await;
    assert_eq!(
        metric_value(&before, "salus_backup_last_success_age_seconds"),
        None,
        "no backup yet: {before}"
    );
    let full = take(&config, BackupKind::Full).await;
    // Written after the backup's restore point: the drill compares the copy with
    // the source at that point, so later writes are no difference.
    patient(&app, &owner, "After-the-point").await;

    let report = drill(&config, None).await;
    assert!(report.verified, "the drill failed: {:?}", report.failures);
    assert_eq!(report.label, full.label);
    assert!(report.tables_compared >= 20, "{report:?}");
    assert!(report.rows_compared > 0);
    assert!(
        report.sealed_sampled >= 3 && report.sealed_opened == report.sealed_sampled,
        "every sampled national id decrypts: {report:?}"
    );
    assert!(
        report.audit_chains >= 2,
        "clinic and platform chains: {report:?}"
    );
    assert!(report.restore_seconds.is_some_and(|s| s > 0.0));
    assert!(report.rpo_seconds.is_some(), "the WAL lag is measured");
    let kept: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report.report_path).unwrap()).unwrap();
    assert_eq!(kept["verified"], true);
    assert!(
        !scratch.path("work").join("drill").exists(),
        "the scratch cluster is removed"
    );
    let verdicts = salus::backup::drill_verdicts(&config);
    assert_eq!(verdicts.get(&full.label).map(|v| v.0), Some(true));

    let text = app.scrape_metrics().await;
    for name in [
        "salus_backup_last_success_age_seconds",
        "salus_backup_last_verified_age_seconds",
        "salus_backup_rpo_seconds",
        "salus_restore_seconds",
    ] {
        let value =
            metric_value(&text, name).unwrap_or_else(|| panic!("{name} is missing: {text}"));
        // Ages are read on the test server's clock, which stands still.
        assert!(value.abs() < 3600.0, "{name} = {value}");
    }
    assert_eq!(
        metric_value(&text, "salus_restore_seconds"),
        report.restore_seconds,
        "the gauge is the drill's measure"
    );
    let round = app.audit_round().await;
    assert!(
        round.alerts.iter().all(|a| !a.kind.starts_with("backup_")),
        "a verified backup raises nothing: {:?}",
        round.alerts
    );

    // Had the source held one patient more at the restore point (a write lost
    // by the backup), the copy would differ from it: the drill must say so.
    let kept = scratch
        .path("work")
        .join("reports")
        .join(format!("{}.source.json", full.label));
    let mut source: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&kept).unwrap()).unwrap();
    let patients = source["tables"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|t| t["table"] == "public.patients")
        .expect("the patients table is fingerprinted");
    assert_eq!(patients["tenant"], true);
    let rows = patients["rows"].as_i64().unwrap();
    assert_eq!(
        rows, 3,
        "the patient written after the restore point is not counted"
    );
    patients["rows"] = json!(rows + 1);
    std::fs::write(&kept, serde_json::to_vec(&source).unwrap()).unwrap();
    let report = drill(&config, Some(&full.label)).await;
    assert!(
        !report.verified,
        "a copy that differs from its source passed"
    );
    assert!(
        report
            .failures
            .iter()
            .any(|f| f == "public.patients: 3 rows restored, 4 in the source"),
        "{:?}",
        report.failures
    );
}

#[tokio::test]
async fn a_corrupted_backup_fails_its_drill_and_raises_an_alert() {
    let scratch = Scratch::new("backup-corrupt");
    let (_live, vars, app) = archiving_cluster(&scratch, &[]).await;
    let config = app.config_with(&refs(&vars));
    let owner = app.owner_with_mfa("Corrupt Clinic").await;
    patient(&app, &owner, "Corrupted").await;
    let full = take(&config, BackupKind::Full).await;

    // The largest file of the backup, altered in the middle.
    let files = files_under(&scratch.path("repo").join("backup/salus").join(&full.label));
    let victim = files
        .iter()
        .filter(|f| !f.to_string_lossy().contains("backup.manifest"))
        .max_by_key(|f| std::fs::metadata(f).unwrap().len())
        .expect("the backup has files")
        .clone();
    let mut bytes = std::fs::read(&victim).unwrap();
    let middle = bytes.len() / 2;
    for b in &mut bytes[middle..middle + 16] {
        *b ^= 0xff;
    }
    std::fs::write(&victim, bytes).unwrap();

    let report = drill(&config, Some(&full.label)).await;
    assert!(!report.verified, "a corrupted backup passed its drill");
    assert!(
        report.failures.iter().any(|f| f.contains("checksums")),
        "pgbackrest verify names the damage: {:?}",
        report.failures
    );
    assert_eq!(
        salus::backup::drill_verdicts(&config)
            .get(&full.label)
            .map(|v| v.0),
        Some(false)
    );
    let round = app.audit_round().await;
    let raised: Vec<&str> = round.alerts.iter().map(|a| a.kind.as_str()).collect();
    assert!(raised.contains(&"backup_drill_failed"), "{raised:?}");
    assert!(
        round.alerts.iter().all(|a| a.clinic_id.is_none()),
        "backup alerts are the platform's"
    );
    let again = app.audit_round().await;
    assert!(
        again.alerts.iter().all(|a| a.kind != "backup_drill_failed"),
        "one alert per failed drill"
    );
}

/// Runs pgBackRest's own `expire` with the generated configuration and the clock
/// moved `days` ahead (libfaketime).
fn expire_in(scratch: &Scratch, days: u32) {
    let output = as_cluster_user("faketime")
        .args(["-f", &format!("+{days}d"), "pgbackrest"])
        .arg(format!(
            "--config={}",
            scratch.path("work").join("pgbackrest.conf").display()
        ))
        .args(["--stanza=salus", "expire"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "expire failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn backups_expire_after_the_retention_period_and_not_before() {
    let scratch = Scratch::new("backup-expiry");
    let (_live, vars, app) = archiving_cluster(&scratch, &[]).await;
    let config = app.config_with(&refs(&vars));
    assert_eq!(config.backup.as_ref().unwrap().retention_days, 30);
    let owner = app.owner_with_mfa("Closing Clinic").await;
    patient(&app, &owner, "Closing").await;
    let old = take(&config, BackupKind::Full).await;
    // A clinic destroyed between the two backups: only the old one holds it.
    let (closing, certificate) = close_clinic(&app, &config, &owner).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let newer = take(&config, BackupKind::Full).await;
    let labels = |config: &Config| {
        salus::backup::list(config, &mut |_| {})
            .unwrap()
            .into_iter()
            .map(|b| b.label)
            .collect::<Vec<_>>()
    };

    assert_eq!(
        certificate.document["last_backup"]["label"],
        old.label.as_str(),
        "the certificate names the last backup that holds the clinic"
    );
    let certify = |config: &Config| {
        salus::backup::destructions::certify_expired_backups(config, &mut |_| {})
            .unwrap_or_else(|e| panic!("the backups check failed: {e:#}"))
    };

    // 29 days on, both are inside the 30 days: nothing goes.
    expire_in(&scratch, 29);
    assert_eq!(labels(&config), [old.label.clone(), newer.label.clone()]);
    assert!(
        certify(&config).is_empty(),
        "the old backup still holds the clinic"
    );
    // 31 days on, both are older than the window: the newest of them stays, as
    // the base a restore to the window's start needs; the older one goes.
    expire_in(&scratch, 31);
    assert_eq!(labels(&config), [newer.label]);

    // The second certificate follows the repository, checked not assumed.
    let issued = certify(&config);
    assert_eq!(issued.len(), 1);
    let second = &issued[0].document;
    assert_eq!(second["kind"], "backups_expired");
    assert_eq!(second["clinic_id"], closing.as_str());
    assert_eq!(
        second["destruction_certificate_id"],
        certificate.document["certificate_id"]
    );
    assert_eq!(second["backups_in_repository"], 1);
    let trusted = salus::serve::audit_sealer(&config).unwrap().public_keys();
    assert_eq!(issued[0].verify(&trusted), Ok(()));
    assert!(
        app.outbox(&owner.email)
            .iter()
            .any(|(subject, body)| subject.contains("no backup holds") && body.contains(&closing)),
        "the owner gets the second certificate"
    );
    assert!(certify(&config).is_empty(), "issued once");
}

#[tokio::test]
async fn a_restore_never_resurrects_an_erased_patient_and_the_register_says_why() {
    let scratch = Scratch::new("backup-erasure");
    let (live, vars, app) = archiving_cluster(&scratch, &[]).await;
    let config = app.config_with(&refs(&vars));
    let owner = app.owner_with_mfa("Harbour Clinic").await;
    let erased = patient(&app, &owner, "Erasing").await;
    let kept = patient(&app, &owner, "Keeping").await;
    let full = take(&config, BackupKind::Full).await;
    let target = a_target_after(&full).await;
    // No encounter, so no retention: the erasure runs at once.
    let path = format!("/api/v1/patients/{erased}/erasure");
    let asked = app
        .post_json_as(&owner.access, &path, &json!({"reason": "asked in writing"}))
        .await;
    assert_eq!(asked.status(), 201);
    let decided = app
        .post_json_as(
            &owner.access,
            &format!("{path}/decision"),
            &json!({"decision": "erase", "reason": "no retention applies"}),
        )
        .await;
    assert_eq!(decided.status(), 200);
    live.archive_wal();

    // The drill compares the copy with the source as it was (the patient still
    // in it), then re-applies the register: the erasure is counted.
    let report = drill(&config, Some(&full.label)).await;
    assert!(report.verified, "{:?}", report.failures);
    assert_eq!(
        (report.erasures_reapplied, report.erasures_in_register),
        (1, 1)
    );

    // A restore to a moment before the erasure: the copy held the patient, and
    // the register erases them again before anyone can start the copy.
    let to = scratch.path("restored");
    let restored = {
        let (config, to) = (config.clone(), to.clone());
        tokio::task::spawn_blocking(move || {
            salus::backup::restore(&config, Some(target), &to, &mut |_| {})
        })
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("restore failed: {e:#}"))
    };
    assert_eq!(restored.reapplied.erasures, 1);
    assert_eq!(
        restored.reapplied.erased_again,
        [uuid::Uuid::parse_str(&erased).unwrap()],
        "the register names the patient it erased again"
    );
    let mut copy = Cluster::adopt(&scratch, "restored", to);
    copy.start();
    copy.wait_until_promoted();
    let db = app.db.name();
    let count = |copy: &Cluster, sql: String| copy.sql(db, &sql);
    assert_eq!(
        count(
            &copy,
            format!("SELECT count(*) FROM patients WHERE id = '{erased}'")
        ),
        "0",
        "the erased patient came back with the restore"
    );
    assert_eq!(
        count(
            &copy,
            "SELECT count(*) FROM patients WHERE family_name = 'Erasing'".to_owned()
        ),
        "0"
    );
    assert_eq!(
        count(
            &copy,
            format!("SELECT count(*) FROM patient_tombstones WHERE erased_patient_id = '{erased}'")
        ),
        "1",
        "the copy keeps the tombstone"
    );
    assert_eq!(
        count(
            &copy,
            format!("SELECT count(*) FROM patients WHERE id = '{kept}'")
        ),
        "1",
        "the other patient is restored"
    );
    // Why: the register's entry of the erasure.
    let entries: Vec<_> = std::fs::read_dir(app.register_dir())
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(entries.len(), 1);
    let entry = salus::register::read_signed(&entries[0].path()).unwrap();
    assert_eq!(entry.kind(), "patient_erased");
    assert_eq!(entry.document["patient_id"], erased.as_str());
}

/// Asks for the closure of `owner`'s clinic and executes it at once as an
/// operator: the clinic's id and its certificate.
async fn close_clinic(
    app: &TestApp,
    config: &Config,
    owner: &Member,
) -> (String, salus_domain::closure::certificate::Signed) {
    let clinic = app.me(owner).await["clinic"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let asked = app
        .post("/api/v1/clinic/closure")
        .bearer_auth(&owner.access)
        .send()
        .await
        .unwrap();
    assert_eq!(asked.status(), 201);
    let (config, id) = (config.clone(), uuid::Uuid::parse_str(&clinic).unwrap());
    let signed = tokio::task::spawn_blocking(move || {
        salus::certificates::close_now(&config, salus_domain::ids::ClinicId(id), "ops@salus.test")
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("the closure failed: {e:#}"));
    (clinic, signed)
}

#[tokio::test]
async fn a_restore_never_resurrects_a_destroyed_clinic_and_the_register_says_why() {
    let scratch = Scratch::new("backup-register");
    let (live, vars, app) = archiving_cluster(&scratch, &[]).await;
    let config = app.config_with(&refs(&vars));
    let closing = app.owner_with_mfa("Closing Clinic").await;
    patient(&app, &closing, "Closing").await;
    let staying = app.owner_with_mfa("Staying Clinic").await;
    let kept = patient(&app, &staying, "Staying").await;
    let full = take(&config, BackupKind::Full).await;
    let target = a_target_after(&full).await;
    let (clinic, certificate) = close_clinic(&app, &config, &closing).await;
    live.archive_wal();

    // The drill compares the copy with the source as it was (the clinic still
    // in it), then re-applies the register.
    let report = drill(&config, Some(&full.label)).await;
    assert!(report.verified, "{:?}", report.failures);
    assert_eq!(
        (
            report.destructions_reapplied,
            report.destructions_in_register
        ),
        (1, 1)
    );

    // A restore to a moment before the destruction: the copy held the clinic,
    // and the register deletes it again before anyone can start the copy.
    let to = scratch.path("restored");
    let restored = {
        let (config, to) = (config.clone(), to.clone());
        tokio::task::spawn_blocking(move || {
            salus::backup::restore(&config, Some(target), &to, &mut |_| {})
        })
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("restore failed: {e:#}"))
    };
    assert_eq!(restored.reapplied.destructions, 1);
    assert_eq!(
        restored.reapplied.reapplied,
        [uuid::Uuid::parse_str(&clinic).unwrap()],
        "the register names the clinic it deleted again"
    );
    let mut copy = Cluster::adopt(&scratch, "restored", to);
    copy.start();
    copy.wait_until_promoted();
    let db = app.db.name();
    for (table, column) in [
        ("clinics", "id"),
        ("patients", "clinic_id"),
        ("memberships", "clinic_id"),
        ("clinic_keys", "clinic_id"),
        ("audit.events", "clinic_id"),
    ] {
        assert_eq!(
            copy.sql(
                db,
                &format!("SELECT count(*) FROM {table} WHERE {column} = '{clinic}'")
            ),
            "0",
            "{table} of the destroyed clinic came back with the restore"
        );
    }
    assert_eq!(
        copy.sql(
            db,
            &format!("SELECT count(*) FROM patients WHERE id = '{kept}'")
        ),
        "1",
        "the other clinic is restored"
    );
    // Why: the register's entry is the certificate of destruction.
    let entries: Vec<_> = std::fs::read_dir(app.register_dir())
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(entries.len(), 1);
    let entry = salus::register::read_signed(&entries[0].path()).unwrap();
    assert_eq!(entry, certificate);
}
