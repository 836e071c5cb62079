//! `salus`: the Salus clinic API.

use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use salus::clock::SystemClock;
use salus::config::{self, Config, ConfigProblems};
use salus::{database, serve, telemetry};
use salus_domain::ids::ClinicId;
use salus_domain::keyring::data_key::Advance;

/// Salus: a JSON REST API for clinics that hold health data.
#[derive(Debug, Parser)]
#[command(name = "salus", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API. Refuses to start on an invalid configuration, on pending
    /// migrations and, in staging/production, on an over-privileged database role.
    Serve,
    /// Apply pending database migrations as the owner role (MIGRATION_DATABASE_URL).
    /// Safe to run again: it does nothing when the schema is up to date.
    Migrate,
    /// Print the OpenAPI 3.1 document generated from the code.
    Openapi,
    /// Validate the configuration and print every problem found (in staging and
    /// production, also the database role's privileges and pending migrations).
    CheckConfig,
    /// Create synthetic demo clinics, staff, patients and appointments, and print
    /// the demo logins (development and test only; refused in staging/production).
    /// Demo clinics already in the database are reused, or re-created with
    /// `--reset`.
    SeedDev {
        /// Demo clinics to create.
        #[arg(long, default_value_t = 2)]
        clinics: usize,
        /// Patients per clinic.
        #[arg(long, default_value_t = 40)]
        patients: usize,
        /// Where the demo logins are written (and read back on later runs).
        #[arg(long, default_value = ".local/demo-logins.txt")]
        logins_file: std::path::PathBuf,
        /// Remove the demo clinics the database holds (their staff and data; the
        /// audit trail keeps its events) and seed them anew with new logins.
        #[arg(long)]
        reset: bool,
    },
    /// Create a large synthetic data set for `make bench` (clinics, staff, patients
    /// in bulk, appointments) and write what the load generator needs as JSON
    /// (benchmarks only; refused in staging/production).
    SeedBench {
        /// Clinics to create.
        #[arg(long, default_value_t = 100)]
        clinics: usize,
        /// Patients per clinic.
        #[arg(long, default_value_t = 10_000)]
        patients: usize,
        /// Appointments per clinic.
        #[arg(long, default_value_t = 200)]
        appointments: usize,
        /// Patient ids per clinic written out for the load generator.
        #[arg(long, default_value_t = 100)]
        sample: usize,
        /// Where the load generator's data is written.
        #[arg(long, default_value = "bench/.run/seed.json")]
        out: std::path::PathBuf,
        /// The number of the first clinic (a second seeding adds clinics beside
        /// the first's: `--first 101`).
        #[arg(long, default_value_t = 1)]
        first: usize,
    },
    /// Operator commands on clinics.
    Clinic {
        #[command(subcommand)]
        command: ClinicCommand,
    },
    /// The platform's operators: named accounts, MFA, an end date on each.
    Operator {
        #[command(subcommand)]
        command: OperatorCommand,
    },
    /// The audit trail: verify its chains, purge what retention allows, print the
    /// checkpoint public keys. Runs as the owner role (MIGRATION_DATABASE_URL).
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Operator commands on encryption keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Encrypted, point-in-time backups with pgBackRest (BACKUP_* settings).
    Backup {
        #[command(subcommand)]
        command: BackupCommand,
    },
    /// Certificates of destruction: verify one offline, issue the second ones.
    Certificate {
        #[command(subcommand)]
        command: CertificateCommand,
    },
    /// Clinic exports: verify a downloaded archive offline.
    Export {
        #[command(subcommand)]
        command: ExportCommand,
    },
    /// Known vulnerabilities of Salus's dependencies and their remediation
    /// deadlines by CVSS band (critical 24 h, high 72 h, moderate 14 days, low
    /// 30 days). Runs as the API role (DATABASE_URL); every change is audited.
    Vuln {
        #[command(subcommand)]
        command: VulnCommand,
    },
}

#[derive(Debug, Subcommand)]
enum VulnCommand {
    /// Record the findings of a scanner's report: the JSON lines of `cargo deny
    /// --log-level info --format json check advisories` (written to stderr) or
    /// the JSON of `cargo audit --json`. Importing again keeps each finding's
    /// first sighting, so its deadline; a finding the report no longer holds
    /// stays open until marked fixed.
    Import {
        /// The report.
        file: std::path::PathBuf,
    },
    /// The findings not fixed, the earliest deadline first, with the time left.
    List {
        /// Only the overdue ones; exits 1 when there is any (for CI).
        #[arg(long)]
        overdue: bool,
        /// The fixed findings too.
        #[arg(long)]
        all: bool,
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Mark a finding fixed by a commit.
    Fix {
        /// The finding's id (`salus vuln list`).
        id: uuid::Uuid,
        /// The commit that fixed it (7 to 64 hex digits).
        #[arg(long)]
        commit: String,
        /// The operator saying so (an email address, recorded in the audit trail).
        #[arg(long)]
        operator: String,
    },
    /// Accept a finding as a risk until the end of a day (UTC); after it the
    /// finding counts as open again, and overdue past its deadline.
    Accept {
        /// The finding's id (`salus vuln list`).
        id: uuid::Uuid,
        /// Why it is accepted (one line, recorded in the audit trail).
        #[arg(long)]
        reason: String,
        /// The last day of the acceptance, YYYY-MM-DD.
        #[arg(long)]
        until: chrono::NaiveDate,
        /// The operator accepting it (an email address).
        #[arg(long)]
        operator: String,
    },
}

#[derive(Debug, Subcommand)]
enum ExportCommand {
    /// Decrypt a downloaded export (in memory, nothing written) and check every
    /// part's count and SHA-256 against its manifest and the manifest's
    /// signature. Exits 1 when it does not verify.
    Verify {
        /// The archive (`salus-export-....ndjson.age`).
        file: std::path::PathBuf,
        /// The age identity file of the recipient the export was made for.
        #[arg(long, conflicts_with = "passphrase_file")]
        identity: Option<std::path::PathBuf>,
        /// A file holding the passphrase Salus showed (or set SALUS_EXPORT_PASSPHRASE).
        #[arg(long)]
        passphrase_file: Option<std::path::PathBuf>,
        /// A trusted public key, `kid:base64` (`salus audit public-keys`);
        /// repeatable. Without one, the keys of AUDIT_SIGNING_KEYS.
        #[arg(long = "public-key")]
        public_keys: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
enum BackupCommand {
    /// Take a backup (creating the stanza on first use, after `pgbackrest check`),
    /// then drill it (`verify`); backups past BACKUP_RETENTION_DAYS expire after it.
    Run {
        /// full, diff or incr (an incr with no full backup yet is a full one).
        #[arg(long = "type", default_value = "incr")]
        kind: salus::backup::BackupKind,
        /// Skip the restore drill after the backup.
        #[arg(long)]
        no_verify: bool,
    },
    /// List the repository's backups: label, type, start and stop, size, WAL
    /// range, age, and the last drill's verdict.
    List,
    /// The restore drill: restore a backup into a scratch cluster, start it, and
    /// check migrations, audit chains, every table against the source and a
    /// sample of sealed fields; prints the report (JSON) and exits 1 when it fails.
    Verify {
        /// The backup's label (default: the newest).
        #[arg(long)]
        set: Option<String>,
    },
    /// One turn of the schedule (run it every 15 minutes: deploy/systemd/): take
    /// the backup that is due, if any, and drill it.
    Scheduled,
    /// Restore the cluster as it was at a moment into a NEW data directory (never
    /// over the live cluster): the newest backup before it, then WAL up to it.
    Restore {
        /// The moment, RFC 3339 (`2026-12-02T18:23:40Z`, `2026-12-02T19:23:40+01:00`);
        /// left out: as far as the archived WAL goes (a lost host).
        #[arg(long)]
        target_time: Option<chrono::DateTime<chrono::FixedOffset>>,
        /// The new data directory: must not exist or be empty.
        #[arg(long)]
        to: std::path::PathBuf,
    },
    /// Print the `archive_command` the cluster must run (and write the
    /// configuration it names).
    ArchiveCommand,
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Recompute every chain (or one clinic's) and report the first event that
    /// breaks each; exits 1 when any chain is broken.
    Verify {
        /// Only this clinic's chain.
        #[arg(long)]
        clinic: Option<uuid::Uuid>,
    },
    /// Remove events older than twelve months, sealing each chain's last removed
    /// event in a signed checkpoint first so the rest still verifies.
    Purge,
    /// Print the public keys that verify checkpoint signatures (`kid:base64`).
    PublicKeys,
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Re-wrap every clinic's data keys (and re-seal TOTP secrets) under the first
    /// key of MASTER_KEYS. Put the new key first, keep the old ones after it, run
    /// this, then remove the old keys. Safe to interrupt and run again.
    RotateMaster {
        /// The operator running it, recorded in the platform audit chain
        /// (required in staging and production).
        #[arg(long)]
        operator: Option<String>,
    },
    /// Give a clinic's data key a new version and re-encrypt its sealed fields
    /// (health data, pending export passphrases) in the background, reads and
    /// writes going on throughout; the old version is destroyed once nothing
    /// needs it. Runs to the end in the foreground, with progress; interrupted,
    /// the servers' rotation job carries it on, and running it again continues.
    RotateClinic {
        /// The clinic's id.
        clinic: uuid::Uuid,
        /// The operator running it, recorded in the clinic's audit chain
        /// (required in staging and production).
        #[arg(long)]
        operator: Option<String>,
    },
    /// The age of every secret and key in use (token, master and audit signing
    /// keys, the backup passphrase, the SMS gateway and webhook secrets, each
    /// clinic's data key) against its rotation period (KEY_ROTATION_*_DAYS:
    /// 30 days for the signing and master keys, 90 for the rest). Exits 1 when
    /// one is overdue.
    Report {
        /// One JSON object per secret instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum CertificateCommand {
    /// Check a certificate of destruction (or any signed register entry)
    /// offline: its Ed25519 signature by one of the platform's keys, and what it
    /// claims. Exits 1 when it does not verify.
    Verify {
        /// The certificate's file (as emailed, or from DESTRUCTION_REGISTER_DIR).
        file: std::path::PathBuf,
        /// A trusted public key, `kid:base64` (`salus audit public-keys`);
        /// repeatable. Without one, the keys of AUDIT_SIGNING_KEYS.
        #[arg(long = "public-key")]
        public_keys: Vec<String>,
    },
    /// Issue the second certificate for every destroyed clinic that no backup
    /// in the repository holds any more (also run by `salus backup scheduled`).
    CheckBackups,
}

#[derive(Debug, Subcommand)]
enum ClinicCommand {
    /// Execute a clinic's closure now, before its grace period ends (an owner
    /// must have asked for it): every row deleted, its keys destroyed, the
    /// certificate of destruction issued, kept in the register and emailed.
    Close {
        /// The clinic's id.
        clinic_id: uuid::Uuid,
        /// Required: say that the grace period is to be cut short.
        #[arg(long)]
        now: bool,
        /// The operator running it (recorded in the certificate and the audit trail).
        #[arg(long)]
        operator: String,
    },
    /// Set a clinic's plan (free, pro or business). Billing is outside Salus.
    SetPlan {
        /// The clinic's id.
        clinic_id: uuid::Uuid,
        /// free, pro or business.
        plan: String,
        /// The operator running it, recorded in the clinic's audit trail
        /// (required in staging and production).
        #[arg(long)]
        operator: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum OperatorCommand {
    /// Add a platform operator: their enrolment code is emailed (and printed);
    /// they set a password and an authenticator before their first sign-in.
    Add {
        /// Their address.
        email: String,
        /// incident-manager, security-officer or support.
        #[arg(long)]
        role: String,
        /// Days until their access ends by itself (at most 366).
        #[arg(long, default_value_t = 90)]
        days: i64,
        /// The operator running it (required in staging and production).
        #[arg(long)]
        operator: Option<String>,
    },
    /// End an operator's access at once: the account and every session.
    Revoke {
        /// Their address.
        email: String,
        /// The operator running it (required in staging and production).
        #[arg(long)]
        operator: Option<String>,
    },
    /// List the operators: address, role, state and end of access.
    List,
}

fn report_config(problems: &ConfigProblems) -> ExitCode {
    eprintln!("salus: invalid configuration: {problems}");
    ExitCode::from(2)
}

fn report(error: &anyhow::Error) -> ExitCode {
    eprintln!("salus: {error:#}");
    ExitCode::FAILURE
}

async fn serve() -> ExitCode {
    let config = match Config::load(&config::process_env()) {
        Ok(config) => config,
        Err(problems) => return report_config(&problems),
    };
    telemetry::init(config.log_format);
    let server = match serve::start(&config, Arc::new(SystemClock)).await {
        Ok(server) => server,
        Err(error) => return report(&error),
    };
    println!("Salus is serving at {}", server.public_url);
    match server.wait().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => report(&error),
    }
}

fn migrate() -> ExitCode {
    let source = config::process_env();
    let url = match config::read_secret(&source, "MIGRATION_DATABASE_URL") {
        Ok(Some(url)) => url,
        Ok(None) => {
            return report_config(&ConfigProblems(vec![
                "MIGRATION_DATABASE_URL is missing (set it or MIGRATION_DATABASE_URL_FILE)"
                    .to_owned(),
            ]));
        }
        Err(problems) => return report_config(&problems),
    };
    match database::migrate(&url) {
        Ok(applied) if applied.is_empty() => {
            println!("salus: the schema is up to date");
            ExitCode::SUCCESS
        }
        Ok(applied) => {
            println!(
                "salus: applied {} migration(s): {}",
                applied.len(),
                applied.join(", ")
            );
            ExitCode::SUCCESS
        }
        Err(error) => report(&error),
    }
}

fn check_config() -> ExitCode {
    let config = match Config::load(&config::process_env()) {
        Ok(config) => config,
        Err(problems) => return report_config(&problems),
    };
    if config.app_env.is_deployed() {
        let pool = salus_persistence::build_pool(
            &config.database_url,
            salus_persistence::PoolSettings {
                max_size: 1,
                statement_timeout_ms: config.db_statement_timeout_ms,
                checkout_timeout: std::time::Duration::from_millis(config.db_checkout_timeout_ms),
            },
        );
        if let Err(error) = database::check_serving_database(&pool, true) {
            return report(&error);
        }
    }
    println!(
        "salus: configuration OK (APP_ENV={})",
        config.app_env.as_str()
    );
    match &config.backup {
        Some(b) => println!(
            "salus: backups: stanza {} of {} into {}, kept {} days",
            b.stanza,
            b.pg_data.display(),
            b.repo_path.display(),
            b.retention_days
        ),
        None => println!("salus: backups: not configured on this node (BACKUP_REPO_PATH is unset)"),
    }
    ExitCode::SUCCESS
}

fn seed_dev(
    clinics: usize,
    patients: usize,
    logins_file: &std::path::Path,
    reset: bool,
) -> ExitCode {
    let config = match Config::load(&config::process_env()) {
        Ok(config) => config,
        Err(problems) => return report_config(&problems),
    };
    if config.app_env.is_deployed() {
        eprintln!(
            "salus: seed-dev creates synthetic data for development only; refused with APP_ENV={}",
            config.app_env.as_str()
        );
        return ExitCode::from(2);
    }
    match salus::seed::seed(&config, clinics, patients, logins_file, reset) {
        Ok(logins) => {
            print!("{logins}");
            ExitCode::SUCCESS
        }
        Err(error) => report(&error),
    }
}

fn seed_bench(size: salus::seed_bench::BenchSize, out: &std::path::Path) -> ExitCode {
    let config = match Config::load(&config::process_env()) {
        Ok(config) => config,
        Err(problems) => return report_config(&problems),
    };
    match salus::seed_bench::seed(&config, size, out) {
        Ok(_) => {
            println!("salus: seed-bench: wrote {}", out.display());
            ExitCode::SUCCESS
        }
        Err(error) => report(&error),
    }
}

fn set_plan(clinic_id: uuid::Uuid, plan: &str, operator: Option<&str>) -> ExitCode {
    let Some(plan) = salus_domain::plans::Plan::parse(plan) else {
        eprintln!("salus: the plan must be free, pro or business");
        return ExitCode::from(2);
    };
    let config = match Config::load(&config::process_env()) {
        Ok(config) => config,
        Err(problems) => return report_config(&problems),
    };
    let done = salus::operator::who_ran(&config, operator).and_then(|by| {
        salus::operator::set_plan(&config, salus_domain::ids::ClinicId(clinic_id), plan, &by)
    });
    match done {
        Ok(()) => {
            println!(
                "salus: clinic {clinic_id} is now on the {} plan",
                plan.as_str()
            );
            ExitCode::SUCCESS
        }
        Err(error) => report(&error),
    }
}

fn keys_report(json: bool) -> ExitCode {
    let config = match Config::load(&config::process_env()) {
        Ok(config) => config,
        Err(problems) => return report_config(&problems),
    };
    let ages = match salus::operator::keys_report(&config) {
        Ok(ages) => ages,
        Err(error) => return report(&error),
    };
    for secret in &ages {
        let state = if secret.overdue() { "OVERDUE" } else { "ok" };
        if json {
            println!(
                "{}",
                serde_json::json!({
                    "kind": secret.kind.as_str(),
                    "key_id": secret.key_id,
                    "in_use_since": secret.since.to_rfc3339(),
                    "age_days": secret.age.num_days(),
                    "period_days": secret.period.num_days(),
                    "overdue": secret.overdue(),
                })
            );
        } else {
            println!(
                "{:<24} {:<38} {:>5} days of {:>3}  {state}",
                secret.kind.as_str(),
                secret.key_id,
                secret.age.num_days(),
                secret.period.num_days()
            );
        }
    }
    if ages.iter().any(salus_domain::secrets::SecretAge::overdue) {
        eprintln!("salus: keys report: a secret is past its rotation period");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

fn operator_command(command: OperatorCommand) -> ExitCode {
    let config = match Config::load(&config::process_env()) {
        Ok(config) => config,
        Err(problems) => return report_config(&problems),
    };
    let done = match command {
        OperatorCommand::Add {
            email,
            role,
            days,
            operator,
        } => {
            let Some(role) = salus_domain::ports::operators::OperatorRole::parse(&role) else {
                eprintln!("salus: the role must be incident-manager, security-officer or support");
                return ExitCode::from(2);
            };
            salus::operator::who_ran(&config, operator.as_deref())
                .and_then(|by| salus::operator::add_operator(&config, &email, role, days, &by))
                .map(|code| {
                    println!(
                        "salus: operator {email} added ({}, {days} days); enrolment code \
                         (emailed too, valid 72 hours, once):\n{code}",
                        role.as_str()
                    );
                })
        }
        OperatorCommand::Revoke { email, operator } => {
            salus::operator::who_ran(&config, operator.as_deref())
                .and_then(|by| salus::operator::revoke_operator(&config, &email, &by))
                .map(|ended| {
                    println!("salus: operator {email} revoked; {ended} session(s) ended");
                })
        }
        OperatorCommand::List => salus::operator::list_operators(&config).map(|lines| {
            for line in lines {
                println!("{line}");
            }
        }),
    };
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => report(&error),
    }
}

/// The configuration and the owner role's URL, for the audit commands.
fn audit_setup() -> Result<(Config, secrecy::SecretString), ExitCode> {
    let source = config::process_env();
    let config = Config::load(&source).map_err(|p| report_config(&p))?;
    match config::read_secret(&source, "MIGRATION_DATABASE_URL") {
        Ok(Some(url)) => Ok((config, url)),
        Ok(None) => Err(report_config(&ConfigProblems(vec![
            "MIGRATION_DATABASE_URL is missing (set it or MIGRATION_DATABASE_URL_FILE)".to_owned(),
        ]))),
        Err(problems) => Err(report_config(&problems)),
    }
}

fn audit(command: &AuditCommand) -> ExitCode {
    let (config, owner_url) = match audit_setup() {
        Ok(setup) => setup,
        Err(code) => return code,
    };
    let sealer = match salus::serve::audit_sealer(&config) {
        Ok(sealer) => sealer,
        Err(error) => return report(&error),
    };
    match command {
        AuditCommand::PublicKeys => {
            for key in salus::audit_admin::public_keys(&sealer) {
                println!("{key}");
            }
            ExitCode::SUCCESS
        }
        AuditCommand::Verify { clinic } => {
            let clinic = clinic.map(salus_domain::ids::ClinicId);
            let mut broken = 0usize;
            let result =
                salus::audit_admin::verify(&owner_url, &sealer, clinic, &mut |i, n, r| match &r
                    .broken
                {
                    None => println!(
                        "[{i}/{n}] chain {}: {} events verified",
                        r.chain_id, r.events
                    ),
                    Some(b) => {
                        broken += 1;
                        println!(
                            "[{i}/{n}] chain {}: BROKEN at event {}{}: {}",
                            r.chain_id,
                            b.seq,
                            b.event_id.map(|id| format!(" ({id})")).unwrap_or_default(),
                            b.reason
                        );
                    }
                });
            match result {
                Ok(reports) if broken == 0 => {
                    println!("salus: {} chain(s) verified, none broken", reports.len());
                    ExitCode::SUCCESS
                }
                Ok(reports) => {
                    println!("salus: {broken} of {} chain(s) broken", reports.len());
                    ExitCode::FAILURE
                }
                Err(error) => report(&error),
            }
        }
        AuditCommand::Purge => {
            let now = chrono::Utc::now();
            let result =
                salus::audit_admin::purge(&owner_url, &sealer, now, &mut |i, n, removed| {
                    if removed > 0 {
                        println!("[{i}/{n}] removed {removed} expired event(s)");
                    }
                });
            match result {
                Ok(total) => {
                    println!("salus: removed {total} event(s) older than twelve months");
                    ExitCode::SUCCESS
                }
                Err(error) => report(&error),
            }
        }
    }
}

fn close_clinic(clinic: uuid::Uuid, now: bool, operator: &str) -> ExitCode {
    if !now {
        eprintln!(
            "salus: clinic close: say --now to cut the grace period short (the closure job executes it when it ends)"
        );
        return ExitCode::from(2);
    }
    let config = match Config::load(&config::process_env()) {
        Ok(config) => config,
        Err(problems) => return report_config(&problems),
    };
    match salus::certificates::close_now(&config, salus_domain::ids::ClinicId(clinic), operator) {
        Ok(signed) => {
            println!(
                "salus: clinic {clinic} destroyed; certificate {} kept in {} and emailed to the owners:",
                signed.document["certificate_id"]
                    .as_str()
                    .unwrap_or_default(),
                config.destruction_register_dir.display()
            );
            match signed.to_file() {
                Ok(bytes) => print!("{}", String::from_utf8_lossy(&bytes)),
                Err(e) => eprintln!("salus: {e}"),
            }
            ExitCode::SUCCESS
        }
        Err(error) => report(&error),
    }
}

fn verify_export(
    file: &std::path::Path,
    identity: Option<&std::path::Path>,
    passphrase_file: Option<&std::path::Path>,
    public_keys: &[String],
) -> ExitCode {
    let key = match (identity, passphrase_file) {
        (Some(path), _) => salus::export_verify::Key::Identity(path),
        (None, Some(path)) => match std::fs::read_to_string(path) {
            Ok(p) => salus::export_verify::Key::Passphrase(p.trim_end().to_owned()),
            Err(e) => {
                eprintln!("salus: cannot read {}: {e}", path.display());
                return ExitCode::from(2);
            }
        },
        (None, None) => match std::env::var("SALUS_EXPORT_PASSPHRASE") {
            Ok(p) => salus::export_verify::Key::Passphrase(p),
            Err(_) => {
                eprintln!(
                    "salus: export verify needs --identity FILE, --passphrase-file FILE or SALUS_EXPORT_PASSPHRASE"
                );
                return ExitCode::from(2);
            }
        },
    };
    let config = if public_keys.is_empty() {
        match Config::load(&config::process_env()) {
            Ok(config) => Some(config),
            Err(problems) => return report_config(&problems),
        }
    } else {
        None
    };
    let verified = salus::certificates::trusted_keys(public_keys, config.as_ref())
        .and_then(|trusted| salus::export_verify::verify(file, key, &trusted));
    match verified {
        Ok(manifest) => {
            println!(
                "salus: {}: verified: export {} of clinic {} made {} (schema {}), signature valid",
                file.display(),
                manifest.header.export_id,
                manifest.header.clinic_id,
                manifest.header.created_at.to_rfc3339(),
                manifest.header.schema_version
            );
            for part in &manifest.parts {
                println!(
                    "salus:   {}\t{} rows\tsha256 {}",
                    part.part, part.rows, part.sha256
                );
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("salus: {error:#}");
            ExitCode::from(1)
        }
    }
}

fn certificate(command: &CertificateCommand) -> ExitCode {
    let source = config::process_env();
    match command {
        CertificateCommand::Verify { file, public_keys } => {
            let config = if public_keys.is_empty() {
                match Config::load(&source) {
                    Ok(config) => Some(config),
                    Err(problems) => return report_config(&problems),
                }
            } else {
                None
            };
            let verified = salus::certificates::trusted_keys(public_keys, config.as_ref())
                .and_then(|trusted| salus::certificates::verify_file(file, &trusted));
            match verified {
                Ok(lines) => {
                    for line in lines {
                        println!("salus: {line}");
                    }
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    eprintln!("salus: {error:#}");
                    ExitCode::from(1)
                }
            }
        }
        CertificateCommand::CheckBackups => {
            let config = match Config::load(&source) {
                Ok(config) => config,
                Err(problems) => return report_config(&problems),
            };
            let mut progress = |line: &str| println!("salus: certificate: {line}");
            match salus::backup::destructions::certify_expired_backups(&config, &mut progress) {
                Ok(issued) => {
                    println!("salus: {} second certificate(s) issued", issued.len());
                    ExitCode::SUCCESS
                }
                Err(error) => report(&error),
            }
        }
    }
}

fn vuln(command: &VulnCommand) -> ExitCode {
    let config = match Config::load(&config::process_env()) {
        Ok(config) => config,
        Err(problems) => return report_config(&problems),
    };
    let services = match salus::operator::operator_service(&config) {
        Ok(services) => services,
        Err(error) => return report(&error),
    };
    let out = &mut std::io::stdout().lock();
    let done = match command {
        VulnCommand::Import { file } => salus::vulns::import(&services, file, out),
        VulnCommand::List { overdue, all, json } => salus::vulns::list(
            &services,
            salus::vulns::ListOptions {
                overdue: *overdue,
                all: *all,
                json: *json,
            },
            out,
        ),
        VulnCommand::Fix {
            id,
            commit,
            operator,
        } => salus::vulns::fix(&services, *id, commit, operator, out),
        VulnCommand::Accept {
            id,
            reason,
            until,
            operator,
        } => salus::vulns::accept(&services, *id, reason, *until, operator, out),
    };
    done.unwrap_or_else(|error| report(&error))
}

fn rotate_master(operator: Option<&str>) -> ExitCode {
    let config = match Config::load(&config::process_env()) {
        Ok(config) => config,
        Err(problems) => return report_config(&problems),
    };
    let by = match salus::operator::who_ran(&config, operator) {
        Ok(by) => by,
        Err(error) => return report(&error),
    };
    let mut report_progress = |progress| match progress {
        salus_domain::keyring::rotation::Progress::Accounts(seen) => {
            println!("salus: keys: {seen} accounts scanned");
        }
        salus_domain::keyring::rotation::Progress::Clinic {
            done,
            total,
            clinic,
            outcome,
        } => println!("salus: keys: {done}/{total} clinics ({clinic}: {outcome:?})"),
    };
    match salus::operator::rotate_master(&config, &by, &mut report_progress) {
        Ok(s) => {
            println!(
                "salus: keys: every clinic's keys are under master key {}: {} clinics, {} re-wrapped, {} already current, {} without keys yet; TOTP secrets: {} re-sealed, {} already current",
                s.active_key,
                s.clinics,
                s.rewrapped,
                s.already_current,
                s.without_keys,
                s.totp_resealed,
                s.totp_current
            );
            ExitCode::SUCCESS
        }
        Err(error) => report(&error),
    }
}

fn rotate_clinic(clinic: ClinicId, operator: Option<&str>) -> ExitCode {
    let config = match Config::load(&config::process_env()) {
        Ok(config) => config,
        Err(problems) => return report_config(&problems),
    };
    let by = match salus::operator::who_ran(&config, operator) {
        Ok(by) => by,
        Err(error) => return report(&error),
    };
    let mut moved = 0;
    let mut report_progress = |step| match step {
        Advance::Moving {
            resealed,
            remaining,
        } => {
            moved += resealed;
            println!(
                "salus: keys: clinic {clinic}: {moved} fields re-encrypted, {remaining} left under the old key (waiting for older transactions when 0)"
            );
        }
        Advance::Finished { resealed, version } => {
            moved += resealed;
            println!(
                "salus: keys: clinic {clinic}: {moved} fields re-encrypted; data key version {version} is the only one, the old one is destroyed"
            );
        }
        Advance::Idle => {}
    };
    match salus::operator::rotate_clinic_key(&config, clinic, &by, &mut report_progress) {
        Ok(_) => ExitCode::SUCCESS,
        Err(error) => report(&error),
    }
}

fn mib(bytes: u64) -> String {
    // Display only: the precision lost in the conversion does not matter.
    #[allow(clippy::cast_precision_loss)]
    let mib = bytes as f64 / (1024.0 * 1024.0);
    format!("{mib:.1} MiB")
}

fn print_archive_command(source: &impl config::Source) -> ExitCode {
    match config::read_backup(source) {
        Ok(Some(backup)) => match salus::backup::archive_command(&backup) {
            Ok(command) => {
                println!("{command}");
                ExitCode::SUCCESS
            }
            Err(error) => report(&error),
        },
        Ok(None) => report_config(&ConfigProblems(vec![
            "BACKUP_REPO_PATH is missing: backups are not configured".to_owned(),
        ])),
        Err(problems) => report_config(&problems),
    }
}

/// Prints a drill's report; success only when it verified the backup.
fn drill_outcome(result: anyhow::Result<salus::backup::DrillReport>) -> ExitCode {
    match result {
        Err(e) => report(&e),
        Ok(r) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&r).unwrap_or_else(|e| e.to_string())
            );
            if r.verified {
                println!(
                    "salus: backup {} verified: restored in {:.1} s, {} tables and {} sealed fields checked (report {})",
                    r.label,
                    r.restore_seconds.unwrap_or_default(),
                    r.tables_compared,
                    r.sealed_opened,
                    r.report_path
                );
                ExitCode::SUCCESS
            } else {
                eprintln!(
                    "salus: the drill of backup {} FAILED: {} (report {})",
                    r.label,
                    r.failures.join("; "),
                    r.report_path
                );
                ExitCode::FAILURE
            }
        }
    }
}

fn backup(command: &BackupCommand) -> ExitCode {
    let source = config::process_env();
    // archive-command needs only the BACKUP_* settings; the others also record
    // an audit event, through DATABASE_URL.
    let load = || Config::load(&source).map_err(|p| report_config(&p));
    let mut progress = |line: &str| println!("salus: backup: {line}");
    match command {
        BackupCommand::ArchiveCommand => print_archive_command(&source),
        BackupCommand::Run { kind, no_verify } => {
            let config = match load() {
                Ok(config) => config,
                Err(code) => return code,
            };
            let b = match salus::backup::run(&config, *kind, &mut progress) {
                Ok(b) => b,
                Err(e) => return report(&e),
            };
            println!(
                "salus: backup {} ({}) taken: {} of data, {} in the repository",
                b.label,
                b.kind,
                mib(b.size),
                mib(b.repo_size)
            );
            if *no_verify {
                return ExitCode::SUCCESS;
            }
            drill_outcome(salus::backup::verify(
                &config,
                Some(&b.label),
                &mut progress,
            ))
        }
        BackupCommand::Verify { set } => match load() {
            Ok(config) => drill_outcome(salus::backup::verify(
                &config,
                set.as_deref(),
                &mut progress,
            )),
            Err(code) => code,
        },
        BackupCommand::Scheduled => match load().and_then(|config| {
            let turn =
                salus::backup::schedule::turn(&config, &mut progress).map_err(|e| report(&e));
            if let Err(e) =
                salus::backup::destructions::certify_expired_backups(&config, &mut progress)
            {
                progress(&format!(
                    "warning: the second certificates could not be checked: {e:#}"
                ));
            }
            turn
        }) {
            Ok(salus::backup::schedule::Turn::Taken(b, drill)) => {
                println!("salus: backup {} ({}) taken", b.label, b.kind);
                drill_outcome(Ok(*drill))
            }
            Ok(_) => ExitCode::SUCCESS,
            Err(code) => code,
        },
        BackupCommand::List => match load()
            .and_then(|config| salus::backup::list(&config, &mut progress).map_err(|e| report(&e)))
        {
            Ok(backups) => {
                let now = chrono::Utc::now();
                let verdicts = load()
                    .ok()
                    .map(|config| salus::backup::drill_verdicts(&config))
                    .unwrap_or_default();
                println!(
                    "label\ttype\tstart (UTC)\tstop (UTC)\tsize\trepository\tWAL\tage\tverified"
                );
                for b in &backups {
                    let wal = b
                        .wal
                        .as_ref()
                        .map(|(start, stop)| format!("{start}..{stop}"))
                        .unwrap_or_default();
                    let verified = match verdicts.get(&b.label) {
                        Some((true, at)) => format!("yes ({})", at.format("%Y-%m-%d %H:%M")),
                        Some((false, at)) => format!("FAILED ({})", at.format("%Y-%m-%d %H:%M")),
                        None => "not drilled".to_owned(),
                    };
                    println!(
                        "{}\t{}\t{}\t{}\t{}\t{}\t{wal}\t{}\t{verified}",
                        b.label,
                        b.kind,
                        b.started.format("%Y-%m-%d %H:%M:%S"),
                        b.stopped.format("%Y-%m-%d %H:%M:%S"),
                        mib(b.size),
                        mib(b.repo_size),
                        salus::clock::short(b.age(now))
                    );
                }
                println!("salus: {} backup(s)", backups.len());
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
        BackupCommand::Restore { target_time, to } => {
            let target = target_time.map(|t| t.with_timezone(&chrono::Utc));
            match load().and_then(|config| {
                salus::backup::restore(&config, target, to, &mut progress).map_err(|e| report(&e))
            }) {
                Ok(r) => {
                    println!(
                        "salus: restored backup {} into {}, recovered up to {} and promoted; \
                         {} of the register's {} destructions re-applied. Start it on a free \
                         port, e.g. pg_ctl -D {} -o '-p 5433' start (archive_mode is off in \
                         the copy), then run `salus audit verify` against it.",
                        r.label,
                        r.to.display(),
                        target.map_or_else(
                            || "the end of the archived WAL".to_owned(),
                            |t| t.to_rfc3339()
                        ),
                        r.reapplied.reapplied.len(),
                        r.reapplied.destructions,
                        r.to.display()
                    );
                    ExitCode::SUCCESS
                }
                Err(code) => code,
            }
        }
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Serve => serve().await,
        Command::Migrate => migrate(),
        Command::Openapi => {
            print!("{}", salus_http::openapi_json());
            ExitCode::SUCCESS
        }
        Command::CheckConfig => check_config(),
        Command::Audit { command } => audit(&command),
        Command::Clinic {
            command:
                ClinicCommand::SetPlan {
                    clinic_id,
                    plan,
                    operator,
                },
        } => set_plan(clinic_id, &plan, operator.as_deref()),
        Command::Operator { command } => operator_command(command),
        Command::Clinic {
            command:
                ClinicCommand::Close {
                    clinic_id,
                    now,
                    operator,
                },
        } => close_clinic(clinic_id, now, &operator),
        Command::Certificate { command } => certificate(&command),
        Command::Export {
            command:
                ExportCommand::Verify {
                    file,
                    identity,
                    passphrase_file,
                    public_keys,
                },
        } => verify_export(
            &file,
            identity.as_deref(),
            passphrase_file.as_deref(),
            &public_keys,
        ),
        Command::SeedBench {
            clinics,
            patients,
            appointments,
            sample,
            out,
            first,
        } => seed_bench(
            salus::seed_bench::BenchSize {
                clinics,
                patients,
                appointments,
                sample,
                first,
            },
            &out,
        ),
        Command::Keys {
            command: KeysCommand::RotateMaster { operator },
        } => rotate_master(operator.as_deref()),
        Command::Keys {
            command: KeysCommand::RotateClinic { clinic, operator },
        } => rotate_clinic(ClinicId(clinic), operator.as_deref()),
        Command::Keys {
            command: KeysCommand::Report { json },
        } => keys_report(json),
        Command::Backup { command } => backup(&command),
        Command::Vuln { command } => vuln(&command),
        Command::SeedDev {
            clinics,
            patients,
            logins_file,
            reset,
        } => seed_dev(clinics, patients, &logins_file, reset),
    }
}
