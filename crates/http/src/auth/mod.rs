//! Authentication at the HTTP edge: access tokens (JWT) and the extractors that
//! turn a request into an `Actor`.

pub mod client;
pub mod extractor;
pub mod jwt;
