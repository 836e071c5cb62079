//! `salus seed-dev`: synthetic demo clinics for development. Refused in staging
//! and production. Every name, date and number is generated; no real person's data.
//!
//! Demo passwords are random passphrases generated per seeding (no default
//! password exists) and written, with the logins, to `.local/demo-logins.txt`.
//!
//! The demo clinics are recognised in the database by their owners' addresses
//! (`owner@demo-N.salus.test`; `.test` is a reserved name, so no real person has
//! one). Seeding again reuses them: it prints the logins file when that file names
//! the clinics the database holds, and otherwise says that another checkout (or a
//! run whose file was removed) made them and how to start over. `--reset` removes
//! the demo clinics it finds, with their staff accounts and every row of theirs
//! (as the owner role, `MIGRATION_DATABASE_URL`, in each clinic's row-level-security
//! scope), and seeds them anew. The audit trail keeps their events: it is
//! append-only, and its chains need no clinic row.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use chrono::{Duration as Days, NaiveDate, Timelike};
use diesel::sql_types::{Text, Uuid as SqlUuid};
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl};
use salus_domain::access::PermissionSet;
use salus_domain::actor::ActorKind;
use salus_domain::identity::model::{ClientInfo, Role};
use salus_domain::ids::{AccountId, ClinicId, MembershipId, SessionId};
use salus_domain::ports::appointments::NewBooking;
use salus_domain::ports::identity::NewAccount;
use salus_domain::ports::patients::{PatientFields, Sex};
use salus_domain::seeding::NewMember;
use salus_domain::services::Services;
use salus_domain::{Actor, Random};
use salus_persistence::PoolSettings;
use secrecy::ExposeSecret;

use crate::config::Config;
use crate::operator::command_service;
use crate::random::OsRandom;

pub(crate) const GIVEN: &[&str] = &[
    "Amina", "Louis", "Chloé", "Hugo", "Inès", "Jules", "Léa", "Malik", "Nora", "Oscar", "Rose",
    "Sami", "Yanis", "Zoé",
];
pub(crate) const FAMILY: &[&str] = &[
    "Bernard", "Dubois", "Fontaine", "Garnier", "Lambert", "Leroy", "Mercier", "Moreau", "Perrin",
    "Renard", "Roux", "Vidal",
];
const WORDS: &[&str] = &[
    "amber", "basil", "canyon", "delta", "ember", "fjord", "garnet", "harbor", "indigo", "juniper",
    "kestrel", "lagoon", "meadow", "nectar", "orchid", "pepper", "quartz", "raven", "saffron",
    "tundra", "umber", "velvet", "willow", "zephyr",
];

fn pick<'a>(random: &dyn Random, list: &'a [&'a str]) -> &'a str {
    let mut b = [0u8; 2];
    random.fill(&mut b);
    list[usize::from(u16::from_le_bytes(b)) % list.len()]
}

pub(crate) fn passphrase(random: &dyn Random) -> String {
    (0..5)
        .map(|_| pick(random, WORDS))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The address of a demo staff member (`label` is `owner`, `doctor` or `desk`).
fn demo_email(label: &str, n: usize) -> String {
    format!("{label}@demo-{n}.salus.test")
}

/// A demo clinic found in the database.
struct Found {
    /// Its number (`Demo Clinic N`).
    n: usize,
    /// Its id.
    clinic: ClinicId,
}

/// The demo clinics 1 to `clinics` that the database already holds.
fn existing_demo_clinics(services: &Services, clinics: usize) -> anyhow::Result<Vec<Found>> {
    let mut found = Vec::new();
    for n in 1..=clinics {
        let owned = services
            .seeding
            .clinics_owned_by(&demo_email("owner", n))
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        found.extend(owned.into_iter().map(|clinic| Found { n, clinic }));
    }
    Ok(found)
}

/// Seeds `clinics` demo clinics with `patients` patients each and returns what to
/// print: the logins, or how to reach demo data that already exists. With `reset`,
/// demo clinics that exist are removed first (never in staging or production).
pub fn seed(
    config: &Config,
    clinics: usize,
    patients: usize,
    logins_file: &Path,
    reset: bool,
) -> anyhow::Result<String> {
    anyhow::ensure!(
        !config.app_env.is_deployed(),
        "seed-dev creates synthetic data for development only; refused with APP_ENV={}",
        config.app_env.as_str()
    );
    let service = command_service(
        config,
        PoolSettings {
            max_size: 2,
            statement_timeout_ms: 60_000,
            checkout_timeout: Duration::from_secs(10),
        },
    )?;
    let existing = existing_demo_clinics(&service, clinics)?;
    let mut out = String::new();
    if !existing.is_empty() {
        if !reset {
            return Ok(reuse(&existing, logins_file));
        }
        let owner_url = config.migration_database_url.as_ref().context(
            "seed-dev --reset needs MIGRATION_DATABASE_URL (the owner role): the demo clinics hold rows the API role may not delete",
        )?;
        let mut conn = PgConnection::establish(owner_url.expose_secret())
            .context("cannot connect with MIGRATION_DATABASE_URL")?;
        for found in &existing {
            service
                .seeding
                .destroy_clinic_keys(found.clinic)
                .map_err(|e| {
                    anyhow::anyhow!("cannot destroy demo clinic {}'s keys: {e:?}", found.n)
                })?;
            remove_demo_clinic(&mut conn, found)
                .with_context(|| format!("cannot remove demo clinic {}", found.n))?;
            out.push_str(&format!(
                "removed demo clinic {} (id {})\n",
                found.n, found.clinic
            ));
        }
    }
    let random = OsRandom;
    let mut logins = String::new();
    for n in 1..=clinics {
        logins.push_str(
            &seed_clinic(&service, &random, n, patients).with_context(|| {
                format!(
                    "demo clinic {n} (another `salus seed-dev` may be running on this database)"
                )
            })?,
        );
    }
    if let Some(dir) = logins_file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(logins_file, &logins)
        .with_context(|| format!("cannot write {}", logins_file.display()))?;
    out.push_str(&logins);
    Ok(out)
}

/// What to print when the demo clinics exist already: the logins file when it
/// names them all, else where they came from and how to start over.
fn reuse(existing: &[Found], logins_file: &Path) -> String {
    let file = logins_file.display();
    match std::fs::read_to_string(logins_file) {
        Ok(logins)
            if existing
                .iter()
                .all(|f| logins.contains(&f.clinic.to_string())) =>
        {
            format!("demo data is already seeded; logins (from {file}):\n{logins}")
        }
        found => {
            let why = if found.is_ok() {
                "names other demo clinics than the database holds (it was reset since)"
            } else {
                "is missing"
            };
            let ids: Vec<String> = existing
                .iter()
                .map(|f| format!("demo clinic {} (id {})", f.n, f.clinic))
                .collect();
            format!(
                "demo data is already in this database ({}), but {file} {why}: another \
                 checkout, or a run whose logins file was removed since, created it, and its \
                 passwords are not kept here. Sign in with the logins of the checkout that \
                 seeded it, or re-create the demo clinics with new logins: \
                 `salus seed-dev --reset` (`make run SEED_ARGS=--reset`). That removes only \
                 the demo clinics, their staff and their data; the audit trail keeps their \
                 events.\n",
                ids.join(", ")
            )
        }
    }
}

#[derive(QueryableByName)]
struct TableName {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct Reference {
    #[diesel(sql_type = Text)]
    child: String,
    #[diesel(sql_type = Text)]
    parent: String,
    #[diesel(sql_type = Text)]
    column: String,
}

#[derive(QueryableByName)]
struct MemberAccount {
    #[diesel(sql_type = SqlUuid)]
    account_id: uuid::Uuid,
}

/// The tenant tables (a `clinic_id NOT NULL` column; the audit schema is not
/// among them), each after every tenant table that refers to it.
fn tenant_tables_referrers_first(conn: &mut PgConnection) -> anyhow::Result<Vec<String>> {
    let mut tables: Vec<String> = diesel::sql_query(
        "SELECT c.relname::text AS name FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
          WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
            AND a.attname = 'clinic_id' AND a.attnotnull AND NOT a.attisdropped
          ORDER BY 1",
    )
    .load::<TableName>(conn)?
    .into_iter()
    .map(|t| t.name)
    .collect();
    let references = references(conn)?;
    let mut ordered = Vec::new();
    while !tables.is_empty() {
        let free = tables.iter().position(|t| {
            !references
                .iter()
                .any(|r| &r.parent == t && &r.child != t && tables.contains(&r.child))
        });
        let Some(at) = free else {
            anyhow::bail!("the tenant tables refer to each other in a cycle: {tables:?}");
        };
        ordered.push(tables.remove(at));
    }
    Ok(ordered)
}

/// Every foreign key of the public schema: table, referenced table, first column.
fn references(conn: &mut PgConnection) -> anyhow::Result<Vec<Reference>> {
    Ok(diesel::sql_query(
        "SELECT ch.relname::text AS child, pa.relname::text AS parent, at.attname::text AS column
           FROM pg_constraint k
           JOIN pg_class ch ON ch.oid = k.conrelid
           JOIN pg_class pa ON pa.oid = k.confrelid
           JOIN pg_attribute at ON at.attrelid = k.conrelid AND at.attnum = k.conkey[1]
          WHERE k.contype = 'f' AND k.connamespace = 'public'::regnamespace",
    )
    .load::<Reference>(conn)?)
}

/// Removes one demo clinic: every tenant row of it, in its row-level-security
/// scope, then its staff accounts (the demo addresses) and what refers to them.
fn remove_demo_clinic(conn: &mut PgConnection, found: &Found) -> anyhow::Result<()> {
    let tables = tenant_tables_referrers_first(conn)?;
    let clinic = found.clinic.uuid();
    let members = conn.transaction::<_, anyhow::Error, _>(|conn| {
        diesel::sql_query("SELECT set_config('app.clinic_id', $1, true)")
            .bind::<Text, _>(clinic.to_string())
            .execute(conn)?;
        let members = diesel::sql_query("SELECT account_id FROM memberships WHERE clinic_id = $1")
            .bind::<SqlUuid, _>(clinic)
            .load::<MemberAccount>(conn)?;
        for table in &tables {
            diesel::sql_query(format!("DELETE FROM {table} WHERE clinic_id = $1"))
                .bind::<SqlUuid, _>(clinic)
                .execute(conn)?;
        }
        let removed = diesel::sql_query("DELETE FROM clinics WHERE id = $1")
            .bind::<SqlUuid, _>(clinic)
            .execute(conn)?;
        anyhow::ensure!(
            removed == 1,
            "clinic {clinic} is not visible in its own scope"
        );
        Ok(members)
    })?;
    let to_accounts: Vec<Reference> = references(conn)?
        .into_iter()
        .filter(|r| r.parent == "accounts")
        .collect();
    let domain = format!("%@demo-{}.salus.test", found.n);
    for member in members {
        conn.transaction::<_, anyhow::Error, _>(|conn| {
            diesel::sql_query("SELECT set_config('app.account_id', $1, true)")
                .bind::<Text, _>(member.account_id.to_string())
                .execute(conn)?;
            let demo = diesel::sql_query(
                "SELECT id AS account_id FROM accounts WHERE id = $1 AND email LIKE $2",
            )
            .bind::<SqlUuid, _>(member.account_id)
            .bind::<Text, _>(&domain)
            .load::<MemberAccount>(conn)?;
            if demo.is_empty() {
                return Ok(());
            }
            for r in &to_accounts {
                diesel::sql_query(format!("DELETE FROM {} WHERE {} = $1", r.child, r.column))
                    .bind::<SqlUuid, _>(member.account_id)
                    .execute(conn)?;
            }
            diesel::sql_query("DELETE FROM accounts WHERE id = $1")
                .bind::<SqlUuid, _>(member.account_id)
                .execute(conn)?;
            Ok(())
        })?;
    }
    Ok(())
}

/// A seeded staff member of `role`: a verified account named `given family`.
pub(crate) fn new_member(
    services: &Services,
    role: Role,
    email: String,
    (given_name, family_name): (&str, &str),
    password_hash: String,
) -> NewMember {
    NewMember {
        account: NewAccount {
            id: AccountId(services.seeding.new_id()),
            email,
            given_name: given_name.to_owned(),
            family_name: family_name.to_owned(),
            password_hash,
            created_at: services.seeding.now(),
        },
        membership: MembershipId(services.seeding.new_id()),
        role,
    }
}

fn seed_clinic(
    services: &Services,
    random: &dyn Random,
    n: usize,
    patients: usize,
) -> anyhow::Result<String> {
    let err = |e: salus_domain::DomainError| anyhow::anyhow!("{e:?}");
    let now = services.seeding.now();
    let clinic = ClinicId(services.seeding.new_id());
    let staff = [
        (Role::Owner, "owner"),
        (Role::Practitioner, "doctor"),
        (Role::Receptionist, "desk"),
    ];
    let mut out = format!("Demo clinic {n} (id {clinic}):\n");
    let mut members = Vec::new();
    for (role, label) in staff {
        let password = passphrase(random);
        let email = demo_email(label, n);
        let hash = services.seeding.hash_password(&password).map_err(err)?;
        let member = new_member(
            services,
            role,
            email.clone(),
            (pick(random, GIVEN), pick(random, FAMILY)),
            hash,
        );
        if role == Role::Owner {
            services
                .seeding
                .create_clinic(&salus_domain::identity::model::Clinic {
                    id: clinic,
                    name: format!("Demo Clinic {n}"),
                    plan: "business".to_owned(),
                    idle_timeout_minutes: 30,
                    require_mfa: false,
                    time_zone: "Europe/Paris".to_owned(),
                    reminder_offset_hours: 24,
                    record_retention_years: 20,
                    archive_after_years: 5,
                    purpose_of_use_required: false,
                    version: 1,
                })
                .map_err(err)?;
        }
        let account = services.seeding.add_member(clinic, &member).map_err(err)?;
        members.push((role, account, member.membership));
        let mfa = if role.requires_mfa() {
            " (enrol MFA at first sign-in)"
        } else {
            ""
        };
        out.push_str(&format!(
            "  {label:<7} {email}  password: {password}{mfa}\n"
        ));
    }
    let (_, owner_account, owner_membership) = members[0];
    let (_, _, practitioner) = members[1];
    let actor = Actor {
        account_id: owner_account,
        clinic_id: clinic,
        membership_id: owner_membership,
        session_id: SessionId(services.seeding.new_id()),
        kind: ActorKind::Member(Role::Owner),
        mfa_at: Some(now),
        mfa_enrolled: true,
        mfa_required: false,
        permissions: PermissionSet::all(),
        purpose_of_use_required: false,
    };
    let client = ClientInfo {
        ip: Some("seed-dev".into()),
        user_agent: Some("salus seed-dev".into()),
        request_id: None,
        purpose_of_use: None,
    };
    let start_of_day = now
        .with_hour(8)
        .and_then(|t| t.with_minute(0))
        .and_then(|t| t.with_second(0))
        .unwrap_or(now);
    for p in 0..patients {
        let mut day = [0u8; 2];
        random.fill(&mut day);
        let birth = NaiveDate::from_ymd_opt(1940, 1, 1).unwrap_or_default()
            + Days::days(i64::from(u16::from_le_bytes(day)) % 29_000);
        let fields = PatientFields {
            family_name: pick(random, FAMILY).to_owned(),
            given_name: pick(random, GIVEN).to_owned(),
            birth_date: birth,
            sex: if p % 2 == 0 { Sex::Female } else { Sex::Male },
            national_id: Some(format!("DEMO{n:02}{p:06}")),
            phone: Some(format!("+3360000{n:02}{:03}", p % 1000)),
            email: None,
            address: None,
            emergency_contact: None,
            preferred_language: Some("fr".into()),
            reminder_email: false,
            reminder_sms: p % 3 == 0,
        };
        let patient = services
            .patients
            .create_patient(&actor, fields, None, &client)
            .map_err(err)?;
        if p < 16 {
            let slot = i64::try_from(p).unwrap_or(0);
            let starts_at = start_of_day + Days::days(1) + Days::minutes(30 * slot);
            let booking = NewBooking {
                patient: patient.id,
                practitioner,
                starts_at,
                ends_at: starts_at + Days::minutes(20),
                reason: Some("Synthetic demo visit".into()),
                override_hours: false,
            };
            services
                .appointments
                .book(&actor, &booking, &client)
                .map_err(err)?;
        }
    }
    Ok(out)
}
