//! The operations behind the per-address authentication rate limit
//! (`AUTH_RATE_LIMIT_PER_MINUTE`, enforced by `Core::throttle` in each one's
//! service), declared once: the contract declares their 429 from this list, and
//! `tests/api/rate_limits.rs` exceeds the limit on every one of them.

/// `(METHOD, path template)` of every operation the authentication limiter counts.
pub const RATE_LIMITED_OPERATIONS: &[(&str, &str)] = &[
    ("POST", "/api/v1/clinics"),
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/mfa"),
    ("POST", "/api/v1/auth/step-up"),
    ("POST", "/api/v1/auth/refresh"),
    ("POST", "/api/v1/auth/password-reset"),
    ("POST", "/api/v1/auth/password-reset/confirm"),
    ("POST", "/api/v1/auth/verify-email"),
    ("POST", "/api/v1/auth/verify-email/resend"),
    ("POST", "/api/v1/auth/email-change/confirm"),
    ("POST", "/api/v1/invitations/accept"),
    ("POST", "/api/v1/me/phone"),
    ("POST", "/api/v1/me/phone/verify"),
    ("POST", "/api/v1/platform/enrolment"),
    ("POST", "/api/v1/platform/enrolment/confirm"),
    ("POST", "/api/v1/platform/auth/login"),
];

/// Whether the limiter counts `method` (any case) on `path`.
pub fn is_rate_limited(method: &str, path: &str) -> bool {
    RATE_LIMITED_OPERATIONS
        .iter()
        .any(|(m, p)| m.eq_ignore_ascii_case(method) && *p == path)
}
