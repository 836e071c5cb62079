//! What a service does, recorded: a store that logs each transaction's scope and
//! every SQL statement it sends (the text, never the values bound to it), and a
//! source of randomness that logs how many bytes each draw takes (a token, an id,
//! a password hash's salt). Two calls that log the same lines did the same work,
//! which is what proves an answer cannot tell them apart by its timing.

use std::sync::{Arc, Mutex};

use diesel::connection::{Instrumentation, InstrumentationEvent};
use diesel::prelude::*;
use diesel::sql_types::Text;
use salus_domain::services::Services;
use salus_domain::store::{Scope, Store, Tx};
use salus_domain::{DomainError, Random};
use salus_persistence::store::{PgTx, db_error};
use salus_persistence::{DbPool, PoolSettings, build_pool};
use secrecy::SecretString;

use crate::app::TestApp;

/// The lines recorded so far.
#[derive(Debug, Clone, Default)]
pub struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn push(&self, line: String) {
        self.0.lock().expect("log").push(line);
    }

    /// Takes the lines recorded so far, leaving the log empty.
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().expect("log"))
    }
}

/// Logs the text of every statement a connection sends.
struct Statements(Log);

impl Instrumentation for Statements {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if let InstrumentationEvent::StartQuery { query, .. } = event {
            let text = query.to_string();
            // Diesel appends the bound values; only the statement is the work.
            let sql = text.split(" -- binds:").next().unwrap_or_default();
            self.0.push(format!("sql {}", sql.trim()));
        }
    }
}

/// A store like `PgStore` that records what its transactions send.
pub struct RecordingStore {
    pool: DbPool,
    log: Log,
}

impl Store for RecordingStore {
    fn run(
        &self,
        scope: Scope,
        work: &mut dyn FnMut(&mut dyn Tx) -> Result<(), DomainError>,
    ) -> Result<(), DomainError> {
        let mut conn = self.pool.get().map_err(|e| DomainError::Unavailable {
            what: "database",
            cause: e.to_string(),
        })?;
        conn.set_instrumentation(Statements(self.log.clone()));
        let setting = match scope {
            Scope::Platform => None,
            Scope::Clinic(clinic) => Some(("app.clinic_id", clinic.to_string())),
            Scope::Account(account) => Some(("app.account_id", account.to_string())),
        };
        self.log.push(format!(
            "transaction {}",
            setting.as_ref().map_or("platform", |(name, _)| name)
        ));
        let mut outcome = Ok(());
        let result = conn.transaction::<(), diesel::result::Error, _>(|conn| {
            if let Some((name, value)) = &setting {
                diesel::sql_query("SELECT set_config($1, $2, true)")
                    .bind::<Text, _>(*name)
                    .bind::<Text, _>(value)
                    .execute(conn)?;
            }
            if let Err(e) = work(&mut PgTx::new(conn)) {
                outcome = Err(e);
                return Err(diesel::result::Error::RollbackTransaction);
            }
            Ok(())
        });
        outcome?;
        result.map_err(db_error)
    }
}

/// The operating system's randomness, each draw logged by its size.
struct RecordingRandom(Log);

impl Random for RecordingRandom {
    fn fill(&self, buf: &mut [u8]) {
        self.0.push(format!("random {} bytes", buf.len()));
        salus::random::OsRandom.fill(buf);
    }
}

impl TestApp {
    /// The server's services over this test's database, recording every
    /// transaction, statement and random draw into the returned log.
    pub fn recording_services(&self) -> (Services, Log) {
        let log = Log::default();
        let pool = build_pool(
            &SecretString::from(self.db.api_url()),
            PoolSettings {
                max_size: 2,
                statement_timeout_ms: 5000,
                checkout_timeout: std::time::Duration::from_secs(5),
            },
        );
        let services = self.services().with_io(
            Arc::new(RecordingStore {
                pool,
                log: log.clone(),
            }),
            Arc::new(RecordingRandom(log.clone())),
        );
        (services, log)
    }
}
