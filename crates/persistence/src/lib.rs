//! Salus persistence: the PostgreSQL side of the domain's ports.
//!
//! It owns the connection pool, the embedded migrations, the checks on the role the
//! API connects as, and the repository implementations.

pub mod alerts_repo;
pub mod appointments_repo;
pub mod archive_repo;
pub mod audit_append;
pub mod audit_repo;
pub mod backup_status;
pub mod cached;
mod catalogue;
pub mod closure_repo;
pub mod erasure_repo;
pub mod errors;
pub mod export_repo;
pub mod group_commit;
pub mod idempotency_repo;
pub mod identity_repo;
pub mod incidents_repo;
pub mod integrations_repo;
pub mod keys_repo;
pub mod migrations;
pub mod notes_repo;
pub mod operators_repo;
pub mod outbox_repo;
pub mod patients_repo;
pub mod pool;
pub mod prepared;
pub mod queue_repo;
pub mod rate_limits_repo;
pub mod readiness;
pub mod reminders_repo;
pub mod role_posture;
pub mod roles_repo;
pub mod schedule_repo;
pub mod schema;
mod scope;
pub mod secrets_repo;
pub mod staff_repo;
pub mod store;
pub mod versions_repo;
pub mod vulns_repo;
pub mod webhooks_repo;

pub use pool::{DbPool, PoolSettings, build_pool};
pub use store::PgStore;
