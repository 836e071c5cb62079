//! Salus domain: entities, value objects, policy and the service layer.
//!
//! This crate does no IO. Time, randomness and storage reach it only through the
//! traits (ports) defined here, which the persistence and server crates implement.

pub mod clock;
pub mod error;
pub mod health;

pub use clock::Clock;
pub use error::DomainError;
