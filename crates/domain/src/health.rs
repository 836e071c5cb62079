//! Readiness: whether the service's dependencies answer.

use crate::DomainError;

/// A port that checks whether the database answers a round trip.
pub trait ReadinessProbe: Send + Sync {
    /// Performs one round trip; `DomainError::Unavailable` when it does not answer.
    fn check(&self) -> Result<(), DomainError>;
}
