//! Identity: accounts, clinics, memberships, sessions, passwords, MFA and the
//! one-time-code flows.

pub mod account_flows;
pub mod auth;
pub mod email;
pub mod links;
pub mod mfa;
pub mod model;
pub mod one_time;
pub mod password;
pub mod phone;
pub mod service;
pub mod throttle;
