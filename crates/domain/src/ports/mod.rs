//! The ports: every repository trait and the rows it reads and writes, one module
//! per area. They import nothing from the services; the persistence crate
//! implements them, and each service's transaction exposes the ones it needs.

pub mod alerts;
pub mod appointments;
pub mod archive;
pub mod audit;
pub mod clinic;
pub mod closure;
pub mod erasure;
pub mod export;
pub mod idempotency;
pub mod identity;
pub mod incidents;
pub mod integrations;
pub mod keys;
pub mod notes;
pub mod operators;
pub mod patients;
pub mod queue;
pub mod reminders;
pub mod roles;
pub mod schedule;
pub mod secrets;
pub mod staff;
pub mod vulns;
pub mod webhooks;
