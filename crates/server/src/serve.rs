//! Starting the HTTP (and HTTPS) listeners, and the metrics listener when configured.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use actix_web::HttpServer;
use actix_web::dev::ServerHandle;
use anyhow::Context;
use chrono::Duration as ChronoDuration;
use salus_domain::Clock;
use salus_domain::audit::seal::AuditSealer;
use salus_domain::crypto::{MasterKey, MasterKeys};
use salus_domain::identity::links::Links;
use salus_domain::identity::password::{HashParams, PasswordHasher};
use salus_domain::identity::throttle::{LockoutPolicy, RateLimit};
use salus_domain::rate_limits::counters::Limiter;
use salus_domain::services::Services;
use salus_domain::shared::{Core, CoreParts, Settings};
use salus_domain::webhooks::target::TargetPolicy;
use salus_http::auth::jwt::{SigningKey, TokenKeys};
use salus_http::metrics::Metrics;
use salus_http::paging::Cursors;
use salus_http::{HttpSettings, Ports};
use salus_persistence::readiness::PgReadiness;
use salus_persistence::{DbPool, PgStore, PoolSettings, build_pool};
use tokio::task::JoinHandle;

use crate::audit_job::spawn_audit_job;
use crate::closure_job::spawn_closure_job;
use crate::config::Config;
use crate::database::check_serving_database;
use crate::metrics::{Scrape, build_metrics_app};
use crate::outbox::{providers, spawn_worker};
use crate::random::OsRandom;
use crate::rate_limit_job::spawn_rate_limit_sync;
use crate::register::FileRegister;
use crate::rotation_job::spawn_rotation_job;
use crate::sequencer_job::spawn_sequencer;
use crate::tls;
use crate::webhooks::client::WebhookClient;
use crate::webhooks::spawn_webhook_worker;

/// The master keys from `MASTER_KEYS` (the first seals).
pub fn master_keys(config: &Config) -> anyhow::Result<MasterKeys> {
    let keys = config
        .master_keys
        .iter()
        .map(|(id, key)| {
            let key: [u8; 32] = key
                .0
                .as_slice()
                .try_into()
                .context("master keys are 32 bytes")?;
            Ok(MasterKey {
                id: id.clone(),
                key,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    MasterKeys::new(keys).context("MASTER_KEYS holds no key")
}

/// The audit checkpoint sealer from `AUDIT_SIGNING_KEYS`.
pub fn audit_sealer(config: &Config) -> anyhow::Result<AuditSealer> {
    let seeds = config
        .audit_signing_keys
        .iter()
        .map(|(id, key)| {
            let seed: [u8; 32] = key
                .0
                .as_slice()
                .try_into()
                .context("audit signing keys are 32 bytes")?;
            Ok((id.clone(), seed))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    AuditSealer::new(seeds).context("AUDIT_SIGNING_KEYS holds no key")
}

fn token_keys(config: &Config, public_url: &str) -> anyhow::Result<TokenKeys> {
    let keys = config
        .token_signing_keys
        .iter()
        .map(|(id, secret)| SigningKey {
            id: id.clone(),
            secret: secret.0.clone(),
        })
        .collect();
    TokenKeys::new(
        keys,
        public_url.to_owned(),
        "salus-api".to_owned(),
        ChronoDuration::seconds(config.access_token_ttl_secs),
    )
    .context("TOKEN_SIGNING_KEYS holds no key")
}

/// The list-cursor keys: one derived (HKDF-SHA256) from each token signing key, with
/// its id, so cursors survive a key rotation for as long as the old key is kept and
/// every node that shares the token keys opens every cursor.
fn cursor_keys(config: &Config) -> anyhow::Result<MasterKeys> {
    let keys = config
        .token_signing_keys
        .iter()
        .map(|(id, secret)| {
            let mut key = [0u8; 32];
            hkdf::Hkdf::<sha2::Sha256>::new(Some(b"salus/cursor"), &secret.0)
                .expand(b"list cursor sealing key v1", &mut key)
                .map_err(|_| anyhow::anyhow!("cursor key derivation failed"))?;
            Ok(MasterKey {
                id: id.clone(),
                key,
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    MasterKeys::new(keys).context("TOKEN_SIGNING_KEYS holds no key")
}

/// The domain services as configured.
pub fn services(
    config: &Config,
    pool: DbPool,
    clock: Arc<dyn Clock>,
    public_url: &str,
) -> anyhow::Result<Services> {
    let random = Arc::new(OsRandom);
    let (memory_kib, iterations, parallelism) = config.argon2;
    let hasher = PasswordHasher::new(
        HashParams {
            memory_kib,
            iterations,
            parallelism,
        },
        random.as_ref(),
    )
    .map_err(|e| anyhow::anyhow!("password hashing parameters: {e:?}"))?
    .with_concurrency(hash_concurrency(config));
    Ok(Services::new(Core::new(CoreParts {
        store: Arc::new(PgStore::new(pool).context("cannot start the audit group commit")?),
        clock,
        random,
        hasher: Arc::new(hasher),
        master_keys: Arc::new(master_keys(config)?),
        sealer: Arc::new(audit_sealer(config)?),
        register: Arc::new(FileRegister::new(&config.destruction_register_dir)),
        settings: Settings {
            session_lifetime: ChronoDuration::hours(config.session_lifetime_hours),
            lockout: LockoutPolicy {
                lock_after: config.lockout_threshold,
                lock_for: ChronoDuration::minutes(config.lockout_minutes),
                ..LockoutPolicy::default()
            },
            rate_limit: RateLimit {
                max_hits: config.auth_rate_limit_per_minute,
                window_secs: 60,
            },
            public_url: public_url.to_owned(),
            links: Links::new(
                public_url,
                config.app_url.as_deref(),
                &config.link_templates,
            ),
            alert_webhook: config.security_webhook.is_some(),
            closure_grace: ChronoDuration::days(config.closure_grace_days),
            backup_expiry_horizon: config
                .backup
                .as_ref()
                .map_or(Settings::default().backup_expiry_horizon, |b| {
                    b.full_every + ChronoDuration::days(b.retention_days.into())
                }),
            secrets_in_use: crate::secrets::in_use(config),
            rotation_periods: crate::secrets::periods(config),
            webhook_targets: TargetPolicy {
                allow_http: config.webhooks.allow_http,
                allow_loopback: config.webhooks.allow_loopback,
            },
            ..Settings::default()
        },
    })))
}

/// Argon2 computations at once (`PASSWORD_HASH_CONCURRENCY`, one per CPU by
/// default): the hasher's permits, held around each computation only.
fn hash_concurrency(config: &Config) -> usize {
    config
        .password_hash_concurrency
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, std::num::NonZero::get))
}

/// Password flows (sign-in, sign-up, password changes) in progress at once: two
/// per hashing permit, so one flow's database work overlaps another's hashing
/// while a flood of sign-ins still holds a bounded number of blocking threads.
fn password_flows(config: &Config) -> usize {
    2 * hash_concurrency(config)
}

/// Blocking threads per worker: its share of the database pool and of the
/// password flows, plus one. More could only park on a connection checkout (actix's default
/// is 512 / workers), each parked thread holding a stack and a malloc arena; work
/// beyond this waits in the blocking queue instead, which costs no latency since it
/// would wait for a connection anyway.
fn blocking_threads(db_pool_size: u32, hash_permits: usize, workers: usize) -> usize {
    let pool = usize::try_from(db_pool_size).unwrap_or(usize::MAX);
    pool.saturating_add(hash_permits).div_ceil(workers.max(1)) + 1
}

/// A server that is accepting connections.
pub struct RunningServer {
    /// Where the plain HTTP listener is bound (it only redirects when TLS is on).
    pub http_addr: SocketAddr,
    /// Where the HTTPS listener is bound, when TLS is on.
    pub tls_addr: Option<SocketAddr>,
    /// Where the metrics listener is bound, when `METRICS_BIND` is set.
    pub metrics_addr: Option<SocketAddr>,
    /// The public base URL the server advertises.
    pub public_url: String,
    /// The service layer the server runs (for operator tasks and tests).
    pub services: Arc<Services>,
    /// The client its webhook worker sends with (tests drive rounds with it).
    pub webhooks: WebhookClient,
    handles: Vec<ServerHandle>,
    tasks: Vec<JoinHandle<std::io::Result<()>>>,
}

impl RunningServer {
    /// Runs until the listeners stop (SIGINT/SIGTERM stop them gracefully).
    pub async fn wait(self) -> anyhow::Result<()> {
        for task in self.tasks {
            task.await.context("server task failed")??;
        }
        Ok(())
    }

    /// Stops accepting connections and waits for in-flight requests.
    pub async fn stop(self) {
        for handle in &self.handles {
            handle.stop(true).await;
        }
    }

    /// Tells the listeners to stop without waiting (for use in `Drop`).
    pub fn stop_now(self) {
        for handle in &self.handles {
            drop(handle.stop(false));
        }
    }
}

fn bind(addr: SocketAddr, what: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).with_context(|| format!("cannot listen on {what} {addr}"))
}

/// Checks the database, binds the listeners and starts serving.
pub async fn start(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<RunningServer> {
    let pool = build_pool(
        &config.database_url,
        PoolSettings {
            max_size: config.db_pool_size,
            statement_timeout_ms: config.db_statement_timeout_ms,
            checkout_timeout: Duration::from_millis(config.db_checkout_timeout_ms),
        },
    );
    let strict = config.app_env.is_deployed();
    let check_pool = pool.clone();
    tokio::task::spawn_blocking(move || check_serving_database(&check_pool, strict))
        .await
        .context("database check panicked")??;

    let http_listener = bind(config.http_bind, "HTTP_BIND")?;
    let http_addr = http_listener.local_addr()?;
    let tls_listener = match &config.tls {
        Some(tls) => Some((bind(tls.bind, "TLS_BIND")?, tls::server_config(tls)?)),
        None => None,
    };
    let tls_addr = match &tls_listener {
        Some((listener, _)) => Some(listener.local_addr()?),
        None => None,
    };
    let metrics_listener = config
        .metrics_bind
        .map(|addr| bind(addr, "METRICS_BIND"))
        .transpose()?;
    let metrics_addr = metrics_listener
        .as_ref()
        .map(TcpListener::local_addr)
        .transpose()?;
    let public_url = config.public_url(tls_addr, http_addr);
    let settings = HttpSettings {
        json_limit: config.json_body_limit_bytes,
        cors_allowed_origins: config.cors_allowed_origins.clone(),
        security_contact: config.security_contact.clone(),
        public_url: public_url.clone(),
        trust_proxy_tls: config.trust_proxy_tls,
    };
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    let service = Arc::new(services(config, pool.clone(), clock.clone(), &public_url)?);
    let metrics = Metrics::new().context("metrics registry")?;
    if config.audit_sequence_millis > 0 {
        spawn_sequencer(
            service.clone(),
            Duration::from_millis(config.audit_sequence_millis),
        );
    }
    if config.audit_job_secs > 0 {
        spawn_audit_job(
            service.clone(),
            metrics.clone(),
            Duration::from_secs(config.audit_job_secs),
        );
        spawn_closure_job(service.clone(), Duration::from_secs(config.audit_job_secs));
        spawn_rotation_job(service.clone(), Duration::from_secs(config.audit_job_secs));
    }
    let rate_limits = Arc::new(Limiter::new(config.rate_limits));
    if config.rate_limit_sync_millis > 0 {
        spawn_rate_limit_sync(
            pool.clone(),
            rate_limits.clone(),
            clock.clone(),
            Duration::from_millis(config.rate_limit_sync_millis),
        );
    }
    let hash_permits = password_flows(config);
    let ports = Ports {
        readiness: Arc::new(PgReadiness::new(pool.clone())),
        services: service.clone(),
        tokens: Arc::new(token_keys(config, &public_url)?),
        hashing: Arc::new(tokio::sync::Semaphore::new(hash_permits)),
        clock: clock.clone(),
        metrics: metrics.clone(),
        cursors: Arc::new(Cursors::new(cursor_keys(config)?, Arc::new(OsRandom))),
        rate_limits,
    };
    let scrape = Scrape {
        metrics,
        pool: pool.clone(),
        clock: clock.clone(),
        services: service.clone(),
    };
    if config.outbox_poll_secs > 0 {
        let provider = Arc::new(providers(config, clock.clone())?);
        spawn_worker(
            pool,
            clock,
            provider,
            Duration::from_secs(config.outbox_poll_secs),
        );
    }
    let webhooks = WebhookClient::new(config.webhooks).context("webhook client")?;
    if config.webhooks.poll_secs > 0 {
        spawn_webhook_worker(
            service.clone(),
            webhooks.clone(),
            Duration::from_secs(config.webhooks.poll_secs),
        );
    }
    let workers = config.http_workers.unwrap_or(cores);
    let blocking = blocking_threads(config.db_pool_size, hash_permits, workers);

    let api = {
        let settings = settings.clone();
        HttpServer::new(move || salus_http::build_app(settings.clone(), ports.clone()))
            .workers(workers)
            .worker_max_blocking_threads(blocking)
            .shutdown_timeout(10)
    };
    let mut servers = Vec::new();
    match tls_listener {
        Some((listener, tls_config)) => {
            servers.push(api.listen_rustls_0_23(listener, tls_config)?.run());
            let target = public_url.clone();
            servers.push(
                HttpServer::new(move || salus_http::build_redirect_app(target.clone()))
                    .workers(1)
                    .listen(http_listener)?
                    .run(),
            );
        }
        None => servers.push(api.listen(http_listener)?.run()),
    }
    if let Some(listener) = metrics_listener {
        servers.push(
            HttpServer::new(move || build_metrics_app(scrape.clone()))
                .workers(1)
                .listen(listener)?
                .run(),
        );
    }
    let handles = servers.iter().map(actix_web::dev::Server::handle).collect();
    let tasks = servers.into_iter().map(tokio::spawn).collect();
    tracing::info!(%http_addr, tls_addr = ?tls_addr, metrics_addr = ?metrics_addr, %public_url, app_env = config.app_env.as_str(), "salus is serving");
    Ok(RunningServer {
        http_addr,
        tls_addr,
        metrics_addr,
        public_url,
        services: service,
        webhooks,
        handles,
        tasks,
    })
}
