//! The r2d2 pool of diesel connections, with a per-connection statement timeout.

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool};
use secrecy::{ExposeSecret, SecretString};

/// The pool every repository draws from.
pub type DbPool = Pool<ConnectionManager<PgConnection>>;

/// A connection checked out of a [`DbPool`].
pub type PooledConn = diesel::r2d2::PooledConnection<ConnectionManager<PgConnection>>;

/// Checks a connection out of the pool; a pool that has none to give within its
/// checkout timeout (the database down, or every connection busy) is
/// `Unavailable` (503), never an internal error.
pub fn checkout(pool: &DbPool) -> Result<PooledConn, salus_domain::DomainError> {
    pool.get()
        .map_err(|e| salus_domain::DomainError::Unavailable {
            what: "database",
            cause: e.to_string(),
        })
}

/// How the pool is sized and how long one statement may run.
#[derive(Debug, Clone, Copy)]
pub struct PoolSettings {
    /// Maximum number of open connections.
    pub max_size: u32,
    /// `statement_timeout` applied to every connection, in milliseconds.
    pub statement_timeout_ms: u64,
    /// How long a caller waits for a free connection before failing.
    pub checkout_timeout: Duration,
}

/// Applies the session settings every API connection must carry.
#[derive(Debug)]
struct SessionSettings {
    statement_timeout_ms: u64,
}

impl CustomizeConnection<PgConnection, diesel::r2d2::Error> for SessionSettings {
    fn on_acquire(&self, conn: &mut PgConnection) -> Result<(), diesel::r2d2::Error> {
        conn.batch_execute(&format!(
            "SET statement_timeout = {}; SET lock_timeout = {}; SET TIME ZONE 'UTC';",
            self.statement_timeout_ms, self.statement_timeout_ms
        ))
        .map_err(diesel::r2d2::Error::QueryError)
    }
}

/// Builds the pool lazily: no connection is opened until one is needed, so a
/// database that is down at start-up is retried on each checkout.
pub fn build_pool(database_url: &SecretString, settings: PoolSettings) -> DbPool {
    let manager = ConnectionManager::<PgConnection>::new(database_url.expose_secret());
    Pool::builder()
        .max_size(settings.max_size)
        .min_idle(Some(0))
        .connection_timeout(settings.checkout_timeout)
        .test_on_check_out(false)
        .connection_customizer(Box::new(SessionSettings {
            statement_timeout_ms: settings.statement_timeout_ms,
        }))
        .build_unchecked(manager)
}
