//! How database errors become the domain's: what is the caller's fault, what is
//! the database being unavailable, and what is ours.

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use salus_domain::DomainError;

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
