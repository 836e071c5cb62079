//! The database readiness probe: one round trip through the pool.

use diesel::prelude::*;
use salus_domain::DomainError;
use salus_domain::health::ReadinessProbe;

use crate::DbPool;

/// Checks readiness by running `SELECT 1` on a pooled connection.
#[derive(Clone)]
pub struct PgReadiness {
    pool: DbPool,
}

impl PgReadiness {
    /// A probe over the given pool.
    pub fn new(pool: DbPool) -> Self {
        Self { pool }
    }
}

impl ReadinessProbe for PgReadiness {
    fn check(&self) -> Result<(), DomainError> {
        let unavailable = |cause: String| DomainError::Unavailable {
            what: "database",
            cause,
        };
        let mut conn = self.pool.get().map_err(|e| unavailable(e.to_string()))?;
        diesel::sql_query("SELECT 1")
            .execute(&mut conn)
            .map(|_| ())
            .map_err(|e| unavailable(e.to_string()))
    }
}
