//! Route handlers, one module per resource.

pub mod appointments;
pub mod audit;
pub mod auth;
pub mod clinic;
pub mod closure;
pub mod exports;
pub mod health;
pub mod incidents;
pub mod integrations;
pub mod me;
pub mod notes;
pub mod patient_rights;
pub mod patients;
pub mod permissions;
pub mod platform;
pub mod queue;
pub mod roles;
pub mod schedule;
pub mod security_alerts;
pub mod staff;
pub mod webhooks;
pub mod well_known;
