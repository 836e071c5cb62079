//! Salus domain: entities, value objects, policy and the service layer.
//!
//! This crate does no IO. Time, randomness and storage reach it only through the
//! traits (ports) defined here, which the persistence and server crates implement.

pub mod access;
pub mod actor;
pub mod appointments;
pub mod audit;
pub mod clinic;
pub mod clock;
pub mod closure;
pub mod concurrency;
pub mod crypto;
pub mod error;
pub mod export;
pub mod formats;
pub mod health;
pub mod idempotency;
pub mod identity;
pub mod ids;
pub mod integrations;
pub mod keyring;
pub mod notes;
pub mod outbox;
pub mod paging;
pub mod patients;
pub mod plans;
pub mod platform;
pub mod ports;
pub mod purpose;
pub mod queue;
pub mod random;
pub mod rate_limits;
pub mod records;
pub mod reminders;
pub mod rights;
pub mod roles;
pub mod schedule;
pub mod secrets;
pub mod seeding;
pub mod services;
pub mod shared;
pub mod staff;
pub mod store;
pub mod vulns;
pub mod webhooks;

pub use actor::Actor;
pub use clock::Clock;
pub use error::{DomainError, FieldProblem};
pub use random::Random;
