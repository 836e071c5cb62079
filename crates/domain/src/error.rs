//! The domain's error type: "the caller is wrong" (4xx) is kept apart from
//! "we are wrong" (5xx, whose detail goes to the log only).

/// An error raised by a domain service or one of its ports.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// A dependency (the database, a provider) cannot be reached right now.
    #[error("{what} is unavailable")]
    Unavailable {
        /// Which dependency, named for the caller ("database").
        what: &'static str,
        /// The underlying cause, for the log only.
        cause: String,
    },
    /// Something failed that the caller cannot fix; the cause goes to the log only.
    #[error("internal error")]
    Internal(String),
}
