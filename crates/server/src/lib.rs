//! The Salus server: configuration, start-up checks, listeners and TLS.
//!
//! The binary (`main.rs`) is a thin CLI over this library, which the black-box tests
//! also use to start real servers on port 0.

pub mod audit_admin;
pub mod audit_job;
pub mod backup;
pub mod certificates;
pub mod clock;
pub mod closure_job;
pub mod config;
pub mod database;
pub mod export_verify;
pub mod metrics;
pub mod operator;
pub mod outbox;
pub mod random;
pub mod rate_limit_job;
pub mod register;
pub mod rotation_job;
pub mod secrets;
pub mod seed;
pub mod seed_bench;
pub mod sequencer_job;
pub mod serve;
pub mod telemetry;
pub mod tls;
pub mod vulns;
pub mod webhooks;
