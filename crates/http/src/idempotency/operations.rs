//! Which operations honour `Idempotency-Key`: every POST, which is how this API
//! creates resources and changes their state (updates are PUTs with
//! `If-Match`, already safe to repeat), but those excluded below, each with
//! its reason. The contract declares the header on exactly the others, the
//! middleware reads the declaration from the contract, and
//! `tests/api/idempotency.rs` walks every POST of the contract.

/// `(path template, why)` of every POST that does not honour the header.
pub const EXCLUDED_POSTS: &[(&str, &str)] = &[
    // Public: there is no caller yet to keep an answer for.
    ("/api/v1/clinics", PUBLIC),
    ("/api/v1/auth/login", PUBLIC),
    ("/api/v1/auth/mfa", PUBLIC),
    ("/api/v1/auth/refresh", PUBLIC),
    ("/api/v1/auth/password-reset", PUBLIC),
    ("/api/v1/auth/password-reset/confirm", PUBLIC),
    ("/api/v1/auth/verify-email", PUBLIC),
    ("/api/v1/auth/verify-email/resend", PUBLIC),
    ("/api/v1/auth/email-change/confirm", PUBLIC),
    ("/api/v1/invitations/accept", PUBLIC),
    ("/api/v1/platform/enrolment", PUBLIC),
    ("/api/v1/platform/enrolment/confirm", PUBLIC),
    ("/api/v1/platform/auth/login", PUBLIC),
    // A member's own credentials and sign-in state.
    ("/api/v1/auth/logout", SESSION),
    ("/api/v1/auth/logout-others", SESSION),
    ("/api/v1/auth/step-up", SESSION),
    ("/api/v1/me/password", CREDENTIALS),
    ("/api/v1/me/email", CREDENTIALS),
    ("/api/v1/me/phone", CREDENTIALS),
    ("/api/v1/me/phone/verify", CREDENTIALS),
    ("/api/v1/me/mfa/totp", SECRETS),
    ("/api/v1/me/mfa/totp/confirm", SECRETS),
    ("/api/v1/me/mfa/totp/disable", CREDENTIALS),
    ("/api/v1/me/mfa/recovery-codes", SECRETS),
    // A read that takes its reason in a body.
    ("/api/v1/patients/{id}/break-glass", BREAK_GLASS),
    // The platform's operators.
    ("/api/v1/platform/auth/logout", OPERATORS),
    ("/api/v1/platform/incidents", OPERATORS),
    ("/api/v1/platform/incidents/{id}/entries", OPERATORS),
    ("/api/v1/platform/incidents/{id}/status", OPERATORS),
    ("/api/v1/platform/incidents/{id}/postmortem", OPERATORS),
    ("/api/v1/platform/incidents/{id}/breach", OPERATORS),
    (
        "/api/v1/platform/incidents/{id}/authority-notification",
        OPERATORS,
    ),
    ("/api/v1/platform/incidents/{id}/notifications", OPERATORS),
    ("/api/v1/platform/incidents/{id}/evidence", OPERATORS),
];

const PUBLIC: &str = "public: no caller to keep the answer for; these flows are \
                      rate-limited and single-use instead";
const SESSION: &str = "signs a session in or out: repeating it does no harm, and a \
                       replay must never stand in for a fresh check of a second factor";
const CREDENTIALS: &str = "changes the member's own credentials: each attempt must be \
                           checked afresh, never answered from a store";
const SECRETS: &str = "answers with a secret (an authenticator seed, recovery codes): \
                       keeping the answer would keep the secret at rest";
const BREAK_GLASS: &str = "a read of an archived record: every read must be audited and \
                           its owners told, which a replay would skip";
const OPERATORS: &str = "the platform operators' console, not a clinic's: no clinic to \
                         keep the answer under, and no integration partner calls it";

/// Whether `method` (any case) on the path template `path` honours
/// `Idempotency-Key`.
pub fn takes_idempotency_key(method: &str, path: &str) -> bool {
    method.eq_ignore_ascii_case("POST") && !EXCLUDED_POSTS.iter().any(|(p, _)| *p == path)
}
