//! Idempotent writes: which operations take `Idempotency-Key`, the header's
//! syntax, the request fingerprint and the patient a kept answer names. The middleware that honours the header
//! is `crate::middleware::idempotency`; the claims and stored answers are the
//! domain's `salus_domain::idempotency`.

pub mod fingerprint;
pub mod key;
pub mod operations;
pub mod subject;

/// The response header that marks a replayed answer.
pub const REPLAYED_HEADER: &str = "Idempotency-Replayed";
