//! `salus backup verify`: the restore drill. A backup counts as verified only
//! when a copy restored from it starts and holds what the live database held.
//!
//! 1. `pgbackrest verify`: every file of the repository against its checksum.
//! 2. The backup restored into a scratch cluster (`scratch.rs`), WAL replayed to
//!    the restore point its fingerprint was taken at (`fingerprint.rs`), the copy
//!    started on a private socket and promoted: the time this takes is the
//!    measured restore time (RTO).
//! 3. On the copy: no migration pending (the binary can serve it), every audit
//!    chain verifies (`salus audit verify`), every table's count and checksum
//!    equal the source's at the restore point, and a sample of every sealed
//!    column decrypts with the clinic keys (unwrapped under `MASTER_KEYS`).
//! 4. The scratch cluster is stopped and deleted.
//!
//! The report (JSON) is kept under `BACKUP_WORK_DIR/reports/`, and the platform
//! audit chain gets `backup.verified` (success or failure, with the figures):
//! `/metrics` reads its gauges from those events and the audit job raises an
//! alert on a failed drill or when no backup newer than 26 hours is verified.

use std::time::{Duration, Instant};

use anyhow::Context;
use base64::Engine;
use chrono::{DateTime, Utc};
use diesel::{Connection, PgConnection};
use salus_domain::audit::{Outcome, actions};
use salus_domain::crypto::{ClinicKeys, SEALED_COLUMNS, WrappedKeys};
use salus_domain::ids::ClinicId;
use secrecy::SecretString;
use serde::Serialize;

use super::fingerprint::{self, Fingerprint, TableSum};
use super::pgbackrest::Pgbackrest;
use super::psql::Psql;
use super::scratch::Scratch;
use super::{BackupInfo, configured, database_name, record, reports_dir};
use crate::config::Config;

/// How long the copy may take to recover before the drill gives up.
pub(super) const RECOVERY_TIMEOUT: Duration = Duration::from_secs(4 * 3600);

/// What a drill found.
#[derive(Debug, Clone, Serialize)]
pub struct DrillReport {
    /// The backup drilled.
    pub label: String,
    /// Its type.
    pub backup_type: String,
    /// When it finished.
    pub backup_stopped: DateTime<Utc>,
    /// When the drill started.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: DateTime<Utc>,
    /// Every check passed.
    pub verified: bool,
    /// What failed, one line each (empty when verified).
    pub failures: Vec<String>,
    /// Restore, start and recovery of the copy, in seconds (the measured RTO).
    pub restore_seconds: Option<f64>,
    /// WAL written on the source and not yet archived when the drill started, in
    /// seconds (the RPO at that moment; 0 when everything was archived).
    pub rpo_seconds: Option<f64>,
    /// The whole drill, in seconds.
    pub drill_seconds: f64,
    /// How long writers waited while the source's fingerprint was taken, in ms.
    pub fingerprint_lock_ms: Option<u64>,
    /// Tables compared with the source.
    pub tables_compared: usize,
    /// Rows compared with the source.
    pub rows_compared: i64,
    /// Audit chains verified on the copy.
    pub audit_chains: usize,
    /// Sealed fields decrypted on the copy.
    pub sealed_opened: usize,
    /// Sealed fields sampled.
    pub sealed_sampled: usize,
    /// Destructions of the register re-applied to the copy after the checks
    /// (clinics it still held), and how many the register holds.
    pub destructions_reapplied: usize,
    /// Destructions in the register.
    pub destructions_in_register: usize,
    /// Patients' erasures of the register re-applied to the copy (patients it
    /// still held).
    pub erasures_reapplied: usize,
    /// Patients' erasures in the register.
    pub erasures_in_register: usize,
    /// Where this report is kept.
    pub report_path: String,
}

/// Drills the backup `set` (the newest when `None`) and records the outcome;
/// `progress` is told each step. A failed drill is a report with `verified`
/// false, not an error; errors are what kept the drill from running at all.
pub fn verify(
    config: &Config,
    set: Option<&str>,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<DrillReport> {
    let backup = configured(config)?;
    let tool = Pgbackrest::prepare(backup)?;
    let backups = tool.backups()?;
    let chosen = match set {
        Some(label) => backups.iter().find(|b| b.label == label),
        None => backups.last(),
    }
    .cloned()
    .with_context(|| match set {
        Some(label) => format!("the repository holds no backup {label}"),
        None => "the repository holds no backup".to_owned(),
    })?;
    let report = drill(config, &tool, &chosen, progress)?;
    let details = serde_json::json!({
        "label": report.label, "backup_type": report.backup_type,
        "backup_stopped": report.backup_stopped, "verified": report.verified,
        "failures": report.failures, "restore_seconds": report.restore_seconds,
        "rpo_seconds": report.rpo_seconds, "drill_seconds": report.drill_seconds,
        "tables_compared": report.tables_compared, "sealed_opened": report.sealed_opened,
        "destructions_reapplied": report.destructions_reapplied,
        "erasures_reapplied": report.erasures_reapplied,
    });
    let outcome = if report.verified {
        Outcome::Success
    } else {
        Outcome::Failure
    };
    record(
        config,
        actions::BACKUP_VERIFIED,
        outcome,
        details,
        "salus backup verify",
    )
    .with_context(|| {
        format!(
            "the drill of {} ended (report {}), but its audit event could not be written",
            report.label, report.report_path
        )
    })?;
    Ok(report)
}

fn drill(
    config: &Config,
    tool: &Pgbackrest<'_>,
    backup: &BackupInfo,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<DrillReport> {
    let settings = tool.backup;
    let started = Instant::now();
    let started_at = Utc::now();
    let reports = reports_dir(settings)?;
    let database = database_name(config)?;
    let mut failures = Vec::new();
    let live = Psql::new(
        &settings.pg_socket,
        settings.pg_port,
        tool.as_root.then_some(settings.os_user.as_str()),
    );
    let rpo_seconds = match live.value(&database, salus_persistence::backup_status::ARCHIVE_LAG_SQL)
    {
        Ok(v) if v.is_empty() => None,
        Ok(v) => v.parse().ok(),
        Err(e) => {
            progress(&format!(
                "warning: the live cluster's WAL lag cannot be read: {e:#}"
            ));
            None
        }
    };

    progress("checking every file of the repository (pgbackrest verify)");
    // `verify` exits 0 whatever it finds; its text report says `status: error`
    // when a file fails its checksum.
    match tool.run(&["verify", "--output=text"], progress) {
        Ok(out) if !out.lines().any(|l| l.trim() == "status: error") => {}
        Ok(out) => failures.push(format!(
            "the repository failed its checksums: {}",
            out.lines().map(str::trim).collect::<Vec<_>>().join("; ")
        )),
        Err(e) => failures.push(format!("the repository cannot be verified: {e:#}")),
    }
    let source = read_fingerprint(&reports, &backup.label);
    if let Err(e) = &source {
        failures.push(format!("{e:#}"));
    }
    let source = source.ok();

    let root = settings.work_dir.join("drill");
    let mut scratch = Scratch::new(tool, &std::path::absolute(&root)?)?;
    progress(&format!(
        "restoring {} ({}) into a scratch cluster in {}",
        backup.label,
        backup.kind,
        root.display()
    ));
    let restore_started = Instant::now();
    let mut restore_seconds = None;
    let mut args = vec![
        "restore".to_owned(),
        format!("--set={}", backup.label),
        "--archive-mode=off".to_owned(),
        "--target-action=promote".to_owned(),
        format!("--pg1-path={}", scratch.data.display()),
    ];
    match &source {
        Some(f) => args.extend([
            "--type=name".to_owned(),
            format!("--target={}", f.restore_point),
        ]),
        None => args.push("--type=immediate".to_owned()),
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let restored = tool
        .run(&args, progress)
        .map_err(|e| e.context("the backup could not be restored"))
        .and_then(|_| {
            progress("starting the copy and replaying WAL to the restore point");
            scratch.start(&database, RECOVERY_TIMEOUT)
        });
    let mut checks = Checks::default();
    match restored {
        Err(e) => failures.push(format!("{e:#}")),
        Ok(()) => {
            restore_seconds = Some(restore_started.elapsed().as_secs_f64());
            checks = check_copy(
                config,
                &scratch,
                &database,
                source.as_ref(),
                settings.drill_sample,
                progress,
                &mut failures,
            );
            // After the comparison with the source (which held the clinics
            // destroyed since), as a restore does before the copy is used.
            match super::destructions::reapply_to(config, &scratch.psql(), &database, progress) {
                Ok(r) => {
                    checks.reapplied = r.reapplied.len();
                    checks.in_register = r.destructions;
                    checks.erasures_reapplied = r.erased_again.len();
                    checks.erasures_in_register = r.erasures;
                }
                Err(e) => failures.push(format!(
                    "the destruction register could not be re-applied to the copy: {e:#}"
                )),
            }
        }
    }
    drop(scratch);

    let finished_at = Utc::now();
    let report_path = reports.join(format!(
        "{}.drill-{}.json",
        backup.label,
        finished_at.format("%Y%m%dT%H%M%SZ")
    ));
    let report = DrillReport {
        label: backup.label.clone(),
        backup_type: backup.kind.clone(),
        backup_stopped: backup.stopped,
        started_at,
        finished_at,
        verified: failures.is_empty(),
        failures,
        restore_seconds,
        rpo_seconds,
        drill_seconds: started.elapsed().as_secs_f64(),
        fingerprint_lock_ms: source.as_ref().map(|f| f.lock_ms),
        tables_compared: checks.tables,
        rows_compared: checks.rows,
        audit_chains: checks.chains,
        sealed_opened: checks.opened,
        sealed_sampled: checks.sampled,
        destructions_reapplied: checks.reapplied,
        destructions_in_register: checks.in_register,
        erasures_reapplied: checks.erasures_reapplied,
        erasures_in_register: checks.erasures_in_register,
        report_path: report_path.display().to_string(),
    };
    super::write_private(&report_path, &serde_json::to_vec_pretty(&report)?, |_| {
        Ok(())
    })?;
    Ok(report)
}

/// What the checks on the copy counted.
#[derive(Default)]
struct Checks {
    tables: usize,
    rows: i64,
    chains: usize,
    opened: usize,
    sampled: usize,
    reapplied: usize,
    in_register: usize,
    erasures_reapplied: usize,
    erasures_in_register: usize,
}

fn check_copy(
    config: &Config,
    scratch: &Scratch<'_>,
    database: &str,
    source: Option<&Fingerprint>,
    per_column: u32,
    progress: &mut dyn FnMut(&str),
    failures: &mut Vec<String>,
) -> Checks {
    let mut checks = Checks::default();
    let url = scratch.url(database);
    progress("checking the copy's migrations");
    match PgConnection::establish(&url)
        .map_err(anyhow::Error::from)
        .and_then(|mut conn| Ok(salus_persistence::migrations::pending(&mut conn)?))
    {
        Ok(pending) if pending.is_empty() => {}
        Ok(pending) => failures.push(format!(
            "the copy lacks migrations this binary needs: {}",
            pending.join(", ")
        )),
        Err(e) => failures.push(format!("the copy's migrations cannot be read: {e:#}")),
    }

    progress("verifying every audit chain of the copy");
    match crate::serve::audit_sealer(config).and_then(|sealer| {
        crate::audit_admin::verify(
            &SecretString::from(url.clone()),
            &sealer,
            None,
            &mut |_, _, _| {},
        )
    }) {
        Ok(reports) => {
            checks.chains = reports.len();
            failures.extend(reports.iter().filter_map(|r| {
                r.broken.as_ref().map(|b| {
                    format!(
                        "audit chain {} is broken at {}: {}",
                        r.chain_id, b.seq, b.reason
                    )
                })
            }));
        }
        Err(e) => failures.push(format!("the copy's audit chains cannot be verified: {e:#}")),
    }

    let psql = scratch.psql();
    if let Some(source) = source {
        progress(&format!(
            "comparing {} tables with the source at {}",
            source.tables.len(),
            source.restore_point
        ));
        match fingerprint::sums(&psql, database) {
            Ok(copy) => {
                checks.tables = copy.len();
                checks.rows = copy.iter().map(|t: &TableSum| t.rows).sum();
                failures.extend(fingerprint::differences(&source.tables, &copy));
            }
            Err(e) => failures.push(format!("the copy's tables cannot be summed: {e:#}")),
        }
    }

    progress("decrypting a sample of every sealed column with the clinic keys");
    match open_sample(config, &psql, database, per_column) {
        Ok((opened, sampled, failed)) => {
            checks.opened = opened;
            checks.sampled = sampled;
            failures.extend(failed);
        }
        Err(e) => failures.push(format!("the sealed sample cannot be read: {e:#}")),
    }
    checks
}

/// Decrypts up to `per_column` values of every sealed column; (opened, sampled,
/// failures).
fn open_sample(
    config: &Config,
    psql: &Psql,
    database: &str,
    per_column: u32,
) -> anyhow::Result<(usize, usize, Vec<String>)> {
    let master = crate::serve::master_keys(config)?;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.decode(s);
    let mut keys = std::collections::HashMap::new();
    for row in psql.run(
        database,
        "SELECT clinic_id, translate(encode(wrapped_data_key, 'base64'), E'\\n', ''), \
                data_key_version, \
                coalesce(translate(encode(retiring_data_key, 'base64'), E'\\n', ''), ''), \
                coalesce(retiring_data_key_version, 0), \
                translate(encode(wrapped_index_key, 'base64'), E'\\n', '') FROM clinic_keys;",
    )? {
        let [clinic, data, version, retiring, retiring_version, index] = row.as_slice() else {
            anyhow::bail!("unexpected clinic_keys row");
        };
        let clinic = ClinicId(clinic.parse().context("a clinic id")?);
        let retiring = match retiring.as_str() {
            "" => None,
            r => Some((b64(r)?, retiring_version.parse().context("a key version")?)),
        };
        keys.insert(
            clinic,
            WrappedKeys {
                data: b64(data)?,
                data_version: version.parse().context("a key version")?,
                retiring,
                index: b64(index)?,
            },
        );
    }
    let (mut opened, mut sampled, mut failures) = (0, 0, Vec::new());
    for (table, column) in SEALED_COLUMNS {
        let rows = psql.run(
            database,
            &format!(
                "SELECT clinic_id, id, translate(encode({column}, 'base64'), E'\\n', '') \
                 FROM {table} WHERE {column} IS NOT NULL ORDER BY random() LIMIT {per_column};"
            ),
        )?;
        for row in rows {
            let [clinic, id, sealed] = row.as_slice() else {
                anyhow::bail!("unexpected {table} row");
            };
            sampled += 1;
            let clinic = ClinicId(clinic.parse().context("a clinic id")?);
            let id: uuid::Uuid = id.parse().context("a row id")?;
            let opens = keys
                .get(&clinic)
                .context("the clinic has no keys")
                .and_then(|wrapped| {
                    ClinicKeys::unwrap(clinic, &master, wrapped)
                        .map_err(|e| anyhow::anyhow!("its keys do not unwrap: {e:?}"))
                })
                .and_then(|k| {
                    k.open_field(table, column, id, &b64(sealed)?)
                        .map_err(|e| anyhow::anyhow!("{e:?}"))
                });
            match opens {
                Ok(_) => opened += 1,
                Err(e) => failures.push(format!(
                    "{table}.{column} of row {id} does not decrypt: {e:#}"
                )),
            }
        }
    }
    Ok((opened, sampled, failures))
}

fn read_fingerprint(reports: &std::path::Path, label: &str) -> anyhow::Result<Fingerprint> {
    let path = fingerprint::path(reports, label);
    let text = std::fs::read(&path).with_context(|| {
        format!(
            "backup {label} has no source fingerprint ({} is missing: backups taken by `salus backup run` have one), so the copy cannot be compared with the source",
            path.display()
        )
    })?;
    serde_json::from_slice(&text).with_context(|| format!("{} cannot be read", path.display()))
}
