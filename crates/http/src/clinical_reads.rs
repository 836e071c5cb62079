//! The operations that read clinical data, declared once: each passes the
//! clinic's purpose-of-use rule (`salus_domain::purpose`) in its service, the
//! contract declares the `X-Purpose-Of-Use` header on them from this list, and
//! `tests/api/purpose_of_use.rs` walks the contract to prove that exactly
//! these refuse a read without a purpose where the clinic requires one.

/// `(METHOD, path template)` of every operation that reads clinical data.
pub const CLINICAL_READ_OPERATIONS: &[(&str, &str)] = &[
    ("GET", "/api/v1/patients"),
    ("GET", "/api/v1/patients/{id}"),
    ("GET", "/api/v1/patients/{id}/notes"),
    ("GET", "/api/v1/patients/{id}/export"),
    ("GET", "/api/v1/appointments"),
    ("GET", "/api/v1/appointments/{id}"),
];

/// Whether `method` (any case) on `path` reads clinical data.
pub fn is_clinical_read(method: &str, path: &str) -> bool {
    CLINICAL_READ_OPERATIONS
        .iter()
        .any(|(m, p)| m.eq_ignore_ascii_case(method) && *p == path)
}
