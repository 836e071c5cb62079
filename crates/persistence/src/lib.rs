//! Salus persistence: the PostgreSQL side of the domain's ports.
//!
//! It owns the connection pool, the embedded migrations, the checks on the role the
//! API connects as, and the repository implementations.

pub mod migrations;
pub mod pool;
pub mod readiness;
pub mod role_posture;

pub use pool::{DbPool, PoolSettings, build_pool};
