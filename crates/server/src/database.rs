//! Start-up checks against the database: migrations applied, and in staging and
//! production a least-privilege role.

use anyhow::Context;
use salus_persistence::DbPool;
use salus_persistence::migrations;
use salus_persistence::role_posture::current_role_posture;
use secrecy::SecretString;

/// Fails, saying what to do, when a migration is pending or (when `strict`) the
/// API role is a superuser, can bypass RLS or owns objects.
pub fn check_serving_database(pool: &DbPool, strict: bool) -> anyhow::Result<()> {
    let mut conn = pool
        .get()
        .context("cannot connect to the database at DATABASE_URL")?;
    let pending = migrations::pending(&mut conn).context("cannot read applied migrations")?;
    anyhow::ensure!(
        pending.is_empty(),
        "{} migration(s) pending ({}): run `salus migrate` first",
        pending.len(),
        pending.join(", ")
    );
    if strict {
        let posture =
            current_role_posture(&mut conn).context("cannot read the role's privileges")?;
        let problems = posture.problems();
        anyhow::ensure!(
            problems.is_empty(),
            "refusing to serve with an over-privileged database role:\n  - {}",
            problems.join("\n  - ")
        );
    }
    Ok(())
}

/// Runs pending migrations as the owner role; returns the versions applied.
pub fn migrate(migration_url: &SecretString) -> anyhow::Result<Vec<String>> {
    migrations::migrate(migration_url).context("MIGRATION_DATABASE_URL")
}
