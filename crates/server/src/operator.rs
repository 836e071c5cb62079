//! Operator commands that act on the database directly (with the API role,
//! `DATABASE_URL`: row-level security applies to them as to the server).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use salus_domain::ids::ClinicId;
use salus_domain::keyring::rotation::{Progress, RotationSummary};
use salus_domain::plans::Plan;
use salus_domain::services::Services;
use salus_persistence::{PoolSettings, build_pool};

use crate::clock::SystemClock;
use crate::config::Config;
use crate::serve::services;

/// The service over a small pool of the API role, for commands run outside the
/// server (operator commands, seeding).
pub(crate) fn command_service(config: &Config, pool: PoolSettings) -> anyhow::Result<Services> {
    let pool = build_pool(&config.database_url, pool);
    let public_url = config.public_url(None, config.http_bind);
    services(config, pool, Arc::new(SystemClock), &public_url)
}

/// The services over a one-connection pool of the API role, on the system
/// clock (what an operator command runs on).
pub fn operator_service(config: &Config) -> anyhow::Result<Services> {
    command_service(
        config,
        PoolSettings {
            max_size: 1,
            statement_timeout_ms: config.db_statement_timeout_ms,
            checkout_timeout: Duration::from_millis(config.db_checkout_timeout_ms),
        },
    )
}

/// Sets a clinic's plan.
pub fn set_plan(config: &Config, clinic: ClinicId, plan: Plan) -> anyhow::Result<()> {
    operator_service(config)?
        .staff
        .set_plan(clinic, plan)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("cannot set the plan of clinic {clinic}"))
}

/// Re-wraps every clinic's keys and re-seals every TOTP secret under the first key
/// of `MASTER_KEYS`, reporting progress as it goes. Safe to interrupt and re-run.
pub fn rotate_master(
    config: &Config,
    progress: &mut dyn FnMut(Progress),
) -> anyhow::Result<RotationSummary> {
    operator_service(config)?
        .keys
        .rotate_master_key(progress)
        .map_err(|e| anyhow::anyhow!("{e:?}"))
        .context("master-key rotation stopped; run it again to finish")
}
