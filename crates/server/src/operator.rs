//! Operator commands that act on the database directly (with the API role).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use salus_domain::ids::ClinicId;
use salus_domain::plans::Plan;
use salus_persistence::{PoolSettings, build_pool};

use crate::clock::SystemClock;
use crate::config::Config;
use crate::serve::identity;

/// Sets a clinic's plan.
pub fn set_plan(config: &Config, clinic: ClinicId, plan: Plan) -> anyhow::Result<()> {
    let pool = build_pool(
        &config.database_url,
        PoolSettings {
            max_size: 1,
            statement_timeout_ms: config.db_statement_timeout_ms,
            checkout_timeout: Duration::from_millis(config.db_checkout_timeout_ms),
        },
    );
    let public_url = config.public_url(None, config.http_bind);
    let service = identity(config, pool, Arc::new(SystemClock), &public_url)?;
    service
        .set_plan(clinic, plan)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("cannot set the plan of clinic {clinic}"))
}
