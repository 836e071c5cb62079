//! One-time tokens (links in emails): how long each kind lives, and the one
//! answer to a token that does not work.

use chrono::Duration;

use crate::DomainError;

/// Verification links stay valid this long (a new one can be asked for).
pub const VERIFY_EMAIL_TTL: Duration = Duration::hours(48);
/// A sign-up whose address nobody confirmed lapses this long after it was asked
/// for: its token stops working and the next sign-up removes it.
pub const SIGN_UP_TTL: Duration = Duration::days(7);
/// Password-reset tokens stay valid this long.
pub const RESET_TTL: Duration = Duration::minutes(30);
/// Email-change tokens stay valid this long.
pub const CHANGE_EMAIL_TTL: Duration = Duration::hours(24);

/// The refusal of a token that is unknown, expired or used.
pub(crate) fn invalid_token() -> DomainError {
    DomainError::invalid(
        "token",
        "invalid_token",
        "is unknown, expired or already used",
    )
}
