//! `salus seed-dev`: synthetic demo clinics for development. Refused in staging
//! and production. Every name, date and number is generated; no real person's data.
//!
//! Demo passwords are random passphrases generated per seeding (no default
//! password exists) and written, with the logins, to `.local/demo-logins.txt`.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use chrono::{Duration as Days, NaiveDate, Timelike};
use salus_domain::access::PermissionSet;
use salus_domain::appointments::NewBooking;
use salus_domain::identity::model::{ClientInfo, Role};
use salus_domain::identity::ports::NewAccount;
use salus_domain::identity::service::Identity;
use salus_domain::ids::{AccountId, ClinicId, MembershipId, SessionId};
use salus_domain::patients::{PatientFields, Sex};
use salus_domain::store::{Scope, Tx, in_tx};
use salus_domain::{Actor, DomainError, Random};
use salus_persistence::PoolSettings;

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

/// Seeds `clinics` demo clinics with `patients` patients each and prints the logins.
pub fn seed(
    config: &Config,
    clinics: usize,
    patients: usize,
    logins_file: &Path,
) -> anyhow::Result<String> {
    anyhow::ensure!(
        !config.app_env.is_deployed(),
        "seed-dev creates synthetic data for development only; refused with APP_ENV={}",
        config.app_env.as_str()
    );
    if let Ok(existing) = std::fs::read_to_string(logins_file) {
        return Ok(format!("demo data is already seeded; logins:\n{existing}"));
    }
    let service = command_service(
        config,
        PoolSettings {
            max_size: 2,
            statement_timeout_ms: 60_000,
            checkout_timeout: Duration::from_secs(10),
        },
    )?;
    let random = OsRandom;
    let mut logins = String::new();
    for n in 1..=clinics {
        logins.push_str(
            &seed_clinic(&service, &random, n, patients)
                .with_context(|| format!("demo clinic {n}"))?,
        );
    }
    if let Some(dir) = logins_file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(logins_file, &logins)
        .with_context(|| format!("cannot write {}", logins_file.display()))?;
    Ok(logins)
}

/// A seeded staff member: the account (its email already verified), its
/// membership in `clinic` with `role`, and the practitioner flag for practitioners.
pub(crate) fn insert_member(
    tx: &mut dyn Tx,
    clinic: ClinicId,
    (account, membership, role): (AccountId, MembershipId, Role),
    new: NewAccount,
) -> Result<(), DomainError> {
    let now = new.created_at;
    tx.insert_account(&new)?;
    tx.set_email_verified(account, now)?;
    tx.insert_membership(clinic, membership, account, role, now)?;
    if role == Role::Practitioner {
        tx.upsert_practitioner(clinic, membership, "General practice", now)?;
    }
    Ok(())
}

fn seed_clinic(
    service: &Identity,
    random: &dyn Random,
    n: usize,
    patients: usize,
) -> anyhow::Result<String> {
    let err = |e: salus_domain::DomainError| anyhow::anyhow!("{e:?}");
    let now = service.now();
    let clinic = ClinicId(service.new_id());
    let staff = [
        (Role::Owner, "owner"),
        (Role::Practitioner, "doctor"),
        (Role::Receptionist, "desk"),
    ];
    let mut out = format!("Demo clinic {n} (id {clinic}):\n");
    let mut members = Vec::new();
    for (role, label) in staff {
        let password = passphrase(random);
        let email = format!("{label}@demo-{n}.salus.test");
        let account = AccountId(service.new_id());
        let membership = MembershipId(service.new_id());
        let hash = service.hasher.hash(&password, random).map_err(err)?;
        members.push((role, account, membership));
        in_tx(service.store.as_ref(), Scope::Clinic(clinic), |tx| {
            if role == Role::Owner {
                let c = salus_domain::identity::model::Clinic {
                    id: clinic,
                    name: format!("Demo Clinic {n}"),
                    plan: "business".to_owned(),
                    idle_timeout_minutes: 30,
                    require_mfa: false,
                    time_zone: "Europe/Paris".to_owned(),
                    reminder_offset_hours: 24,
                    version: 1,
                };
                tx.insert_clinic(&c, now)?;
                service.clinic_keys(tx, clinic)?;
            }
            insert_member(
                tx,
                clinic,
                (account, membership, role),
                NewAccount {
                    id: account,
                    email: email.clone(),
                    given_name: pick(random, GIVEN).to_owned(),
                    family_name: pick(random, FAMILY).to_owned(),
                    password_hash: hash.clone(),
                    created_at: now,
                },
            )
        })
        .map_err(err)?;
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
        session_id: SessionId(service.new_id()),
        role: Role::Owner,
        mfa_at: Some(now),
        mfa_enrolled: true,
        mfa_required: false,
        permissions: PermissionSet::all(),
    };
    let client = ClientInfo {
        ip: Some("seed-dev".into()),
        user_agent: Some("salus seed-dev".into()),
        request_id: None,
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
        let patient = service
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
            service.book(&actor, &booking, &client).map_err(err)?;
        }
    }
    Ok(out)
}
