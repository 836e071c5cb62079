//! Authentication at the HTTP edge: access tokens (JWT) and the extractors that
//! turn a request into an `Actor` (members) or an `OperatorActor` (operators).

pub mod client;
pub mod extractor;
pub mod jwt;
pub mod operator;
pub mod principal;
