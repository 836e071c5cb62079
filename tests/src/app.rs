//! A running Salus server for one test.

use std::collections::HashMap;
use std::sync::Arc;

use salus::config::Config;
use salus::serve::RunningServer;

use crate::clock::ManualClock;
use crate::db::TestDb;

/// A real server on an ephemeral port, over its own database, with a hand-moved clock.
pub struct TestApp {
    /// Base URL of the API (`http://127.0.0.1:PORT` or, with TLS, `https://...`).
    pub url: String,
    /// The plain HTTP listener's address (the redirecting one when TLS is on).
    pub http_addr: std::net::SocketAddr,
    /// The HTTPS listener's address, when TLS is on.
    pub tls_addr: Option<std::net::SocketAddr>,
    /// The metrics listener's address, when started with `METRICS_BIND`.
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// A client that keeps no cookies and follows no redirects.
    pub client: reqwest::Client,
    /// The server's clock.
    pub clock: Arc<ManualClock>,
    /// The test's database (dropped after the server stops).
    pub db: TestDb,
    server: Option<RunningServer>,
}

/// Key rings shared by every server and command of this test process:
/// (`TOKEN_SIGNING_KEYS`, `MASTER_KEYS`).
pub fn test_keys() -> &'static (String, String) {
    static KEYS: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        use base64::Engine;
        let b64 = |bytes: [u8; 32]| base64::engine::general_purpose::STANDARD.encode(bytes);
        let id = uuid::Uuid::new_v4();
        let mut token = [0u8; 32];
        let mut master = [0u8; 32];
        token[..16].copy_from_slice(id.as_bytes());
        master[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        (format!("t1:{}", b64(token)), format!("m1:{}", b64(master)))
    })
}

/// The audit signing key ring of every server of this test process.
pub const AUDIT_SIGNING_KEYS: &str = "a1:dGVzdC1vbmx5LWF1ZGl0LXNpZ25pbmcta2V5LTAwMDA=";

/// The configuration every test server starts from; tests override entries.
fn base_vars(db: &TestDb) -> HashMap<String, String> {
    [
        ("APP_ENV", "test".to_owned()),
        ("DATABASE_URL", db.api_url()),
        ("TOKEN_SIGNING_KEYS", test_keys().0.clone()),
        ("MASTER_KEYS", test_keys().1.clone()),
        ("AUDIT_SIGNING_KEYS", AUDIT_SIGNING_KEYS.to_owned()),
        ("AUDIT_JOB_SECONDS", "0".to_owned()),
        ("HTTP_BIND", "127.0.0.1:0".to_owned()),
        ("HTTP_WORKERS", "1".to_owned()),
        ("DB_POOL_SIZE", "4".to_owned()),
        ("DB_CHECKOUT_TIMEOUT_MS", "1000".to_owned()),
        ("SECURITY_CONTACT", "mailto:security@clinic.test".to_owned()),
        ("OUTBOX_POLL_SECONDS", "0".to_owned()),
        // Tests drive the webhook worker's rounds by hand, and their receivers
        // run on loopback (allowed in the test configuration only).
        ("WEBHOOK_POLL_SECONDS", "0".to_owned()),
        ("WEBHOOK_ALLOW_LOOPBACK", "true".to_owned()),
        ("AUTH_RATE_LIMIT_PER_MINUTE", "10000".to_owned()),
        // The rate limits of every operation, out of the way of every test but
        // those of tests/api/request_rate_limits.rs, which set their own.
        ("RATE_LIMIT_PER_CREDENTIAL", "1000000".to_owned()),
        ("RATE_LIMIT_PER_ADDRESS", "1000000".to_owned()),
        ("RATE_LIMIT_CLINIC_FREE", "1000000".to_owned()),
        ("RATE_LIMIT_CLINIC_PRO", "1000000".to_owned()),
        ("RATE_LIMIT_CLINIC_BUSINESS", "1000000".to_owned()),
        ("PASSWORD_HASH_CONCURRENCY", "2".to_owned()),
        (
            "DESTRUCTION_REGISTER_DIR",
            db.register_dir().display().to_string(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// The configuration of a test server over `db`, with overrides.
fn config_on(
    db: &TestDb,
    overrides: &[(&str, &str)],
) -> Result<Config, salus::config::ConfigProblems> {
    let mut vars = base_vars(db);
    for (key, value) in overrides {
        vars.insert((*key).to_owned(), (*value).to_owned());
    }
    Config::load(&move |name: &str| vars.get(name).cloned())
}

/// A second server over a test's database, as after a restart with another
/// configuration; stopped when dropped.
pub struct Sibling {
    /// Its base URL (its public URL: another node's, when told so).
    pub url: String,
    /// Where it listens (its own, whatever its public URL says).
    pub http_addr: std::net::SocketAddr,
    server: Option<RunningServer>,
}

impl Drop for Sibling {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop_now();
        }
    }
}

impl TestApp {
    /// This test's server configuration with overrides, for operator commands.
    pub fn config_with(&self, overrides: &[(&str, &str)]) -> Config {
        config_on(&self.db, overrides).unwrap_or_else(|problems| panic!("{problems}"))
    }

    /// Starts another server over this test's database and clock, with overrides.
    pub async fn sibling(&self, overrides: &[(&str, &str)]) -> Sibling {
        let server = salus::serve::start(&self.config_with(overrides), self.clock.clone())
            .await
            .unwrap_or_else(|e| panic!("sibling server failed to start: {e:#}"));
        Sibling {
            url: server.public_url.clone(),
            http_addr: server.http_addr,
            server: Some(server),
        }
    }

    /// Starts a server over a freshly migrated database.
    pub async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    /// Starts a server with configuration overrides (an empty value unsets).
    pub async fn spawn_with(overrides: &[(&str, &str)]) -> Self {
        crate::logs::install();
        let db = tokio::task::spawn_blocking(TestDb::migrated)
            .await
            .expect("create test database");
        Self::try_spawn_on(db, overrides)
            .await
            .unwrap_or_else(|(e, _)| panic!("server failed to start: {e:#}"))
    }

    /// Starts a server over the given database; on failure returns the error and
    /// the database (so a test can assert why start-up was refused).
    pub async fn try_spawn_on(
        db: TestDb,
        overrides: &[(&str, &str)],
    ) -> Result<Self, (anyhow::Error, TestDb)> {
        let config = match config_on(&db, overrides) {
            Ok(config) => config,
            Err(problems) => return Err((anyhow::anyhow!("{problems}"), db)),
        };
        let clock = Arc::new(ManualClock::new());
        let server = match salus::serve::start(&config, clock.clone()).await {
            Ok(server) => server,
            Err(e) => return Err((e, db)),
        };
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        Ok(Self {
            url: server.public_url.clone(),
            http_addr: server.http_addr,
            tls_addr: server.tls_addr,
            metrics_addr: server.metrics_addr,
            client,
            clock,
            db,
            server: Some(server),
        })
    }

    /// The server's service layer (to drive its jobs by hand).
    pub fn services(&self) -> std::sync::Arc<salus_domain::services::Services> {
        self.server
            .as_ref()
            .map(|s| s.services.clone())
            .expect("server running")
    }

    /// The client the server's webhook worker sends with.
    pub fn webhook_client(&self) -> salus::webhooks::client::WebhookClient {
        self.server
            .as_ref()
            .map(|s| s.webhooks.clone())
            .expect("server running")
    }

    /// One round of the closure job, on the server's clock: the certificates
    /// of the clinics it destroyed.
    pub async fn closure_round(&self) -> Vec<salus_domain::closure::certificate::Signed> {
        let services = self.services();
        tokio::task::spawn_blocking(move || salus::closure_job::closure_round(&services))
            .await
            .expect("the closure round ran")
            .expect("the closure round succeeded")
    }

    /// This test's destruction register.
    pub fn register_dir(&self) -> std::path::PathBuf {
        self.db.register_dir()
    }

    /// One round of the audit job (detectors, backup watch, sealing, retention),
    /// as every node runs it, on the server's clock.
    pub async fn audit_round(&self) -> salus::audit_job::RoundReport {
        let services = self.services();
        tokio::task::spawn_blocking(move || salus::audit_job::audit_round(&services))
            .await
            .expect("the audit round ran")
            .expect("the audit round succeeded")
    }

    /// `GET /metrics` on the metrics listener (`METRICS_BIND`), checked to be a
    /// 200 in the Prometheus text format; its text.
    pub async fn scrape_metrics(&self) -> String {
        let addr = self.metrics_addr.expect("the metrics listener is on");
        let response = self
            .client
            .get(format!("http://{addr}/metrics"))
            .send()
            .await
            .expect("the scrape is answered");
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"],
            "text/plain; version=0.0.4; charset=utf-8"
        );
        response.text().await.expect("the scrape's text")
    }

    /// A GET request to `path`.
    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.get(format!("{}{path}", self.url))
    }

    /// A POST request to `path`.
    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.client.post(format!("{}{path}", self.url))
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop_now();
        }
    }
}
