//! Black-box tests: each starts a real server over its own database and talks HTTP.

// Test code: a failed set-up or assertion should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod contract;
mod headers;
mod health;
mod migrations;
mod problems;
mod schema;
mod tls;
