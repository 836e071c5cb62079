//! Black-box tests: each starts a real server over its own database and talks HTTP.

// Test code: a failed set-up or assertion should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod account;
mod alerts;
mod api_docs;
mod appointments;
mod audit;
mod backup;
mod brute_force;
mod clinic;
mod closure;
mod concurrency;
mod contract;
mod erasure;
mod headers;
mod health;
mod isolation;
mod keys;
mod layering;
mod limits;
mod logs;
mod metrics;
mod mfa;
mod migrations;
mod notes;
mod oracles;
mod outbox;
mod paging;
mod patient_rights;
mod patients;
mod privacy_defaults;
mod problems;
mod queue;
mod rate_limits;
mod rls;
mod roles;
mod route_inventory;
mod schema;
mod seed;
mod sessions;
mod sign_in;
mod staff;
mod tampering;
mod tls;
mod token_lifetimes;
