//! The domain's error type: "the caller is wrong" (4xx, says what) is kept apart
//! from "we are wrong" (5xx, whose detail goes to the log only).

/// One invalid input field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    /// The field's name in the request (`password`, `email`).
    pub field: String,
    /// Stable machine-readable reason.
    pub code: &'static str,
    /// Human-readable explanation.
    pub message: String,
}

impl FieldProblem {
    /// A problem with one field.
    pub fn new(field: &str, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            code,
            message: message.into(),
        }
    }
}

/// An error raised by a domain service or one of its ports.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// The input breaks a rule; each field says which.
    #[error("invalid input")]
    Invalid(Vec<FieldProblem>),
    /// Sign-in failed. Unknown email, wrong password and locked account all give this.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// No valid session: missing, expired, revoked or tampered credentials.
    #[error("unauthenticated")]
    Unauthenticated,
    /// The caller is known but may not do this; `code` says why.
    #[error("forbidden: {code}")]
    Forbidden {
        /// Stable reason (`mfa_enrollment_required`, `step_up_required`, ...).
        code: &'static str,
        /// Human-readable explanation.
        detail: String,
        /// The permission that was missing, when that is the reason.
        missing: Option<&'static str>,
    },
    /// Nothing here (also: something of another clinic).
    #[error("not found")]
    NotFound,
    /// The request conflicts with the current state.
    #[error("conflict: {code}")]
    Conflict {
        /// Stable reason.
        code: &'static str,
        /// Human-readable explanation.
        detail: String,
    },
    /// A change of a versioned resource named no version to make it against.
    #[error("precondition required")]
    PreconditionRequired,
    /// The change was made against a version that is no longer current.
    #[error("stale: now version {current}")]
    Stale {
        /// The resource's current version.
        current: i32,
    },
    /// Too many requests; try again after this many seconds.
    #[error("rate limited")]
    RateLimited {
        /// Seconds until the window reopens.
        retry_after_secs: u64,
    },
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

impl DomainError {
    /// A single-field validation error.
    pub fn invalid(field: &str, code: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid(vec![FieldProblem::new(field, code, message)])
    }

    /// A forbidden error with its reason.
    pub fn forbidden(code: &'static str, detail: impl Into<String>) -> Self {
        Self::Forbidden {
            code,
            detail: detail.into(),
            missing: None,
        }
    }
}
