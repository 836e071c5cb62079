//! The contract proven with real clients: Redocly lint, a TypeScript client generated
//! from it (current, strictly typed, and a whole journey against a real server), a
//! generated Python client, schemathesis over every operation, and headless Chromium
//! (the reference page, CORS), and the partner's guide's webhook verification code. The tools are pinned in tools/contract and installed by
//! `make contract-tools`; a missing one fails its test with that command named.

// Test code: a failed set-up or assertion should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod browser;
mod lint;
mod pages;
mod python;
mod schemathesis;
mod tools;
mod typescript;
mod webhooks;
