//! The domain's `Store`: one transaction per unit of work, scoped to a clinic with
//! `set_config('app.clinic_id', .., true)` (transaction-local) for row-level security.

use diesel::prelude::*;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::Text;
use salus_domain::DomainError;
use salus_domain::store::{Scope, Store, Tx};

use crate::DbPool;
use crate::prepared::TwoBinds;

/// A transaction's connection, on which the repositories run.
pub struct PgTx<'a> {
    /// The connection, inside an open transaction.
    pub conn: &'a mut PgConnection,
}

/// The PostgreSQL store.
#[derive(Clone)]
pub struct PgStore {
    pool: DbPool,
}

impl PgStore {
    /// A store over this pool.
    pub fn new(pool: DbPool) -> Self {
        Self { pool }
    }
}

enum TxError {
    Domain(DomainError),
    Db(DieselError),
}

impl From<DieselError> for TxError {
    fn from(e: DieselError) -> Self {
        Self::Db(e)
    }
}

/// Maps a database error: broken connections and statements the server cancelled
/// (the statement or lock timeout: a database too slow to answer now) are
/// "unavailable", unique violations a conflict, the rest internal (the text goes
/// to the log only).
pub fn db_error(e: DieselError) -> DomainError {
    match &e {
        // SQLSTATE 57014 and 55P03, which diesel does not expose: their message
        // is what tells them apart (the server's messages are in English unless
        // an operator sets `lc_messages`, which docs/operations.md advises against).
        DieselError::DatabaseError(_, info)
            if info.message().starts_with("canceling statement due to") =>
        {
            DomainError::Unavailable {
                what: "database",
                cause: e.to_string(),
            }
        }
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => {
            DomainError::Conflict {
                code: "conflict",
                detail: "The request conflicts with existing data.".to_owned(),
            }
        }
        DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, _) => {
            DomainError::Unavailable {
                what: "database",
                cause: e.to_string(),
            }
        }
        _ => DomainError::Internal(e.to_string()),
    }
}

/// Scopes a transaction to a clinic or an account for row-level security.
const SET_SCOPE_SQL: &str = "SELECT set_config($1, $2, true)";

/// [`SET_SCOPE_SQL`]'s identity in the statement cache.
struct SetScope;

impl Store for PgStore {
    fn run(
        &self,
        scope: Scope,
        work: &mut dyn FnMut(&mut dyn Tx) -> Result<(), DomainError>,
    ) -> Result<(), DomainError> {
        let mut conn = crate::pool::checkout(&self.pool)?;
        settle(conn.transaction::<(), TxError, _>(|conn| scoped(conn, scope, work)))
    }

    fn run_snapshot(
        &self,
        scope: Scope,
        work: &mut dyn FnMut(&mut dyn Tx) -> Result<(), DomainError>,
    ) -> Result<(), DomainError> {
        let mut conn = crate::pool::checkout(&self.pool)?;
        settle(
            conn.build_transaction()
                .repeatable_read()
                .read_only()
                .run::<(), TxError, _>(|conn| scoped(conn, scope, work)),
        )
    }
}

/// Sets the transaction's scope for row-level security, then runs `work`.
fn scoped(
    conn: &mut PgConnection,
    scope: Scope,
    work: &mut dyn FnMut(&mut dyn Tx) -> Result<(), DomainError>,
) -> Result<(), TxError> {
    let setting = match scope {
        Scope::Platform => None,
        Scope::Clinic(clinic) => Some(("app.clinic_id", clinic.to_string())),
        Scope::Account(account) => Some(("app.account_id", account.to_string())),
    };
    if let Some((name, value)) = setting {
        TwoBinds::<SetScope, Text, Text, str, str>::new(SET_SCOPE_SQL, name, &value)
            .execute(conn)?;
    }
    let mut tx = PgTx { conn };
    work(&mut tx).map_err(TxError::Domain)
}

/// The transaction's outcome as the domain's.
fn settle(result: Result<(), TxError>) -> Result<(), DomainError> {
    match result {
        Ok(()) => Ok(()),
        Err(TxError::Domain(e)) => Err(e),
        Err(TxError::Db(e)) => Err(db_error(e)),
    }
}
