//! The one helper that runs blocking work (diesel, argon2) off the async workers.

use actix_web::web;
use salus_domain::DomainError;

use crate::problem::ApiError;

/// Runs `work` on actix's blocking pool inside the current request span, mapping
/// domain errors to API errors.
pub async fn run_blocking<T, F>(work: F) -> Result<T, ApiError>
where
    F: FnOnce() -> Result<T, DomainError> + Send + 'static,
    T: Send + 'static,
{
    let span = tracing::Span::current();
    web::block(move || span.in_scope(work))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::from)
}
