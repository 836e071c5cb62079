//! The SQL migrations of `migrations/`, embedded in the binary.
//!
//! `salus migrate` runs them as the owner role; `salus serve` only reads which ones
//! have run (the API role may not create the bookkeeping table) and refuses to start
//! when any is pending.

use diesel::migration::MigrationSource;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use secrecy::{ExposeSecret, SecretString};

/// Every migration of the repository's `migrations/` directory.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations");

/// A failure to run or inspect migrations.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    /// Connecting or querying failed.
    #[error("database error: {0}")]
    Database(#[from] diesel::result::Error),
    /// The owner role could not connect.
    #[error("cannot connect: {0}")]
    Connection(#[from] diesel::ConnectionError),
    /// A migration script failed.
    #[error("migration failed: {0}")]
    Migration(String),
}

/// Connects as the owner role and runs every pending migration; returns the
/// versions applied (empty when up to date).
pub fn migrate(owner_url: &SecretString) -> Result<Vec<String>, MigrationError> {
    let mut conn = PgConnection::establish(owner_url.expose_secret())?;
    run_pending(&mut conn)
}

/// Runs every pending migration on this connection.
pub fn run_pending(conn: &mut PgConnection) -> Result<Vec<String>, MigrationError> {
    let applied = conn
        .run_pending_migrations(MIGRATIONS)
        .map_err(|e| MigrationError::Migration(e.to_string()))?;
    Ok(applied.iter().map(ToString::to_string).collect())
}

#[derive(QueryableByName)]
struct AppliedVersion {
    #[diesel(sql_type = Text)]
    version: String,
}

/// Lists the embedded migrations that the database has not run yet, reading the
/// bookkeeping table without trying to create it.
pub fn pending(conn: &mut PgConnection) -> Result<Vec<String>, MigrationError> {
    let table_exists: bool = diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(
        "to_regclass('public.__diesel_schema_migrations') IS NOT NULL",
    ))
    .get_result(conn)?;
    let applied: Vec<String> = if table_exists {
        diesel::sql_query("SELECT version FROM __diesel_schema_migrations")
            .load::<AppliedVersion>(conn)?
            .into_iter()
            .map(|row| row.version)
            .collect()
    } else {
        Vec::new()
    };
    let embedded = MigrationSource::<diesel::pg::Pg>::migrations(&MIGRATIONS)
        .map_err(|e| MigrationError::Migration(e.to_string()))?;
    Ok(embedded
        .iter()
        .map(|m| m.name().version().to_string())
        .filter(|version| !applied.contains(version))
        .collect())
}
