//! Operator commands that act on the database directly (with the API role,
//! `DATABASE_URL`: row-level security applies to them as to the server).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use salus_domain::ids::ClinicId;
use salus_domain::keyring::data_key::Advance;
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

/// Who ran an operator command: `--operator` as given, required in staging and
/// production; in development and test `development` when left out.
pub fn who_ran(config: &Config, operator: Option<&str>) -> anyhow::Result<String> {
    match operator.map(str::trim).filter(|o| !o.is_empty()) {
        Some(operator) => Ok(operator.to_owned()),
        None if config.app_env.is_deployed() => Err(anyhow::anyhow!(
            "say who runs this command: --operator EMAIL (required in {})",
            config.app_env.as_str()
        )),
        None => Ok("development".to_owned()),
    }
}

/// Sets a clinic's plan, recording who did.
pub fn set_plan(config: &Config, clinic: ClinicId, plan: Plan, by: &str) -> anyhow::Result<()> {
    operator_service(config)?
        .staff
        .set_plan(clinic, plan, by)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("cannot set the plan of clinic {clinic}"))
}

/// Re-wraps every clinic's keys and re-seals every TOTP secret under the first key
/// of `MASTER_KEYS`, reporting progress as it goes, recording who ran it. Safe to
/// interrupt and re-run.
pub fn rotate_master(
    config: &Config,
    by: &str,
    progress: &mut dyn FnMut(Progress),
) -> anyhow::Result<RotationSummary> {
    operator_service(config)?
        .keys
        .rotate_master_key(by, progress)
        .map_err(|e| anyhow::anyhow!("{e:?}"))
        .context("master-key rotation stopped; run it again to finish")
}

/// Gives a clinic's data key a new version (or goes on with the rotation under
/// way) and drives it to its end in the foreground: fields re-encrypted in
/// batches, then the retiring key destroyed. `progress` hears each pass. Safe
/// to interrupt: the rotation job of every running server carries it on, and
/// running this again continues it. The new version.
pub fn rotate_clinic_key(
    config: &Config,
    clinic: ClinicId,
    by: &str,
    progress: &mut dyn FnMut(Advance),
) -> anyhow::Result<i32> {
    let services = operator_service(config)?;
    let rotation = &services.data_keys;
    match rotation.start(clinic, by) {
        Ok(_) => {}
        Err(salus_domain::DomainError::Conflict {
            code: "rotation_under_way",
            ..
        }) => {}
        Err(e) => {
            return Err(anyhow::anyhow!("{e:?}"))
                .with_context(|| format!("cannot rotate the data key of clinic {clinic}"));
        }
    }
    loop {
        let step = rotation
            .advance(clinic, by)
            .map_err(|e| anyhow::anyhow!("{e:?}"))
            .context("the data-key rotation stopped; run it again to go on")?;
        progress(step);
        match step {
            Advance::Finished { version, .. } => return Ok(version),
            Advance::Idle => anyhow::bail!("clinic {clinic} has no data-key rotation under way"),
            Advance::Moving { resealed: 0, .. } => std::thread::sleep(Duration::from_secs(1)),
            Advance::Moving { .. } => {}
        }
    }
}

/// Adds a platform operator whose access ends `days` from now; the enrolment
/// code (also emailed to them).
pub fn add_operator(
    config: &Config,
    email: &str,
    role: salus_domain::ports::operators::OperatorRole,
    days: i64,
    by: &str,
) -> anyhow::Result<String> {
    let services = operator_service(config)?;
    let ends_at = services.now() + chrono::Duration::days(days);
    services
        .platform
        .add_operator(&salus_domain::platform::NewOperator {
            email: email.to_owned(),
            role,
            ends_at,
            added_by: by.to_owned(),
        })
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("cannot add the operator {email}"))
}

/// Ends an operator's access at once; how many sessions ended.
pub fn revoke_operator(config: &Config, email: &str, by: &str) -> anyhow::Result<usize> {
    operator_service(config)?
        .platform
        .revoke_operator(email, by)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("cannot revoke the operator {email}"))
}

/// Every operator, one line each: address, role, state, end.
pub fn list_operators(config: &Config) -> anyhow::Result<Vec<String>> {
    let services = operator_service(config)?;
    let now = services.now();
    let operators = services
        .platform
        .operators()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(operators
        .into_iter()
        .map(|o| {
            let state = if o.revoked_at.is_some() {
                "revoked"
            } else if o.ends_at <= now {
                "ended"
            } else if o.totp_confirmed_at.is_none() {
                "enrolling"
            } else {
                "active"
            };
            format!(
                "{}  {}  {state}  ends {}  added by {}",
                o.email,
                o.role.as_str(),
                o.ends_at.to_rfc3339(),
                o.created_by
            )
        })
        .collect())
}

/// The report of `salus keys report`: every secret's age against its period.
pub fn keys_report(config: &Config) -> anyhow::Result<Vec<salus_domain::secrets::SecretAge>> {
    operator_service(config)?
        .secrets
        .ages()
        .map_err(|e| anyhow::anyhow!("{e}"))
}
