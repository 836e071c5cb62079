//! Configuration, read from environment variables.
//!
//! `.env` is loaded (dotenvy) only when `APP_ENV=development`. Every secret also
//! accepts `<NAME>_FILE`, a path whose content is the value, for container secrets.
//! Secrets are held as [`SecretString`] and never printed.
//!
//! | Variable | Meaning | Default |
//! |---|---|---|
//! | `APP_ENV` | `development`, `test`, `staging` or `production` | `development` |
//! | `DATABASE_URL` | secret; the API's least-privilege role | required |
//! | `MIGRATION_DATABASE_URL` | secret; the owner role, used only by `salus migrate` | required by `migrate` |
//! | `HTTP_BIND` | plain HTTP listener (only redirects when TLS is on) | `127.0.0.1:8080` |
//! | `TLS_BIND` | HTTPS listener | none (TLS off) |
//! | `TLS_CERT_FILE` | PEM certificate chain | none |
//! | `TLS_KEY_FILE` | PEM private key | none |
//! | `TLS_MIN_VERSION` | `1.2` (1.2 and 1.3) or `1.3` (1.3 only) | `1.2` |
//! | `TRUST_PROXY_TLS` | a proxy terminates TLS and sets `X-Forwarded-Proto` | `false` |
//! | `PUBLIC_URL` | public base URL (security.txt, HTTPS redirects) | derived from the binds |
//! | `APP_URL` | the front end's base URL: emails link to its pages (`/verify-email`, `/reset-password`, `/confirm-email-change`, `/accept-invitation`) with the token in the fragment (`#token=...`); `https://` in staging/production | none (emails name the API operation instead) |
//! | `LINK_VERIFY_EMAIL` / `LINK_RESET_PASSWORD` / `LINK_CONFIRM_EMAIL_CHANGE` / `LINK_ACCEPT_INVITATION` | a flow's own link template, holding `{token}` once; overrides the one made from `APP_URL` | none |
//! | `METRICS_BIND` | separate listener serving only `GET /metrics` (Prometheus text format, no authentication: keep it on a private interface); refused in staging/production when it is the `HTTP_BIND` or `TLS_BIND` address | none (no metrics listener) |
//! | `CORS_ALLOWED_ORIGINS` | comma-separated browser origins; empty denies all | empty |
//! | `SECURITY_CONTACT` | `Contact:` of security.txt | `mailto:security@salus.invalid` outside staging/production, required there |
//! | `DB_POOL_SIZE` | maximum pooled connections | `16` |
//! | `DB_STATEMENT_TIMEOUT_MS` | per-statement timeout | `5000` |
//! | `DB_CHECKOUT_TIMEOUT_MS` | how long a request waits for a pooled connection | `5000` |
//! | `JSON_BODY_LIMIT_BYTES` | cap on JSON bodies | `65536` |
//! | `HTTP_WORKERS` | HTTP worker threads | number of CPUs |
//! | `TOKEN_SIGNING_KEYS` | secret; `kid:base64,kid:base64` (≥ 32 bytes each); the first signs, all verify | development: generated once under `.local/dev-secrets/`; test: random per process; required in staging/production |
//! | `MASTER_KEYS` | secret; `kid:base64` of 32 bytes each; the first seals, all open | as `TOKEN_SIGNING_KEYS` |
//! | `AUDIT_SIGNING_KEYS` | secret; `kid:base64` of 32-byte Ed25519 seeds; the first signs audit checkpoints, all verify | as `TOKEN_SIGNING_KEYS` |
//! | `ACCESS_TOKEN_TTL_SECONDS` | access-token lifetime (at most 900) | `900` |
//! | `SESSION_LIFETIME_HOURS` | absolute session lifetime (at most 24) | `12` |
//! | `ARGON2_MEMORY_KIB` / `ARGON2_ITERATIONS` / `ARGON2_PARALLELISM` | password hashing cost | `19456` / `2` / `1` |
//! | `PASSWORD_HASH_CONCURRENCY` | password hashes computed at once | number of CPUs |
//! | `LOCKOUT_THRESHOLD` / `LOCKOUT_MINUTES` | failures before an account locks, and for how long | `10` / `15` |
//! | `AUTH_RATE_LIMIT_PER_MINUTE` | requests per client address per authentication endpoint | `30` |
//! | `RATE_LIMIT_WINDOW_SECONDS` | the window of the rate limits of every `/api/v1` operation (1 to 3600) | `60` |
//! | `RATE_LIMIT_PER_CREDENTIAL` | requests per window per credential (a member's session) | `600` |
//! | `RATE_LIMIT_CLINIC_FREE` / `RATE_LIMIT_CLINIC_PRO` / `RATE_LIMIT_CLINIC_BUSINESS` | requests per window per clinic, by plan (every credential of the clinic together) | `1200` / `3000` / `6000` |
//! | `RATE_LIMIT_PER_ADDRESS` | requests per window per client address, for requests without a valid credential | `300` |
//! | `RATE_LIMIT_SYNC_MILLIS` | how often each node adds its counts to the totals all nodes share in PostgreSQL and reads them back (20 to 5000; 0: off, every node counts alone, refused in staging/production); with several nodes a limit can be passed by what they serve of a bucket in about two intervals (docs/architecture.md) | `200` |
//! | `OUTBOX_DIR` | where the file provider writes messages (development) | `.local/outbox` |
//! | `OUTBOX_POLL_SECONDS` | how often the delivery worker looks for messages (0: off) | `5` |
//! | `AUDIT_JOB_SECONDS` | how often the audit job runs the alert detectors, seals chains and purges expired events (at most 240, so alerts meet their 5-minute deadline; 0: off, refused in staging/production) | `60` |
//! | `AUDIT_SEQUENCE_MILLIS` | how often the sequencer gives waiting audit events their chain positions (50 to 1000; 0: off, refused in staging/production) | `250` |
//! | `OUTBOX_EMAIL_PROVIDER` | `file` (under `OUTBOX_DIR`) or `smtp`; `file` is refused in staging/production | `file` outside staging/production, required there |
//! | `OUTBOX_SMS_PROVIDER` | `file` (under `OUTBOX_DIR`) or `gateway`; `file` is refused in staging/production | `file` outside staging/production, required there |
//! | `SMTP_URL` | secret; `smtps://user:pass@host:465`, `smtp://host:587?tls=required`, or `smtp://127.0.0.1:25` for a loopback relay (staging/production refuse clear text to any other host) | required by `smtp` |
//! | `SMTP_FROM` | the From address, e.g. `Salus <no-reply@clinic.example>` | required by `smtp` |
//! | `SMS_GATEWAY_URL` | the gateway's endpoint; each SMS is a signed JSON POST to it (`https://` in staging/production unless on loopback) | required by `gateway` |
//! | `SMS_GATEWAY_SECRET` | secret; HMAC-SHA256 key of the `X-Salus-Signature` header (≥ 16 characters in staging/production) | required by `gateway` |
//! | `SECURITY_WEBHOOK_URL` | where security alerts are POSTed for the platform (signed like the SMS gateway; `https://` in staging/production unless on loopback) | none (alerts are stored and emailed only) |
//! | `SECURITY_WEBHOOK_SECRET` | secret; HMAC-SHA256 key of the webhook's `X-Salus-Signature` | required with `SECURITY_WEBHOOK_URL` |
//! | `WEBHOOK_POLL_SECONDS` | how often the webhook delivery worker claims due deliveries (0: off) | `5` |
//! | `WEBHOOK_TIMEOUT_SECONDS` | how long one webhook delivery may take, connection included (1 to 60) | `15` |
//! | `WEBHOOK_ALLOW_LOOPBACK` | `true` lets webhook endpoints be on this machine (`localhost`, `127.0.0.0/8`, `::1`), for a receiver run beside a development or test server; refused in staging/production. Every other inside address is refused everywhere, and `http://` endpoints only outside staging/production | `false` |
//! | `BACKUP_REPO_PATH` | the pgBackRest repository (absolute path; in production on storage of another host, see docs/operations.md "Backups"); setting it turns the `salus backup` commands on | none (backups not configured on this node) |
//! | `BACKUP_CIPHER_PASS` | secret; the repository's encryption passphrase (aes-256-cbc); at least 32 characters and not the `.env.example` value in staging/production | required with `BACKUP_REPO_PATH` |
//! | `BACKUP_STANZA` | the pgBackRest stanza (letters, digits, `-`, `_`) | `salus` |
//! | `BACKUP_RETENTION_DAYS` | full backups (and the WAL they need) are kept this many days | `30` |
//! | `BACKUP_PG_DATA` | the data directory of the cluster backed up (absolute path) | required with `BACKUP_REPO_PATH` |
//! | `BACKUP_PG_PORT` / `BACKUP_PG_SOCKET` | the cluster's port and Unix socket directory (pgBackRest connects as `postgres` over the socket) | `5432` / `/var/run/postgresql` |
//! | `BACKUP_COMPRESS_TYPE` | compression before encryption: `gz`, `lz4`, `zst` or `none` | `gz` |
//! | `BACKUP_WORK_DIR` | where the generated `pgbackrest.conf`, its logs and locks live (absolute in staging/production) | `.local/backup` |
//! | `BACKUP_OS_USER` | the cluster's OS user; `salus backup` run as root runs pgBackRest as this user | `postgres` |
//! | `BACKUP_FULL_EVERY_HOURS` / `BACKUP_INCR_EVERY_HOURS` | the schedule `salus backup scheduled` keeps: a full backup when the last full one is this old, an incremental one when the last backup of any type is | `24` / `6` |
//! | `BACKUP_DRILL_SAMPLE` | sealed fields per sealed column the restore drill decrypts | `25` |
//! | `DESTRUCTION_REGISTER_DIR` | the destruction register: signed entries of every destruction (clinic closures), re-applied by every restore; keep it outside the database and its backups, on storage every node shares (absolute in staging/production, and not inside `BACKUP_PG_DATA` or `BACKUP_REPO_PATH`) | `.local/destruction-register` |
//! | `CLOSURE_GRACE_DAYS` | days between an owner's closure request and the clinic's destruction (1 to 365) | `30` |
//! | `KEY_ROTATION_CRITICAL_DAYS` | rotation period of the signing and master keys (`salus keys report`; 1 to 365) | `30` |
//! | `KEY_ROTATION_STANDARD_DAYS` | rotation period of the other secrets and the clinics' data keys (1 to 730) | `90` |
//! | `BACKUP_PG_BIN` | the PostgreSQL programs the restore drill starts its scratch cluster with | `/usr/lib/postgresql/<version of BACKUP_PG_DATA>/bin` |
//! | `LOG_FORMAT` | `json` or `pretty` | `pretty` in development, else `json` |
//! | `RUST_LOG` | log filter | `info` |
//!
//! In staging and production the configuration is refused, naming every problem at
//! once, when a secret is missing, short or equal to its `.env.example` value, or when
//! neither TLS nor `TRUST_PROXY_TLS=true` is set. The role behind `DATABASE_URL` is
//! checked against the database when the server starts (see `salus_persistence::role_posture`).

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use salus_domain::identity::links::{Flow, TOKEN_PLACEHOLDER};
use salus_domain::rate_limits::{Limits, PlanLimits};
use secrecy::{ExposeSecret, SecretString};

/// The example configuration, compiled in so its secrets can be refused.
const ENV_EXAMPLE: &str = include_str!("../../../.env.example");
/// The shortest acceptable secret (or database password) in staging and production.
pub const MIN_SECRET_CHARS: usize = 16;
/// The shortest acceptable backup passphrase in staging and production.
pub const MIN_BACKUP_PASS_CHARS: usize = 32;

/// The deployment environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppEnv {
    /// A developer's machine: `.env` is read, plain HTTP on loopback is fine.
    Development,
    /// The automated test suite.
    Test,
    /// A production-like deployment.
    Staging,
    /// The real thing.
    Production,
}

impl AppEnv {
    /// Whether the strict checks (secrets, TLS, database role) apply.
    pub fn is_deployed(self) -> bool {
        matches!(self, Self::Staging | Self::Production)
    }

    /// The name as written in `APP_ENV`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Development => "development",
            Self::Test => "test",
            Self::Staging => "staging",
            Self::Production => "production",
        }
    }
}

/// Which TLS versions the HTTPS listener offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMinVersion {
    /// TLS 1.2 and 1.3.
    Tls12,
    /// TLS 1.3 only.
    Tls13,
}

/// The HTTPS listener's settings.
#[derive(Debug, Clone)]
pub struct TlsConfig {
    /// Address to listen on.
    pub bind: SocketAddr,
    /// PEM certificate chain.
    pub cert_file: PathBuf,
    /// PEM private key.
    pub key_file: PathBuf,
    /// Lowest version offered.
    pub min_version: TlsMinVersion,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable.
    Pretty,
}

/// How emails leave the outbox (`OUTBOX_EMAIL_PROVIDER`).
#[derive(Debug, Clone)]
pub enum EmailDelivery {
    /// Written as files under `OUTBOX_DIR` (development only).
    File,
    /// Sent through an SMTP server.
    Smtp {
        /// `SMTP_URL` (may carry credentials).
        url: SecretString,
        /// `SMTP_FROM`.
        from: String,
    },
}

/// How text messages leave the outbox (`OUTBOX_SMS_PROVIDER`).
#[derive(Debug, Clone)]
pub enum SmsDelivery {
    /// Written as files under `OUTBOX_DIR` (development only).
    File,
    /// POSTed, signed, to an HTTP gateway.
    Gateway {
        /// `SMS_GATEWAY_URL`.
        url: String,
        /// `SMS_GATEWAY_SECRET`, the HMAC key.
        secret: SecretString,
    },
}

/// How webhooks are delivered (`WEBHOOK_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebhookSettings {
    /// Seconds between the delivery worker's rounds (0: the worker does not run).
    pub poll_secs: u64,
    /// How long one delivery may take, connection included.
    pub timeout: std::time::Duration,
    /// `http://` endpoints (outside staging and production only).
    pub allow_http: bool,
    /// Endpoints on this machine (development and tests only).
    pub allow_loopback: bool,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The environment.
    pub app_env: AppEnv,
    /// The API role's connection string.
    pub database_url: SecretString,
    /// The owner role's connection string (migrations only).
    pub migration_database_url: Option<SecretString>,
    /// Plain HTTP listener.
    pub http_bind: SocketAddr,
    /// HTTPS listener, when TLS is on.
    pub tls: Option<TlsConfig>,
    /// A proxy terminates TLS.
    pub trust_proxy_tls: bool,
    /// Public base URL, when set explicitly.
    pub public_url: Option<String>,
    /// The front end's base URL, for links in emails.
    pub app_url: Option<String>,
    /// Per-flow link templates (each holds `{token}`).
    pub link_templates: Vec<(Flow, String)>,
    /// The metrics listener, when on.
    pub metrics_bind: Option<SocketAddr>,
    /// Allowed CORS origins.
    pub cors_allowed_origins: Vec<String>,
    /// security.txt contact.
    pub security_contact: String,
    /// Pool size.
    pub db_pool_size: u32,
    /// Statement timeout.
    pub db_statement_timeout_ms: u64,
    /// Wait for a pooled connection.
    pub db_checkout_timeout_ms: u64,
    /// JSON body cap.
    pub json_body_limit_bytes: usize,
    /// Worker threads (None: one per CPU).
    pub http_workers: Option<usize>,
    /// Log format.
    pub log_format: LogFormat,
    /// Access-token signing keys (`kid`, secret); the first signs.
    pub token_signing_keys: Vec<(String, SecretBytes)>,
    /// Master keys (`kid`, 32 bytes); the first seals.
    pub master_keys: Vec<(String, SecretBytes)>,
    /// Audit checkpoint signing seeds (`kid`, 32 bytes); the first signs.
    pub audit_signing_keys: Vec<(String, SecretBytes)>,
    /// Access-token lifetime in seconds.
    pub access_token_ttl_secs: i64,
    /// Absolute session lifetime in hours.
    pub session_lifetime_hours: i64,
    /// argon2id memory (KiB), iterations, parallelism.
    pub argon2: (u32, u32, u32),
    /// Concurrent password hashes.
    pub password_hash_concurrency: Option<usize>,
    /// Failures before lock-out.
    pub lockout_threshold: i32,
    /// Lock-out length in minutes.
    pub lockout_minutes: i64,
    /// Requests per minute per address per authentication endpoint.
    pub auth_rate_limit_per_minute: i32,
    /// The rate limits of every `/api/v1` operation.
    pub rate_limits: Limits,
    /// Milliseconds between the rate limiter's sync rounds (0: off).
    pub rate_limit_sync_millis: u64,
    /// Directory of the file outbox provider.
    pub outbox_dir: PathBuf,
    /// Outbox polling interval (0: the worker does not run).
    pub outbox_poll_secs: u64,
    /// Seconds between rounds of the audit job (0: off).
    pub audit_job_secs: u64,
    /// Milliseconds between rounds of the audit sequencer (0: off).
    pub audit_sequence_millis: u64,
    /// Email provider.
    pub email_delivery: EmailDelivery,
    /// SMS provider.
    pub sms_delivery: SmsDelivery,
    /// The platform's security webhook (URL and HMAC secret), when configured.
    pub security_webhook: Option<(String, SecretString)>,
    /// Clinics' webhooks: the delivery worker and where endpoints may point.
    pub webhooks: WebhookSettings,
    /// Backups with pgBackRest, when `BACKUP_REPO_PATH` is set.
    pub backup: Option<BackupConfig>,
    /// The destruction register's directory.
    pub destruction_register_dir: PathBuf,
    /// Days of a closure's grace period.
    pub closure_grace_days: i64,
    /// Rotation period of the critical keys, in days.
    pub key_rotation_critical_days: i64,
    /// Rotation period of the other secrets and keys, in days.
    pub key_rotation_standard_days: i64,
}

/// Where and how pgBackRest backs the cluster up (`BACKUP_*`).
#[derive(Debug, Clone)]
pub struct BackupConfig {
    /// The repository (`repo1-path`).
    pub repo_path: PathBuf,
    /// The repository's aes-256-cbc passphrase.
    pub cipher_pass: SecretString,
    /// The stanza name.
    pub stanza: String,
    /// Days full backups are kept (`repo1-retention-full`, by time).
    pub retention_days: u32,
    /// The cluster's data directory (`pg1-path`).
    pub pg_data: PathBuf,
    /// The cluster's port (`pg1-port`).
    pub pg_port: u16,
    /// The cluster's Unix socket directory (`pg1-socket-path`).
    pub pg_socket: PathBuf,
    /// Compression before encryption (`compress-type`).
    pub compress_type: String,
    /// Holds the generated `pgbackrest.conf`, its logs and locks.
    pub work_dir: PathBuf,
    /// The OS user pgBackRest runs as when `salus` runs as root.
    pub os_user: String,
    /// A full backup is due when the last full one is this old.
    pub full_every: chrono::Duration,
    /// An incremental backup is due when the last backup of any type is this old.
    pub incr_every: chrono::Duration,
    /// Sealed fields per sealed column the restore drill decrypts.
    pub drill_sample: u32,
    /// The PostgreSQL programs' directory, when set (else found from `PG_VERSION`).
    pub pg_bin: Option<PathBuf>,
}

/// Secret key material: never printed.
#[derive(Clone)]
pub struct SecretBytes(pub Vec<u8>);

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// Every problem found in a configuration, reported together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblems(pub Vec<String>);

impl fmt::Display for ConfigProblems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "the configuration has {} problem(s):", self.0.len())?;
        for problem in &self.0 {
            writeln!(f, "  - {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigProblems {}

/// Reads raw variables; a closure so tests can pass a map instead of the process env.
pub trait Source {
    /// The value of `name`, if set and not empty.
    fn get(&self, name: &str) -> Option<String>;
}

impl<F: Fn(&str) -> Option<String>> Source for F {
    fn get(&self, name: &str) -> Option<String> {
        self(name).filter(|v| !v.trim().is_empty())
    }
}

/// The process environment, after loading `.env` when `APP_ENV` is development.
pub fn process_env() -> impl Source {
    let app_env = std::env::var("APP_ENV").unwrap_or_else(|_| "development".to_owned());
    if app_env == "development" {
        // A missing .env is normal; a malformed one is reported by the parse below.
        let _ = dotenvy::dotenv();
    }
    |name: &str| std::env::var(name).ok()
}

/// Collects problems while reading variables.
struct Reader<'a, S: Source> {
    source: &'a S,
    problems: Vec<String>,
}

impl<S: Source> Reader<'_, S> {
    fn plain(&self, name: &str) -> Option<String> {
        self.source.get(name)
    }

    fn parsed<T: std::str::FromStr>(&mut self, name: &str, default: T, expected: &str) -> T {
        match self.plain(name) {
            None => default,
            Some(raw) => raw.trim().parse().unwrap_or_else(|_| {
                self.problems
                    .push(format!("{name} must be {expected} (got '{}')", raw.trim()));
                default
            }),
        }
    }

    fn secret(&mut self, name: &str) -> Option<SecretString> {
        let file_var = format!("{name}_FILE");
        match (self.source.get(name), self.source.get(&file_var)) {
            (Some(_), Some(_)) => {
                self.problems
                    .push(format!("set only one of {name} and {file_var}"));
                None
            }
            (Some(value), None) => Some(SecretString::from(value)),
            (None, Some(path)) => match std::fs::read_to_string(&path) {
                Ok(content) => Some(SecretString::from(content.trim_end().to_owned())),
                Err(e) => {
                    self.problems.push(format!(
                        "{file_var} points to '{path}', which cannot be read: {e}"
                    ));
                    None
                }
            },
            (None, None) => None,
        }
    }
}

/// Reads one secret (or its `_FILE` variant) on its own, for commands that need
/// nothing else (`salus migrate`).
pub fn read_secret(
    source: &impl Source,
    name: &str,
) -> Result<Option<SecretString>, ConfigProblems> {
    let mut r = Reader {
        source,
        problems: Vec::new(),
    };
    let value = r.secret(name);
    if r.problems.is_empty() {
        Ok(value)
    } else {
        Err(ConfigProblems(r.problems))
    }
}

/// `APP_ENV`; an unknown value is a problem, read as production (the strictest).
fn read_app_env<S: Source>(r: &mut Reader<'_, S>) -> AppEnv {
    match r.plain("APP_ENV").as_deref().map(str::trim) {
        None | Some("development") => AppEnv::Development,
        Some("test") => AppEnv::Test,
        Some("staging") => AppEnv::Staging,
        Some("production") => AppEnv::Production,
        Some(other) => {
            r.problems.push(format!(
                "APP_ENV must be development, test, staging or production (got '{other}')"
            ));
            AppEnv::Production
        }
    }
}

/// Reads the backup settings (and `APP_ENV`) on their own, for what needs
/// nothing else (`salus backup archive-command`): `None` when
/// `BACKUP_REPO_PATH` is not set.
pub fn read_backup(source: &impl Source) -> Result<Option<BackupConfig>, ConfigProblems> {
    let mut r = Reader {
        source,
        problems: Vec::new(),
    };
    let app_env = read_app_env(&mut r);
    let backup = read_backup_settings(&mut r, app_env);
    if r.problems.is_empty() {
        Ok(backup)
    } else {
        Err(ConfigProblems(r.problems))
    }
}

/// `DESTRUCTION_REGISTER_DIR`: absolute in staging/production, and never inside
/// what the backups hold or where they are kept (a restore must not be able to
/// take the register back with it).
fn read_register_dir<S: Source>(
    r: &mut Reader<'_, S>,
    deployed: bool,
    backup: Option<&BackupConfig>,
) -> PathBuf {
    let dir = PathBuf::from(
        r.plain("DESTRUCTION_REGISTER_DIR")
            .map(|d| d.trim().to_owned())
            .unwrap_or_else(|| ".local/destruction-register".to_owned()),
    );
    if deployed && !dir.is_absolute() {
        r.problems.push(format!(
            "DESTRUCTION_REGISTER_DIR must be an absolute path in staging and production (got '{}')",
            dir.display()
        ));
    }
    if let Some(backup) = backup
        && let Ok(absolute) = std::path::absolute(&dir)
    {
        for (name, inside) in [
            ("BACKUP_PG_DATA", &backup.pg_data),
            ("BACKUP_REPO_PATH", &backup.repo_path),
        ] {
            if absolute.starts_with(inside) {
                r.problems.push(format!(
                    "DESTRUCTION_REGISTER_DIR must not be inside {name} ({}): the register must outlive a restore",
                    inside.display()
                ));
            }
        }
    }
    dir
}

/// `BACKUP_*`: nothing when `BACKUP_REPO_PATH` is unset; otherwise every setting
/// checked, the passphrase like the other secrets (required everywhere: the
/// repository is never written unencrypted).
fn read_backup_settings<S: Source>(r: &mut Reader<'_, S>, app_env: AppEnv) -> Option<BackupConfig> {
    let repo_path = r.plain("BACKUP_REPO_PATH")?;
    let deployed = app_env.is_deployed();
    let repo_path = absolute_path(r, "BACKUP_REPO_PATH", &repo_path);
    let pg_data = r.plain("BACKUP_PG_DATA");
    if pg_data.is_none() {
        r.problems.push(
            "BACKUP_PG_DATA is missing (the data directory of the cluster to back up)".to_owned(),
        );
    }
    let pg_data = pg_data.map(|p| absolute_path(r, "BACKUP_PG_DATA", &p));
    let pg_socket = r
        .plain("BACKUP_PG_SOCKET")
        .unwrap_or_else(|| "/var/run/postgresql".to_owned());
    let pg_socket = absolute_path(r, "BACKUP_PG_SOCKET", &pg_socket);
    let work_dir = PathBuf::from(
        r.plain("BACKUP_WORK_DIR")
            .map(|d| d.trim().to_owned())
            .unwrap_or_else(|| ".local/backup".to_owned()),
    );
    if deployed && !work_dir.is_absolute() {
        r.problems.push(format!(
            "BACKUP_WORK_DIR must be an absolute path in staging and production (got '{}')",
            work_dir.display()
        ));
    }
    let pg_port = r.parsed("BACKUP_PG_PORT", 5432u16, "a port number");
    let compress_type = r
        .plain("BACKUP_COMPRESS_TYPE")
        .map(|c| c.trim().to_owned())
        .unwrap_or_else(|| "gz".to_owned());
    if !["gz", "lz4", "zst", "none"].contains(&compress_type.as_str()) {
        r.problems.push(format!(
            "BACKUP_COMPRESS_TYPE must be gz, lz4, zst or none (got '{compress_type}')"
        ));
    }
    let retention_days = r.parsed("BACKUP_RETENTION_DAYS", 30u32, "a number of days");
    if !(1..=9_999_999).contains(&retention_days) {
        r.problems
            .push("BACKUP_RETENTION_DAYS must be between 1 and 9999999".to_owned());
    }
    let stanza = r
        .plain("BACKUP_STANZA")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|| "salus".to_owned());
    if !stanza
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        r.problems.push(format!(
            "BACKUP_STANZA must hold only letters, digits, '-' and '_' (got '{stanza}')"
        ));
    }
    let os_user = r
        .plain("BACKUP_OS_USER")
        .map(|u| u.trim().to_owned())
        .unwrap_or_else(|| "postgres".to_owned());
    let full_hours = r.parsed("BACKUP_FULL_EVERY_HOURS", 24u32, "a number of hours");
    let incr_hours = r.parsed("BACKUP_INCR_EVERY_HOURS", 6u32, "a number of hours");
    if !(1..=24 * 31).contains(&full_hours) || !(1..=full_hours).contains(&incr_hours) {
        r.problems.push(format!(
            "BACKUP_FULL_EVERY_HOURS must be between 1 and 744, and BACKUP_INCR_EVERY_HOURS between 1 and it (got {full_hours} and {incr_hours})"
        ));
    }
    let drill_sample = r.parsed("BACKUP_DRILL_SAMPLE", 25u32, "a number of fields");
    if !(1..=10_000).contains(&drill_sample) {
        r.problems
            .push("BACKUP_DRILL_SAMPLE must be between 1 and 10000".to_owned());
    }
    let pg_bin = r
        .plain("BACKUP_PG_BIN")
        .map(|p| absolute_path(r, "BACKUP_PG_BIN", &p));
    let cipher_pass = r.secret("BACKUP_CIPHER_PASS");
    match &cipher_pass {
        None => r.problems.push(
            "BACKUP_CIPHER_PASS is missing (set BACKUP_CIPHER_PASS or BACKUP_CIPHER_PASS_FILE; the repository is always encrypted)"
                .to_owned(),
        ),
        Some(pass) if deployed => {
            let raw = pass.expose_secret();
            if example_value("BACKUP_CIPHER_PASS") == Some(raw) {
                r.problems
                    .push("BACKUP_CIPHER_PASS uses the example value from .env.example".to_owned());
            } else if raw.chars().count() < MIN_BACKUP_PASS_CHARS {
                r.problems.push(format!(
                    "BACKUP_CIPHER_PASS is short ({} characters; at least {MIN_BACKUP_PASS_CHARS})",
                    raw.chars().count()
                ));
            }
        }
        Some(_) => {}
    }
    Some(BackupConfig {
        repo_path,
        cipher_pass: cipher_pass?,
        stanza,
        retention_days,
        pg_data: pg_data?,
        pg_port,
        pg_socket,
        compress_type,
        work_dir,
        os_user,
        full_every: chrono::Duration::hours(full_hours.into()),
        incr_every: chrono::Duration::hours(incr_hours.into()),
        drill_sample,
        pg_bin,
    })
}

/// A path setting that must be absolute (it ends up in a generated file read by
/// other processes, from other directories).
fn absolute_path<S: Source>(r: &mut Reader<'_, S>, name: &str, raw: &str) -> PathBuf {
    let path = PathBuf::from(raw.trim());
    if !path.is_absolute() {
        r.problems.push(format!(
            "{name} must be an absolute path (got '{}')",
            path.display()
        ));
    }
    path
}

/// Parses a key ring `kid:base64,kid:base64`. Outside staging and production a
/// missing ring becomes one random key (tokens and sealed values then last as long
/// as the process).
fn read_key_ring<S: Source>(
    r: &mut Reader<'_, S>,
    name: &str,
    min_len: usize,
    exact: bool,
    app_env: AppEnv,
) -> Vec<(String, SecretBytes)> {
    use base64::Engine;
    let Some(raw) = r.secret(name) else {
        if app_env.is_deployed() {
            r.problems
                .push(format!("{name} is missing (set {name} or {name}_FILE)"));
            return Vec::new();
        }
        return vec![(
            "local".to_owned(),
            SecretBytes(local_key(name, min_len, app_env)),
        )];
    };
    let deployed = app_env.is_deployed();
    let raw = raw.expose_secret();
    if deployed && example_value(name) == Some(raw) {
        r.problems
            .push(format!("{name} uses the example value from .env.example"));
    }
    let mut ring = Vec::new();
    for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let Some((kid, b64)) = entry.split_once(':') else {
            r.problems
                .push(format!("{name} entries must be kid:base64"));
            continue;
        };
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(b64.trim()));
        match decoded {
            Ok(key) if (exact && key.len() == min_len) || (!exact && key.len() >= min_len) => {
                ring.push((kid.trim().to_owned(), SecretBytes(key)));
            }
            Ok(key) => r.problems.push(format!(
                "{name} key '{}' has {} bytes; it needs {}{min_len}",
                kid.trim(),
                key.len(),
                if exact { "" } else { "at least " }
            )),
            Err(_) => r
                .problems
                .push(format!("{name} key '{}' is not valid base64", kid.trim())),
        }
    }
    if ring.is_empty() && r.problems.is_empty() {
        r.problems.push(format!("{name} holds no key"));
    }
    ring
}

/// Whether two bind addresses would listen on the same socket: the same port, and
/// the same address or one of them every address (`0.0.0.0`, `::`).
fn same_listener(a: SocketAddr, b: SocketAddr) -> bool {
    a.port() == b.port() && (a.ip() == b.ip() || a.ip().is_unspecified() || b.ip().is_unspecified())
}

/// Whether a URL points at this machine (`localhost` or a loopback address).
fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        // Non-special schemes (smtp://) leave an IP address unparsed, as a "domain".
        Some(url::Host::Domain(domain)) => {
            domain.eq_ignore_ascii_case("localhost")
                || domain
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Problems with `SMTP_URL`. They name it but never print it: it may hold a password.
fn smtp_url_problems(url: &SecretString, deployed: bool) -> Vec<String> {
    let Ok(url) = url::Url::parse(url.expose_secret()) else {
        return vec!["SMTP_URL is not a valid URL".to_owned()];
    };
    let mut problems = Vec::new();
    if url.host_str().is_none_or(str::is_empty) {
        problems.push("SMTP_URL has no host".to_owned());
    }
    let tls = url
        .query_pairs()
        .find(|(k, _)| k == "tls")
        .map(|(_, v)| v.into_owned());
    match (url.scheme(), tls.as_deref()) {
        ("smtps", _) | ("smtp", Some("required")) => {}
        ("smtp", None | Some("opportunistic")) => {
            if deployed && !is_loopback(&url) {
                problems.push(
                    "SMTP_URL would send codes in clear text: use smtps:// or ?tls=required \
                     (plain smtp:// only to a relay on loopback)"
                        .to_owned(),
                );
            }
        }
        _ => problems.push(
            "SMTP_URL must be smtps://... or smtp://... (with tls=required or tls=opportunistic, if any)"
                .to_owned(),
        ),
    }
    problems
}

/// Reads `OUTBOX_EMAIL_PROVIDER` and, for `smtp`, `SMTP_URL` and `SMTP_FROM`.
fn read_email_delivery<S: Source>(r: &mut Reader<'_, S>, deployed: bool) -> EmailDelivery {
    const NAME: &str = "OUTBOX_EMAIL_PROVIDER";
    match r.plain(NAME).as_deref().map(str::trim) {
        Some("smtp") => {}
        None | Some("file") if !deployed => return EmailDelivery::File,
        None | Some("file") => {
            r.problems.push(format!(
                "{NAME} must be smtp in staging and production (the file provider is for development)"
            ));
            return EmailDelivery::File;
        }
        Some(other) => {
            r.problems
                .push(format!("{NAME} must be file or smtp (got '{other}')"));
            return EmailDelivery::File;
        }
    }
    let url = r.secret("SMTP_URL");
    match &url {
        None => r.problems.push(
            "SMTP_URL is missing (set SMTP_URL or SMTP_URL_FILE; OUTBOX_EMAIL_PROVIDER=smtp needs it)"
                .to_owned(),
        ),
        Some(url) => r.problems.extend(smtp_url_problems(url, deployed)),
    }
    let from = r.plain("SMTP_FROM").map(|f| f.trim().to_owned());
    match &from {
        None => r.problems.push(
            "SMTP_FROM is missing (OUTBOX_EMAIL_PROVIDER=smtp needs a From address)".to_owned(),
        ),
        Some(from) if from.parse::<lettre::message::Mailbox>().is_err() => r.problems.push(
            format!("SMTP_FROM must be an address such as 'Salus <no-reply@clinic.example>' (got '{from}')"),
        ),
        Some(_) => {}
    }
    match (url, from) {
        (Some(url), Some(from)) => EmailDelivery::Smtp { url, from },
        _ => EmailDelivery::File,
    }
}

/// Reads `OUTBOX_SMS_PROVIDER` and, for `gateway`, `SMS_GATEWAY_URL` and
/// `SMS_GATEWAY_SECRET`.
fn read_sms_delivery<S: Source>(r: &mut Reader<'_, S>, deployed: bool) -> SmsDelivery {
    const NAME: &str = "OUTBOX_SMS_PROVIDER";
    match r.plain(NAME).as_deref().map(str::trim) {
        Some("gateway") => {}
        None | Some("file") if !deployed => return SmsDelivery::File,
        None | Some("file") => {
            r.problems.push(format!(
                "{NAME} must be gateway in staging and production (the file provider is for development)"
            ));
            return SmsDelivery::File;
        }
        Some(other) => {
            r.problems
                .push(format!("{NAME} must be file or gateway (got '{other}')"));
            return SmsDelivery::File;
        }
    }
    match read_signed_endpoint(r, "SMS_GATEWAY_URL", "SMS_GATEWAY_SECRET", deployed) {
        Some((url, secret)) => SmsDelivery::Gateway { url, secret },
        None => SmsDelivery::File,
    }
}

/// Reads an endpoint that receives HMAC-signed JSON POSTs: its URL (`https://`
/// in staging and production unless on loopback) and its secret.
fn read_signed_endpoint<S: Source>(
    r: &mut Reader<'_, S>,
    url_name: &str,
    secret_name: &str,
    deployed: bool,
) -> Option<(String, SecretString)> {
    let url = r.plain(url_name).map(|u| u.trim().to_owned());
    match url.as_deref().map(url::Url::parse) {
        None => r.problems.push(format!("{url_name} is missing")),
        Some(Err(_)) => r.problems.push(format!("{url_name} is not a valid URL")),
        Some(Ok(parsed)) => match parsed.scheme() {
            "https" => {}
            "http" if !deployed || is_loopback(&parsed) => {}
            "http" => r.problems.push(format!(
                "{url_name} must be https:// in staging and production"
            )),
            _ => r
                .problems
                .push(format!("{url_name} must be an http:// or https:// URL")),
        },
    }
    let secret = r.secret(secret_name);
    match &secret {
        None => r.problems.push(format!(
            "{secret_name} is missing (set {secret_name} or {secret_name}_FILE)"
        )),
        Some(secret) if deployed => {
            let raw = secret.expose_secret();
            if example_value(secret_name) == Some(raw) {
                r.problems.push(format!(
                    "{secret_name} uses the example value from .env.example"
                ));
            } else if raw.chars().count() < MIN_SECRET_CHARS {
                r.problems.push(format!(
                    "{secret_name} is short ({} characters; at least {MIN_SECRET_CHARS})",
                    raw.chars().count()
                ));
            }
        }
        Some(_) => {}
    }
    url.zip(secret)
}

/// Reads the platform's security webhook (`SECURITY_WEBHOOK_URL`, optional, and
/// `SECURITY_WEBHOOK_SECRET`).
fn read_security_webhook<S: Source>(
    r: &mut Reader<'_, S>,
    deployed: bool,
) -> Option<(String, SecretString)> {
    r.plain("SECURITY_WEBHOOK_URL")?;
    read_signed_endpoint(
        r,
        "SECURITY_WEBHOOK_URL",
        "SECURITY_WEBHOOK_SECRET",
        deployed,
    )
}

/// Reads `WEBHOOK_*`: loopback endpoints are a development and test setting,
/// refused in staging and production, which also refuse `http://` endpoints.
/// A positive count read from `name`.
fn quota<S: Source>(r: &mut Reader<'_, S>, name: &str, default: u64) -> u64 {
    let value = r.parsed(name, default, "a positive number");
    if value == 0 {
        r.problems.push(format!("{name} must be at least 1"));
    }
    value
}

/// `RATE_LIMIT_*`: the limits of every `/api/v1` operation and how often the
/// nodes share their counts.
fn read_rate_limits<S: Source>(r: &mut Reader<'_, S>, deployed: bool) -> (Limits, u64) {
    let defaults = Limits::default();
    let limits = Limits {
        window_secs: quota(r, "RATE_LIMIT_WINDOW_SECONDS", defaults.window_secs),
        per_credential: quota(r, "RATE_LIMIT_PER_CREDENTIAL", defaults.per_credential),
        per_clinic: PlanLimits {
            free: quota(r, "RATE_LIMIT_CLINIC_FREE", defaults.per_clinic.free),
            pro: quota(r, "RATE_LIMIT_CLINIC_PRO", defaults.per_clinic.pro),
            business: quota(
                r,
                "RATE_LIMIT_CLINIC_BUSINESS",
                defaults.per_clinic.business,
            ),
        },
        per_address: quota(r, "RATE_LIMIT_PER_ADDRESS", defaults.per_address),
    };
    if limits.window_secs > 3600 {
        r.problems
            .push("RATE_LIMIT_WINDOW_SECONDS must be between 1 and 3600".to_owned());
    }
    let sync_millis = r.parsed("RATE_LIMIT_SYNC_MILLIS", 200u64, "a number of milliseconds");
    if !(sync_millis == 0 && !deployed || (20..=5000).contains(&sync_millis)) {
        r.problems.push(
            "RATE_LIMIT_SYNC_MILLIS must be between 20 and 5000 (0 turns the sharing of counts between nodes off, outside staging and production only)"
                .to_owned(),
        );
    }
    (limits, sync_millis)
}

fn read_webhooks<S: Source>(r: &mut Reader<'_, S>, deployed: bool) -> WebhookSettings {
    let poll_secs = r.parsed("WEBHOOK_POLL_SECONDS", 5u64, "a number of seconds");
    let timeout_secs = r.parsed("WEBHOOK_TIMEOUT_SECONDS", 15u64, "a number of seconds");
    if !(1..=60).contains(&timeout_secs) {
        r.problems
            .push("WEBHOOK_TIMEOUT_SECONDS must be between 1 and 60".to_owned());
    }
    let allow_loopback = r.parsed("WEBHOOK_ALLOW_LOOPBACK", false, "true or false");
    if deployed && allow_loopback {
        r.problems.push(
            "WEBHOOK_ALLOW_LOOPBACK must be false in staging and production: webhooks go to public addresses only"
                .to_owned(),
        );
    }
    WebhookSettings {
        poll_secs,
        timeout: std::time::Duration::from_secs(timeout_secs.clamp(1, 60)),
        allow_http: !deployed,
        allow_loopback,
    }
}

/// A key for development or tests when none is configured: in development it is
/// generated once and kept under `.local/dev-secrets/` when `.local/` exists (so data sealed by one run
/// opens in the next, and `seed-dev` and `serve` agree); in tests it lives as long as
/// the process.
fn local_key(name: &str, len: usize, app_env: AppEnv) -> Vec<u8> {
    let random = || {
        let mut key = vec![0u8; len];
        if getrandom::fill(&mut key).is_err() {
            std::process::abort();
        }
        key
    };
    // Kept only in a checkout that has a `.local/` (made by `make run`).
    if app_env != AppEnv::Development || !Path::new(".local").is_dir() {
        return random();
    }
    let path = PathBuf::from(".local/dev-secrets").join(name);
    if let Ok(existing) = std::fs::read(&path)
        && existing.len() == len
    {
        return existing;
    }
    let key = random();
    let written =
        std::fs::create_dir_all(".local/dev-secrets").and_then(|()| std::fs::write(&path, &key));
    if written.is_err() {
        eprintln!(
            "salus: cannot keep a development {name} under .local/dev-secrets; using one for this process only"
        );
    }
    key
}

/// The value of `name` in `.env.example`, if it has one.
fn example_value(name: &str) -> Option<&'static str> {
    ENV_EXAMPLE.lines().find_map(|line| {
        let (key, value) = line.split_once('=')?;
        (key.trim() == name && !value.trim().is_empty()).then_some(value.trim())
    })
}

/// The password component of a connection URL, if any.
fn url_password(raw: &str) -> Option<String> {
    let url = url::Url::parse(raw).ok()?;
    url.password().map(str::to_owned)
}

/// Problems with a database URL secret in staging and production.
fn database_secret_problems(name: &str, value: &SecretString) -> Vec<String> {
    let raw = value.expose_secret();
    let mut problems = Vec::new();
    if url::Url::parse(raw).is_err() {
        problems.push(format!("{name} is not a valid URL"));
        return problems;
    }
    let example = example_value(name);
    let example_password = example.and_then(url_password);
    match url_password(raw) {
        None => problems.push(format!(
            "{name} has no password; use a password of at least {MIN_SECRET_CHARS} characters"
        )),
        Some(password) => {
            if example == Some(raw) || example_password.as_deref() == Some(password.as_str()) {
                problems.push(format!(
                    "{name} uses the example password from .env.example"
                ));
            } else if password.chars().count() < MIN_SECRET_CHARS {
                problems.push(format!(
                    "{name} has a short password ({} characters; at least {MIN_SECRET_CHARS})",
                    password.chars().count()
                ));
            }
        }
    }
    problems
}

impl Config {
    /// Reads and validates the configuration, reporting every problem at once.
    pub fn load(source: &impl Source) -> Result<Self, ConfigProblems> {
        let mut r = Reader {
            source,
            problems: Vec::new(),
        };
        let app_env = read_app_env(&mut r);
        let database_url = r.secret("DATABASE_URL");
        if database_url.is_none() {
            r.problems
                .push("DATABASE_URL is missing (set DATABASE_URL or DATABASE_URL_FILE)".to_owned());
        }
        let migration_database_url = r.secret("MIGRATION_DATABASE_URL");
        let http_bind = r.parsed(
            "HTTP_BIND",
            SocketAddr::from(([127, 0, 0, 1], 8080)),
            "an address such as 127.0.0.1:8080",
        );
        let tls = read_tls(&mut r);
        let trust_proxy_tls = r.parsed("TRUST_PROXY_TLS", false, "true or false");
        let public_url = r
            .plain("PUBLIC_URL")
            .map(|u| u.trim().trim_end_matches('/').to_owned());
        if let Some(url) = &public_url
            && url::Url::parse(url).is_err()
        {
            r.problems
                .push(format!("PUBLIC_URL is not a valid URL (got '{url}')"));
        }
        let (app_url, link_templates) = read_links(&mut r, app_env);
        let metrics_bind = r.plain("METRICS_BIND").map(|_| {
            r.parsed(
                "METRICS_BIND",
                SocketAddr::from(([127, 0, 0, 1], 9090)),
                "an address such as 127.0.0.1:9090",
            )
        });
        let cors_allowed_origins = r
            .plain("CORS_ALLOWED_ORIGINS")
            .map(|v| {
                v.split(',')
                    .map(|o| o.trim().to_owned())
                    .filter(|o| !o.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let security_contact = r.plain("SECURITY_CONTACT");
        let db_pool_size = r.parsed("DB_POOL_SIZE", 16u32, "a positive integer");
        if db_pool_size == 0 {
            r.problems
                .push("DB_POOL_SIZE must be at least 1".to_owned());
        }
        let db_statement_timeout_ms = r.parsed(
            "DB_STATEMENT_TIMEOUT_MS",
            5000u64,
            "a number of milliseconds",
        );
        let db_checkout_timeout_ms = r.parsed(
            "DB_CHECKOUT_TIMEOUT_MS",
            5000u64,
            "a number of milliseconds",
        );
        let json_body_limit_bytes =
            r.parsed("JSON_BODY_LIMIT_BYTES", 64 * 1024usize, "a number of bytes");
        let http_workers = r
            .plain("HTTP_WORKERS")
            .map(|_| r.parsed("HTTP_WORKERS", 1usize, "a positive integer"));
        let log_format = match r.plain("LOG_FORMAT").as_deref().map(str::trim) {
            Some("json") => LogFormat::Json,
            Some("pretty") => LogFormat::Pretty,
            None if app_env == AppEnv::Development => LogFormat::Pretty,
            None => LogFormat::Json,
            Some(other) => {
                r.problems
                    .push(format!("LOG_FORMAT must be json or pretty (got '{other}')"));
                LogFormat::Json
            }
        };

        let deployed = app_env.is_deployed();
        let token_signing_keys = read_key_ring(&mut r, "TOKEN_SIGNING_KEYS", 32, false, app_env);
        let master_keys = read_key_ring(&mut r, "MASTER_KEYS", 32, true, app_env);
        let audit_signing_keys = read_key_ring(&mut r, "AUDIT_SIGNING_KEYS", 32, true, app_env);
        let access_token_ttl_secs =
            r.parsed("ACCESS_TOKEN_TTL_SECONDS", 900i64, "a number of seconds");
        if !(60..=900).contains(&access_token_ttl_secs) {
            r.problems
                .push("ACCESS_TOKEN_TTL_SECONDS must be between 60 and 900".to_owned());
        }
        let session_lifetime_hours = r.parsed("SESSION_LIFETIME_HOURS", 12i64, "a number of hours");
        if !(1..=24).contains(&session_lifetime_hours) {
            r.problems
                .push("SESSION_LIFETIME_HOURS must be between 1 and 24".to_owned());
        }
        let argon2 = (
            r.parsed("ARGON2_MEMORY_KIB", 19_456u32, "a number of KiB"),
            r.parsed("ARGON2_ITERATIONS", 2u32, "a positive integer"),
            r.parsed("ARGON2_PARALLELISM", 1u32, "a positive integer"),
        );
        if deployed && (argon2.0 < 19_456 || argon2.1 < 2) {
            r.problems.push("ARGON2_MEMORY_KIB must be at least 19456 and ARGON2_ITERATIONS at least 2 in staging and production".to_owned());
        }
        let password_hash_concurrency = r
            .plain("PASSWORD_HASH_CONCURRENCY")
            .map(|_| r.parsed("PASSWORD_HASH_CONCURRENCY", 1usize, "a positive integer"));
        let lockout_threshold = r.parsed("LOCKOUT_THRESHOLD", 10i32, "a positive integer");
        let lockout_minutes = r.parsed("LOCKOUT_MINUTES", 15i64, "a number of minutes");
        let auth_rate_limit_per_minute =
            r.parsed("AUTH_RATE_LIMIT_PER_MINUTE", 30i32, "a positive integer");
        let (rate_limits, rate_limit_sync_millis) = read_rate_limits(&mut r, deployed);
        let outbox_dir = PathBuf::from(
            r.plain("OUTBOX_DIR")
                .unwrap_or_else(|| ".local/outbox".to_owned()),
        );
        let outbox_poll_secs = r.parsed("OUTBOX_POLL_SECONDS", 5u64, "a number of seconds");
        let audit_job_secs = r.parsed("AUDIT_JOB_SECONDS", 60u64, "a number of seconds");
        if audit_job_secs > 240 || (deployed && audit_job_secs == 0) {
            r.problems.push(
                "AUDIT_JOB_SECONDS must be between 1 and 240 (alerts must follow their event within 5 minutes; 0 turns the job off, outside staging and production only)"
                    .to_owned(),
            );
        }
        let audit_sequence_millis =
            r.parsed("AUDIT_SEQUENCE_MILLIS", 250u64, "a number of milliseconds");
        if !(audit_sequence_millis == 0 && !deployed
            || (50..=1000).contains(&audit_sequence_millis))
        {
            r.problems.push(
                "AUDIT_SEQUENCE_MILLIS must be between 50 and 1000 (audit events take their chain positions within a second; 0 turns the sequencer off, outside staging and production only)"
                    .to_owned(),
            );
        }
        let email_delivery = read_email_delivery(&mut r, deployed);
        let sms_delivery = read_sms_delivery(&mut r, deployed);
        let security_webhook = read_security_webhook(&mut r, deployed);
        let webhooks = read_webhooks(&mut r, deployed);
        let backup = read_backup_settings(&mut r, app_env);
        let destruction_register_dir = read_register_dir(&mut r, deployed, backup.as_ref());
        let closure_grace_days = r.parsed("CLOSURE_GRACE_DAYS", 30i64, "a number of days");
        if !(1..=365).contains(&closure_grace_days) {
            r.problems
                .push("CLOSURE_GRACE_DAYS must be between 1 and 365".to_owned());
        }
        let key_rotation_critical_days =
            r.parsed("KEY_ROTATION_CRITICAL_DAYS", 30i64, "a number of days");
        if !(1..=365).contains(&key_rotation_critical_days) {
            r.problems
                .push("KEY_ROTATION_CRITICAL_DAYS must be between 1 and 365".to_owned());
        }
        let key_rotation_standard_days =
            r.parsed("KEY_ROTATION_STANDARD_DAYS", 90i64, "a number of days");
        if !(1..=730).contains(&key_rotation_standard_days) {
            r.problems
                .push("KEY_ROTATION_STANDARD_DAYS must be between 1 and 730".to_owned());
        }

        if deployed {
            if let Some(url) = &database_url {
                r.problems
                    .extend(database_secret_problems("DATABASE_URL", url));
            }
            if let Some(url) = &migration_database_url {
                r.problems
                    .extend(database_secret_problems("MIGRATION_DATABASE_URL", url));
            }
            if tls.is_none() && !trust_proxy_tls {
                r.problems.push(format!(
                    "APP_ENV={} requires TLS: set TLS_BIND, TLS_CERT_FILE and TLS_KEY_FILE, \
                     or TRUST_PROXY_TLS=true when a proxy terminates TLS",
                    app_env.as_str()
                ));
            }
            if security_contact.is_none() {
                r.problems
                    .push("SECURITY_CONTACT is missing (a mailto: or https: URI)".to_owned());
            }
            if let Some(metrics) = metrics_bind {
                let public = [
                    ("HTTP_BIND", Some(http_bind)),
                    ("TLS_BIND", tls.as_ref().map(|t| t.bind)),
                ];
                for (name, addr) in public {
                    if let Some(addr) = addr.filter(|a| same_listener(metrics, *a)) {
                        r.problems.push(format!(
                            "METRICS_BIND must not be the public {name} ({addr}): metrics are served only on a separate address"
                        ));
                    }
                }
            }
        }
        let security_contact =
            security_contact.unwrap_or_else(|| "mailto:security@salus.invalid".to_owned());
        if !(security_contact.starts_with("mailto:") || security_contact.starts_with("https://")) {
            r.problems.push(format!(
                "SECURITY_CONTACT must be a mailto: or https: URI (got '{security_contact}')"
            ));
        }

        match database_url {
            Some(database_url) if r.problems.is_empty() => Ok(Self {
                app_env,
                database_url,
                migration_database_url,
                http_bind,
                tls,
                trust_proxy_tls,
                public_url,
                app_url,
                link_templates,
                metrics_bind,
                cors_allowed_origins,
                security_contact,
                db_pool_size,
                db_statement_timeout_ms,
                db_checkout_timeout_ms,
                json_body_limit_bytes,
                http_workers,
                log_format,
                token_signing_keys,
                master_keys,
                audit_signing_keys,
                access_token_ttl_secs,
                session_lifetime_hours,
                argon2,
                password_hash_concurrency,
                lockout_threshold,
                lockout_minutes,
                auth_rate_limit_per_minute,
                rate_limits,
                rate_limit_sync_millis,
                outbox_dir,
                outbox_poll_secs,
                audit_job_secs,
                audit_sequence_millis,
                email_delivery,
                sms_delivery,
                security_webhook,
                webhooks,
                backup,
                destruction_register_dir,
                closure_grace_days,
                key_rotation_critical_days,
                key_rotation_standard_days,
            }),
            _ => Err(ConfigProblems(r.problems)),
        }
    }

    /// The public base URL: `PUBLIC_URL`, else derived from the HTTPS or HTTP bind.
    pub fn public_url(&self, tls_addr: Option<SocketAddr>, http_addr: SocketAddr) -> String {
        if let Some(url) = &self.public_url {
            return url.clone();
        }
        match tls_addr {
            Some(addr) => format!("https://{addr}"),
            None => format!("http://{http_addr}"),
        }
    }
}

/// `APP_URL` and the per-flow link templates: URLs (`https://` when deployed), and
/// each template holding `{token}` exactly once.
fn read_links<S: Source>(
    r: &mut Reader<'_, S>,
    app_env: AppEnv,
) -> (Option<String>, Vec<(Flow, String)>) {
    let check = |r: &mut Reader<'_, S>, name: &str, url: &str| match url::Url::parse(
        &url.replace(TOKEN_PLACEHOLDER, "token"),
    ) {
        Err(_) => r
            .problems
            .push(format!("{name} is not a valid URL (got '{url}')")),
        Ok(parsed) if app_env.is_deployed() && parsed.scheme() != "https" => r.problems.push(
            format!("{name} must be an https:// URL in {}", app_env.as_str()),
        ),
        Ok(_) => {}
    };
    let app_url = r
        .plain("APP_URL")
        .map(|u| u.trim().trim_end_matches('/').to_owned());
    if let Some(url) = &app_url {
        check(r, "APP_URL", url);
    }
    let mut templates = Vec::new();
    for flow in Flow::ALL {
        let name = flow.template_variable();
        let Some(template) = r.plain(name).map(|t| t.trim().to_owned()) else {
            continue;
        };
        if template.matches(TOKEN_PLACEHOLDER).count() != 1 {
            r.problems.push(format!(
                "{name} must hold {TOKEN_PLACEHOLDER} exactly once (got '{template}')"
            ));
            continue;
        }
        check(r, name, &template);
        templates.push((flow, template));
    }
    (app_url, templates)
}

fn read_tls<S: Source>(r: &mut Reader<'_, S>) -> Option<TlsConfig> {
    let bind = r.plain("TLS_BIND");
    let cert = r.plain("TLS_CERT_FILE");
    let key = r.plain("TLS_KEY_FILE");
    let min_version = match r.plain("TLS_MIN_VERSION").as_deref().map(str::trim) {
        None | Some("1.2") => TlsMinVersion::Tls12,
        Some("1.3") => TlsMinVersion::Tls13,
        Some(other) => {
            r.problems.push(format!(
                "TLS_MIN_VERSION must be 1.2 or 1.3 (got '{other}'); older versions are not offered"
            ));
            TlsMinVersion::Tls12
        }
    };
    match (bind, cert, key) {
        (None, None, None) => None,
        (Some(bind), Some(cert), Some(key)) => {
            let bind = match bind.trim().parse() {
                Ok(addr) => addr,
                Err(_) => {
                    r.problems.push(format!(
                        "TLS_BIND must be an address such as 0.0.0.0:8443 (got '{bind}')"
                    ));
                    return None;
                }
            };
            for (name, path) in [("TLS_CERT_FILE", &cert), ("TLS_KEY_FILE", &key)] {
                if !std::path::Path::new(path).is_file() {
                    r.problems
                        .push(format!("{name} '{path}' is not a readable file"));
                }
            }
            Some(TlsConfig {
                bind,
                cert_file: cert.into(),
                key_file: key.into(),
                min_version,
            })
        }
        _ => {
            r.problems
                .push("TLS needs all three of TLS_BIND, TLS_CERT_FILE and TLS_KEY_FILE".to_owned());
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn load(vars: &[(&str, &str)]) -> Result<Config, ConfigProblems> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::load(&move |name: &str| map.get(name).cloned())
    }

    const STRONG_URL: &str = "postgres://api:Xq7-long-enough-pass-9@db:5432/salus";

    #[test]
    fn rate_limits_default_sanely_and_refuse_zero_and_no_sharing_when_deployed() {
        let config = load(&[("DATABASE_URL", "postgres://localhost/salus")]).unwrap();
        assert_eq!(config.rate_limits, Limits::default());
        assert_eq!(config.rate_limits.per_clinic.business, 6000);
        assert_eq!(config.rate_limit_sync_millis, 200);
        let config = load(&[
            ("DATABASE_URL", "postgres://localhost/salus"),
            ("RATE_LIMIT_CLINIC_PRO", "4000"),
            ("RATE_LIMIT_SYNC_MILLIS", "0"),
        ])
        .unwrap();
        assert_eq!(config.rate_limits.per_clinic.pro, 4000);
        assert_eq!(config.rate_limit_sync_millis, 0);
        let text = load(&[
            ("DATABASE_URL", "postgres://localhost/salus"),
            ("RATE_LIMIT_PER_CREDENTIAL", "0"),
            ("RATE_LIMIT_SYNC_MILLIS", "10"),
        ])
        .unwrap_err()
        .0
        .join("\n");
        assert!(
            text.contains("RATE_LIMIT_PER_CREDENTIAL must be at least 1"),
            "{text}"
        );
        assert!(
            text.contains("RATE_LIMIT_SYNC_MILLIS must be between 20 and 5000"),
            "{text}"
        );
        let text = load(&[("APP_ENV", "production"), ("RATE_LIMIT_SYNC_MILLIS", "0")])
            .unwrap_err()
            .0
            .join("\n");
        assert!(text.contains("RATE_LIMIT_SYNC_MILLIS"), "{text}");
    }

    #[test]
    fn development_defaults_need_only_a_database_url() {
        let config = load(&[("DATABASE_URL", "postgres://localhost/salus")]).unwrap();
        assert_eq!(config.app_env, AppEnv::Development);
        assert_eq!(config.http_bind.to_string(), "127.0.0.1:8080");
        assert_eq!(config.json_body_limit_bytes, 65536);
        assert_eq!(config.log_format, LogFormat::Pretty);
        assert!(config.cors_allowed_origins.is_empty());
    }

    #[test]
    fn link_templates_need_their_token_and_https_when_deployed() {
        let config = load(&[
            ("DATABASE_URL", STRONG_URL),
            ("APP_URL", "http://localhost:5173/"),
            (
                "LINK_ACCEPT_INVITATION",
                "http://localhost:5173/join?code={token}",
            ),
        ])
        .unwrap();
        assert_eq!(config.app_url.as_deref(), Some("http://localhost:5173"));
        assert_eq!(config.link_templates.len(), 1);
        let problems = load(&[
            ("APP_ENV", "production"),
            ("APP_URL", "http://app.clinic.test"),
            ("LINK_RESET_PASSWORD", "https://app.clinic.test/reset"),
        ])
        .unwrap_err()
        .0
        .join("\n");
        assert!(
            problems.contains("APP_URL must be an https:// URL"),
            "{problems}"
        );
        assert!(
            problems.contains("LINK_RESET_PASSWORD must hold {token} exactly once"),
            "{problems}"
        );
    }

    #[test]
    fn production_names_every_problem_at_once() {
        let problems = load(&[("APP_ENV", "production")]).unwrap_err().0;
        let text = problems.join("\n");
        assert!(text.contains("DATABASE_URL is missing"), "{text}");
        assert!(text.contains("requires TLS"), "{text}");
        assert!(text.contains("SECURITY_CONTACT is missing"), "{text}");
        assert!(text.contains("TOKEN_SIGNING_KEYS is missing"), "{text}");
        assert!(text.contains("MASTER_KEYS is missing"), "{text}");
        assert!(
            text.contains("DESTRUCTION_REGISTER_DIR must be an absolute path"),
            "{text}"
        );
    }

    #[test]
    fn key_rings_are_parsed_and_short_keys_refused() {
        let config = load(&[
            ("DATABASE_URL", STRONG_URL),
            ("TOKEN_SIGNING_KEYS", "new:QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=,old:QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI="),
        ])
        .unwrap();
        let kids: Vec<&str> = config
            .token_signing_keys
            .iter()
            .map(|(k, _)| k.as_str())
            .collect();
        assert_eq!(kids, ["new", "old"]);
        assert_eq!(
            config.master_keys.len(),
            1,
            "an ephemeral key outside production"
        );
        let problems = load(&[("DATABASE_URL", STRONG_URL), ("MASTER_KEYS", "k:c2hvcnQ=")])
            .unwrap_err()
            .0;
        assert!(
            problems[0].contains("has 5 bytes; it needs 32"),
            "{problems:?}"
        );
    }

    #[test]
    fn production_refuses_example_and_short_passwords() {
        let example = example_value("DATABASE_URL").unwrap();
        let problems = load(&[
            ("APP_ENV", "production"),
            ("DATABASE_URL", example),
            ("MIGRATION_DATABASE_URL", "postgres://owner:short@db/salus"),
            ("TRUST_PROXY_TLS", "true"),
            ("SECURITY_CONTACT", "mailto:sec@clinic.test"),
        ])
        .unwrap_err()
        .0;
        let text = problems.join("\n");
        assert!(
            text.contains("DATABASE_URL uses the example password"),
            "{text}"
        );
        assert!(
            text.contains("MIGRATION_DATABASE_URL has a short password"),
            "{text}"
        );
    }

    #[test]
    fn production_accepts_strong_secrets_behind_a_tls_proxy() {
        let config = load(&[
            ("APP_ENV", "production"),
            ("DATABASE_URL", STRONG_URL),
            ("TRUST_PROXY_TLS", "true"),
            ("SECURITY_CONTACT", "mailto:sec@clinic.test"),
            (
                "DESTRUCTION_REGISTER_DIR",
                "/var/lib/salus/destruction-register",
            ),
            (
                "TOKEN_SIGNING_KEYS",
                "k1:QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=",
            ),
            (
                "MASTER_KEYS",
                "m1:QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI=",
            ),
            (
                "AUDIT_SIGNING_KEYS",
                "a1:Q0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0M=",
            ),
            ("OUTBOX_EMAIL_PROVIDER", "smtp"),
            (
                "SMTP_URL",
                "smtps://salus:Mail-pass-long-enough@mail.clinic.test:465",
            ),
            ("SMTP_FROM", "Salus <no-reply@clinic.test>"),
            ("OUTBOX_SMS_PROVIDER", "gateway"),
            ("SMS_GATEWAY_URL", "https://sms.clinic.test/v1/messages"),
            ("SMS_GATEWAY_SECRET", "gateway-secret-long-enough"),
        ])
        .unwrap();
        assert_eq!(config.log_format, LogFormat::Json);
        assert!(matches!(config.email_delivery, EmailDelivery::Smtp { .. }));
        assert!(matches!(config.sms_delivery, SmsDelivery::Gateway { .. }));
    }

    #[test]
    fn outbox_providers_default_to_files_outside_staging_and_production() {
        let config = load(&[("DATABASE_URL", STRONG_URL)]).unwrap();
        assert!(matches!(config.email_delivery, EmailDelivery::File));
        assert!(matches!(config.sms_delivery, SmsDelivery::File));
        let config = load(&[
            ("DATABASE_URL", STRONG_URL),
            ("OUTBOX_EMAIL_PROVIDER", "smtp"),
            ("SMTP_URL", "smtp://127.0.0.1:2525"),
            ("SMTP_FROM", "no-reply@clinic.test"),
            ("OUTBOX_SMS_PROVIDER", "gateway"),
            ("SMS_GATEWAY_URL", "http://127.0.0.1:9000/sms"),
            ("SMS_GATEWAY_SECRET", "dev"),
        ])
        .unwrap();
        let EmailDelivery::Smtp { url, from } = &config.email_delivery else {
            panic!("smtp expected: {:?}", config.email_delivery);
        };
        assert_eq!(url.expose_secret(), "smtp://127.0.0.1:2525");
        assert_eq!(from, "no-reply@clinic.test");
        let SmsDelivery::Gateway { url, secret } = &config.sms_delivery else {
            panic!("gateway expected: {:?}", config.sms_delivery);
        };
        assert_eq!(url, "http://127.0.0.1:9000/sms");
        assert_eq!(secret.expose_secret(), "dev");
    }

    #[test]
    fn production_refuses_the_file_providers_naming_the_variables() {
        for providers in [
            vec![],
            vec![
                ("OUTBOX_EMAIL_PROVIDER", "file"),
                ("OUTBOX_SMS_PROVIDER", "file"),
            ],
        ] {
            let mut vars = vec![("APP_ENV", "production")];
            vars.extend(providers);
            let text = load(&vars).unwrap_err().0.join("\n");
            assert!(
                text.contains("OUTBOX_EMAIL_PROVIDER must be smtp in staging and production"),
                "{text}"
            );
            assert!(
                text.contains("OUTBOX_SMS_PROVIDER must be gateway in staging and production"),
                "{text}"
            );
        }
    }

    #[test]
    fn a_chosen_provider_needs_its_variables() {
        for env in ["development", "staging"] {
            let text = load(&[
                ("APP_ENV", env),
                ("DATABASE_URL", STRONG_URL),
                ("OUTBOX_EMAIL_PROVIDER", "smtp"),
                ("OUTBOX_SMS_PROVIDER", "gateway"),
            ])
            .unwrap_err()
            .0
            .join("\n");
            for variable in [
                "SMTP_URL is missing",
                "SMTP_FROM is missing",
                "SMS_GATEWAY_URL is missing",
                "SMS_GATEWAY_SECRET is missing",
            ] {
                assert!(text.contains(variable), "{env}: {text}");
            }
        }
        let text = load(&[
            ("DATABASE_URL", STRONG_URL),
            ("OUTBOX_EMAIL_PROVIDER", "sendmail"),
            ("OUTBOX_SMS_PROVIDER", "pigeon"),
        ])
        .unwrap_err()
        .0
        .join("\n");
        assert!(
            text.contains("OUTBOX_EMAIL_PROVIDER must be file or smtp (got 'sendmail')"),
            "{text}"
        );
        assert!(
            text.contains("OUTBOX_SMS_PROVIDER must be file or gateway (got 'pigeon')"),
            "{text}"
        );
    }

    #[test]
    fn provider_settings_are_checked_without_printing_secrets() {
        let text = load(&[
            ("DATABASE_URL", STRONG_URL),
            ("OUTBOX_EMAIL_PROVIDER", "smtp"),
            ("SMTP_URL", "imap://user:hunter2-mail-pass@mail.clinic.test"),
            ("SMTP_FROM", "not an address"),
            ("OUTBOX_SMS_PROVIDER", "gateway"),
            ("SMS_GATEWAY_URL", "ftp://sms.clinic.test"),
            ("SMS_GATEWAY_SECRET", "hunter2-sms-secret"),
        ])
        .unwrap_err()
        .0
        .join("\n");
        assert!(text.contains("SMTP_URL must be smtps://"), "{text}");
        assert!(text.contains("SMTP_FROM must be an address"), "{text}");
        assert!(
            text.contains("SMS_GATEWAY_URL must be an http:// or https:// URL"),
            "{text}"
        );
        assert!(!text.contains("hunter2"), "a secret was printed: {text}");
    }

    #[test]
    fn production_refuses_clear_text_delivery_and_weak_gateway_secrets() {
        let base = [
            ("APP_ENV", "staging"),
            ("DATABASE_URL", STRONG_URL),
            ("TRUST_PROXY_TLS", "true"),
            ("SECURITY_CONTACT", "mailto:sec@clinic.test"),
            (
                "DESTRUCTION_REGISTER_DIR",
                "/var/lib/salus/destruction-register",
            ),
            (
                "TOKEN_SIGNING_KEYS",
                "k1:QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=",
            ),
            (
                "MASTER_KEYS",
                "m1:QkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkI=",
            ),
            (
                "AUDIT_SIGNING_KEYS",
                "a1:Q0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0NDQ0M=",
            ),
            ("OUTBOX_EMAIL_PROVIDER", "smtp"),
            ("SMTP_FROM", "no-reply@clinic.test"),
            ("OUTBOX_SMS_PROVIDER", "gateway"),
        ];
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut vars = base.to_vec();
            vars.extend_from_slice(extra);
            load(&vars)
        };
        let text = with(&[
            ("SMTP_URL", "smtp://user:pass@mail.clinic.test:587"),
            ("SMS_GATEWAY_URL", "http://sms.clinic.test/send"),
            ("SMS_GATEWAY_SECRET", "short"),
        ])
        .unwrap_err()
        .0
        .join("\n");
        assert!(
            text.contains("SMTP_URL would send codes in clear text"),
            "{text}"
        );
        assert!(
            text.contains("SMS_GATEWAY_URL must be https:// in staging and production"),
            "{text}"
        );
        assert!(
            text.contains("SMS_GATEWAY_SECRET is short (5 characters"),
            "{text}"
        );
        // Encrypted SMTP, or a relay and a gateway on loopback, are accepted.
        for (smtp, gateway) in [
            (
                "smtp://user:pass@mail.clinic.test:587?tls=required",
                "https://sms.clinic.test/send",
            ),
            ("smtp://127.0.0.1:25", "http://127.0.0.1:9000/send"),
        ] {
            with(&[
                ("SMTP_URL", smtp),
                ("SMS_GATEWAY_URL", gateway),
                ("SMS_GATEWAY_SECRET", "gateway-secret-long-enough"),
            ])
            .unwrap();
        }
    }

    #[test]
    fn metrics_are_off_by_default_and_never_on_a_public_bind_in_production() {
        let config = load(&[("DATABASE_URL", STRONG_URL)]).unwrap();
        assert_eq!(config.metrics_bind, None);
        let config = load(&[
            ("DATABASE_URL", STRONG_URL),
            ("METRICS_BIND", "127.0.0.1:9100"),
        ])
        .unwrap();
        assert_eq!(config.metrics_bind.unwrap().to_string(), "127.0.0.1:9100");
        let deployed = [
            ("APP_ENV", "production"),
            ("DATABASE_URL", STRONG_URL),
            ("HTTP_BIND", "0.0.0.0:8080"),
            ("TRUST_PROXY_TLS", "true"),
        ];
        let problems_with = |metrics_bind: &'static str| {
            let mut vars = deployed.to_vec();
            vars.push(("METRICS_BIND", metrics_bind));
            load(&vars).unwrap_err().0.join("\n")
        };
        for public in ["0.0.0.0:8080", "10.0.0.5:8080"] {
            let text = problems_with(public);
            assert!(
                text.contains("METRICS_BIND must not be the public HTTP_BIND (0.0.0.0:8080)"),
                "{public}: {text}"
            );
        }
        let text = problems_with("10.0.0.5:9100");
        assert!(!text.contains("METRICS_BIND"), "{text}");
        let mut with_tls = deployed.to_vec();
        with_tls.extend([
            ("TLS_BIND", "[::]:8443"),
            ("TLS_CERT_FILE", "/nonexistent/cert.pem"),
            ("TLS_KEY_FILE", "/nonexistent/key.pem"),
            ("METRICS_BIND", "127.0.0.1:8443"),
        ]);
        let text = load(&with_tls).unwrap_err().0.join("\n");
        assert!(
            text.contains("METRICS_BIND must not be the public TLS_BIND ([::]:8443)"),
            "{text}"
        );
        let text = problems_with("somewhere");
        assert!(text.contains("METRICS_BIND must be an address"), "{text}");
    }

    #[test]
    fn backups_are_off_until_a_repository_is_named() {
        let config = load(&[
            ("DATABASE_URL", STRONG_URL),
            ("BACKUP_CIPHER_PASS", "only the passphrase, no repository"),
        ])
        .unwrap();
        assert!(config.backup.is_none());
        let config = load(&[
            ("DATABASE_URL", STRONG_URL),
            ("BACKUP_REPO_PATH", "/srv/backup/repo"),
            ("BACKUP_CIPHER_PASS", "short"),
            ("BACKUP_PG_DATA", "/var/lib/postgresql/15/main"),
        ])
        .unwrap();
        let backup = config.backup.unwrap();
        assert_eq!(backup.stanza, "salus");
        assert_eq!(backup.retention_days, 30);
        assert_eq!(backup.pg_port, 5432);
        assert_eq!(backup.pg_socket, Path::new("/var/run/postgresql"));
        assert_eq!(backup.work_dir, Path::new(".local/backup"));
        assert_eq!(backup.os_user, "postgres");
    }

    #[test]
    fn the_destruction_register_is_never_inside_what_the_backups_hold() {
        for inside in [
            "/var/lib/postgresql/15/main/register",
            "/srv/backup/repo/register",
        ] {
            let text = load(&[
                ("DATABASE_URL", STRONG_URL),
                ("BACKUP_REPO_PATH", "/srv/backup/repo"),
                ("BACKUP_CIPHER_PASS", "only a test"),
                ("BACKUP_PG_DATA", "/var/lib/postgresql/15/main"),
                ("DESTRUCTION_REGISTER_DIR", inside),
            ])
            .unwrap_err()
            .to_string();
            assert!(
                text.contains("DESTRUCTION_REGISTER_DIR must not be inside"),
                "{text}"
            );
        }
        let config = load(&[("DATABASE_URL", STRONG_URL)]).unwrap();
        assert_eq!(
            config.destruction_register_dir,
            Path::new(".local/destruction-register")
        );
        assert_eq!(config.closure_grace_days, 30);
    }

    #[test]
    fn backups_need_a_passphrase_everywhere_and_a_strong_one_when_deployed() {
        let text = load(&[
            ("DATABASE_URL", STRONG_URL),
            ("BACKUP_REPO_PATH", "relative/repo"),
            ("BACKUP_STANZA", "no spaces"),
            ("BACKUP_RETENTION_DAYS", "0"),
            ("BACKUP_COMPRESS_TYPE", "rar"),
        ])
        .unwrap_err()
        .0
        .join("\n");
        for problem in [
            "BACKUP_REPO_PATH must be an absolute path",
            "BACKUP_PG_DATA is missing",
            "BACKUP_CIPHER_PASS is missing",
            "BACKUP_STANZA must hold only letters",
            "BACKUP_RETENTION_DAYS must be between 1",
            "BACKUP_COMPRESS_TYPE must be gz, lz4, zst or none",
        ] {
            assert!(text.contains(problem), "{problem}: {text}");
        }
        let deployed = |pass: &'static str| {
            load(&[
                ("APP_ENV", "production"),
                ("BACKUP_REPO_PATH", "/srv/backup/repo"),
                ("BACKUP_PG_DATA", "/var/lib/postgresql/15/main"),
                ("BACKUP_CIPHER_PASS", pass),
                ("BACKUP_WORK_DIR", "/var/lib/salus/backup"),
            ])
            .unwrap_err()
            .0
            .join("\n")
        };
        let example = example_value("BACKUP_CIPHER_PASS").unwrap();
        assert!(
            deployed(example).contains("BACKUP_CIPHER_PASS uses the example value"),
            "{}",
            deployed(example)
        );
        let text = deployed("hunter2-but-only-31-characters!");
        assert!(
            text.contains("BACKUP_CIPHER_PASS is short (31 characters; at least 32)"),
            "{text}"
        );
        assert!(
            !text.contains("hunter2"),
            "the passphrase was printed: {text}"
        );
        let text = deployed("a-passphrase-long-enough-for-production-use");
        assert!(!text.contains("BACKUP_"), "{text}");
    }

    #[test]
    fn loopback_webhooks_are_a_development_and_test_setting_only() {
        for env in ["development", "test"] {
            let config = load(&[
                ("APP_ENV", env),
                ("DATABASE_URL", STRONG_URL),
                ("WEBHOOK_ALLOW_LOOPBACK", "true"),
                ("WEBHOOK_TIMEOUT_SECONDS", "2"),
            ])
            .unwrap();
            assert!(
                config.webhooks.allow_loopback && config.webhooks.allow_http,
                "{env}"
            );
            assert_eq!(config.webhooks.timeout, std::time::Duration::from_secs(2));
        }
        let defaults = load(&[("DATABASE_URL", STRONG_URL)]).unwrap().webhooks;
        assert!(!defaults.allow_loopback);
        assert_eq!(defaults.poll_secs, 5);
        assert_eq!(defaults.timeout, std::time::Duration::from_secs(15));
        for env in ["staging", "production"] {
            let text = load(&[("APP_ENV", env), ("WEBHOOK_ALLOW_LOOPBACK", "true")])
                .unwrap_err()
                .0
                .join("\n");
            assert!(
                text.contains("WEBHOOK_ALLOW_LOOPBACK must be false in staging and production"),
                "{env}: {text}"
            );
        }
        let text = load(&[
            ("DATABASE_URL", STRONG_URL),
            ("WEBHOOK_TIMEOUT_SECONDS", "61"),
        ])
        .unwrap_err()
        .0
        .join("\n");
        assert!(
            text.contains("WEBHOOK_TIMEOUT_SECONDS must be between 1 and 60"),
            "{text}"
        );
    }

    #[test]
    fn secrets_are_never_in_debug_output() {
        let config = load(&[("DATABASE_URL", STRONG_URL)]).unwrap();
        assert!(!format!("{config:?}").contains("long-enough-pass"));
    }

    #[test]
    fn file_variants_are_read_and_conflicts_refused() {
        let dir = std::env::temp_dir().join(format!("salus-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("db_url");
        std::fs::write(&path, format!("{STRONG_URL}\n")).unwrap();
        let path = path.to_string_lossy().into_owned();
        let config = load(&[("DATABASE_URL_FILE", path.as_str())]).unwrap();
        assert_eq!(config.database_url.expose_secret(), STRONG_URL);
        let problems = load(&[
            ("DATABASE_URL_FILE", path.as_str()),
            ("DATABASE_URL", STRONG_URL),
        ])
        .unwrap_err()
        .0;
        assert!(problems[0].contains("set only one of DATABASE_URL and DATABASE_URL_FILE"));
        let problems = load(&[("DATABASE_URL_FILE", "/nonexistent/salus")])
            .unwrap_err()
            .0;
        assert!(problems[0].contains("cannot be read"));
    }

    #[test]
    fn bad_values_are_named() {
        let problems = load(&[
            ("DATABASE_URL", STRONG_URL),
            ("HTTP_BIND", "nowhere"),
            ("TLS_MIN_VERSION", "1.1"),
            ("DB_POOL_SIZE", "many"),
            ("TLS_BIND", "127.0.0.1:8443"),
        ])
        .unwrap_err()
        .0;
        let text = problems.join("\n");
        assert!(text.contains("HTTP_BIND must be"));
        assert!(text.contains("TLS_MIN_VERSION must be 1.2 or 1.3"));
        assert!(text.contains("DB_POOL_SIZE must be"));
        assert!(text.contains("TLS needs all three"));
    }
}
