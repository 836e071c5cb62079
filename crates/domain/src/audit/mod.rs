//! The audit trail: what services record (`AuditRecord`), how events are chained
//! and verified (`chain`), sealed (`seal`), kept for twelve months (`retention`),
//! given their positions off the request path (`sequencer`), read back
//! (`service`) and watched for threats (`alerts`) and for backups that
//! stopped or fail their drill (`backup_watch`).

pub mod actions;
pub mod alerts;
pub mod backup_watch;
pub mod chain;
pub mod export;
pub mod incident_watch;
pub mod model;
pub mod record;
pub mod retention;
pub mod rule;
pub mod seal;
pub mod secret_watch;
pub mod sequencer;
pub mod sequencing_watch;
pub mod service;
pub mod verify;

pub use model::{AuditEvent, NewAuditEvent, Outcome, Resource};
pub use record::AuditRecord;
