//! `salus seed-bench`: a large synthetic data set for `make bench`. Refused in
//! staging and production; every name, date and number is generated.
//!
//! Clinics, their keys, accounts and appointments go through the normal domain
//! code; patients are sealed by the same code as `create_patient`
//! (`Services::new_stored_patient`) and inserted in multi-row batches, one
//! transaction per clinic with `app.clinic_id` set (row-level security applies: it
//! connects with `DATABASE_URL`, the API role). Each clinic gets an owner and a
//! practitioner who signs in without MFA; all bench accounts share one random
//! password, hashed once. It writes what the load generator needs (clinic ids,
//! practitioner ids, a sample of patient ids, the logins) as JSON.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Duration as Span, NaiveDate, Timelike, Utc};
use salus_domain::access::role_permissions;
use salus_domain::actor::ActorKind;
use salus_domain::identity::model::{ClientInfo, Clinic, Role};
use salus_domain::ids::{AccountId, ClinicId, MembershipId, SessionId};
use salus_domain::ports::appointments::NewBooking;
use salus_domain::ports::patients::{MedicalHistory, PatientFields, Sex};
use salus_domain::services::Services;
use salus_domain::{Actor, DomainError};
use salus_persistence::PoolSettings;
use serde_json::{Value, json};

use crate::config::Config;
use crate::operator::command_service;
use crate::random::OsRandom;
use crate::seed::{FAMILY, GIVEN, new_member, passphrase};

/// How much to seed.
#[derive(Debug, Clone, Copy)]
pub struct BenchSize {
    /// Clinics.
    pub clinics: usize,
    /// Patients per clinic.
    pub patients: usize,
    /// Appointments per clinic (booked through the domain service).
    pub appointments: usize,
    /// Patient ids per clinic written out for the load generator.
    pub sample: usize,
    /// The number of the first clinic (`Bench Clinic N`, `owner@bench-N...`), so a
    /// second seeding adds clinics beside the first's.
    pub first: usize,
}

/// Patients sealed and inserted per transaction step.
const BATCH: usize = 2000;

fn err(e: DomainError) -> anyhow::Error {
    anyhow::anyhow!("{e:?}")
}

/// Seeds `size` and writes the load generator's data to `out`; returns it too.
pub fn seed(config: &Config, size: BenchSize, out: &Path) -> anyhow::Result<Value> {
    anyhow::ensure!(
        !config.app_env.is_deployed(),
        "seed-bench creates synthetic data for benchmarks only; refused with APP_ENV={}",
        config.app_env.as_str()
    );
    let started = Instant::now();
    let service = command_service(
        config,
        PoolSettings {
            max_size: 1,
            statement_timeout_ms: 600_000,
            checkout_timeout: Duration::from_secs(10),
        },
    )?;
    let random = OsRandom;
    let password = passphrase(&random);
    let hash = service.seeding.hash_password(&password).map_err(err)?;
    let argon2_seconds = time_verify(&service, &password, &hash)?;
    let mut clinics = Vec::with_capacity(size.clinics);
    for (i, n) in (size.first..size.first + size.clinics).enumerate() {
        clinics.push(seed_clinic(&service, n, size, &hash).with_context(|| format!("clinic {n}"))?);
        let done = (i + 1) * size.patients;
        println!(
            "salus: seed-bench: {}/{} clinics, {done} patients, {:.0} s",
            i + 1,
            size.clinics,
            started.elapsed().as_secs_f64()
        );
    }
    let data = json!({
        "password": password,
        "argon2_verify_seconds": argon2_seconds,
        "seed_seconds": started.elapsed().as_secs_f64(),
        "patients_per_clinic": size.patients,
        "appointments_per_clinic": size.appointments,
        "clinics": clinics,
    });
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(out, serde_json::to_vec_pretty(&data)?)
        .with_context(|| format!("cannot write {}", out.display()))?;
    Ok(data)
}

/// The median of five argon2 verifications with the configured parameters.
fn time_verify(services: &Services, password: &str, hash: &str) -> anyhow::Result<f64> {
    let mut times = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        let verified = services.seeding.verify_password(password, hash);
        times.push(start.elapsed().as_secs_f64());
        anyhow::ensure!(verified, "the bench password does not verify");
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

/// One staff account and membership.
fn add_member(
    services: &Services,
    clinic: ClinicId,
    role: Role,
    email: String,
    hash: &str,
) -> Result<(AccountId, MembershipId), DomainError> {
    let names = (GIVEN[usize::from(role == Role::Owner)], FAMILY[0]);
    let member = new_member(services, role, email, names, hash.to_owned());
    let account = services.seeding.add_member(clinic, &member)?;
    Ok((account, member.membership))
}

fn patient_fields(clinic: usize, p: usize) -> (PatientFields, MedicalHistory) {
    let birth = NaiveDate::from_ymd_opt(1940, 1, 1).unwrap_or_default()
        + Span::days(i64::try_from(p * 7919 % 29_000).unwrap_or(0));
    let fields = PatientFields {
        family_name: FAMILY[p % FAMILY.len()].to_owned(),
        given_name: GIVEN[(p / FAMILY.len()) % GIVEN.len()].to_owned(),
        birth_date: birth,
        sex: if p.is_multiple_of(2) {
            Sex::Female
        } else {
            Sex::Male
        },
        national_id: Some(format!("BENCH{clinic:04}{p:07}")),
        phone: Some(format!("+3361{clinic:04}{:04}", p % 10_000)),
        email: None,
        address: None,
        emergency_contact: None,
        preferred_language: Some("fr".into()),
        reminder_email: false,
        reminder_sms: p.is_multiple_of(3),
    };
    let history = MedicalHistory {
        allergies: vec!["synthetic allergy".into()],
        conditions: vec![format!("synthetic condition {}", p % 17)],
        medications: Vec::new(),
        notes: None,
    };
    (fields, history)
}

fn seed_clinic(
    services: &Services,
    n: usize,
    size: BenchSize,
    hash: &str,
) -> anyhow::Result<Value> {
    let now = services.seeding.now();
    let clinic = ClinicId(services.seeding.new_id());
    services
        .seeding
        .create_clinic(&Clinic {
            id: clinic,
            name: format!("Bench Clinic {n}"),
            plan: "business".to_owned(),
            idle_timeout_minutes: 60,
            require_mfa: false,
            time_zone: "Europe/Paris".to_owned(),
            reminder_offset_hours: 24,
            record_retention_years: 20,
            archive_after_years: 5,
            purpose_of_use_required: false,
            version: 1,
        })
        .map_err(err)?;
    add_member(
        services,
        clinic,
        Role::Owner,
        format!("owner@bench-{n}.salus.test"),
        hash,
    )
    .map_err(err)?;
    let email = format!("doctor@bench-{n}.salus.test");
    let (account, practitioner) =
        add_member(services, clinic, Role::Practitioner, email.clone(), hash).map_err(err)?;

    let step = (size.patients / size.sample.max(1)).max(1);
    let mut sample = Vec::new();
    let mut ids = Vec::new();
    let mut p = 0;
    while p < size.patients {
        let end = (p + BATCH).min(size.patients);
        let rows: Vec<_> = (p..end)
            .map(|i| {
                let (fields, history) = patient_fields(n, i);
                (fields, Some(history))
            })
            .collect();
        let batch = services
            .seeding
            .insert_patients(clinic, &rows)
            .map_err(err)?;
        for (i, id) in (p..end).zip(batch) {
            if i % step == 0 && sample.len() < size.sample {
                sample.push(id);
            }
            if ids.len() < size.appointments {
                ids.push(id);
            }
        }
        p = end;
    }

    let actor = Actor {
        account_id: account,
        clinic_id: clinic,
        membership_id: practitioner,
        session_id: SessionId(services.seeding.new_id()),
        kind: ActorKind::Member(Role::Practitioner),
        mfa_at: None,
        mfa_enrolled: false,
        mfa_required: false,
        permissions: role_permissions(Role::Practitioner),
        purpose_of_use_required: false,
    };
    let client = ClientInfo {
        ip: Some("seed-bench".into()),
        user_agent: Some("salus seed-bench".into()),
        request_id: None,
        purpose_of_use: None,
    };
    let first = tomorrow_at_eight(now);
    for (k, patient) in ids.iter().enumerate() {
        let starts_at = first + Span::minutes(30 * i64::try_from(k).unwrap_or(0));
        let booking = NewBooking {
            patient: *patient,
            practitioner,
            starts_at,
            ends_at: starts_at + Span::minutes(20),
            reason: Some("Synthetic bench visit".into()),
            override_hours: false,
        };
        services
            .appointments
            .book(&actor, &booking, &client)
            .map_err(err)?;
    }
    Ok(json!({
        "id": clinic.uuid(),
        "email": email,
        "practitioner_id": practitioner.uuid(),
        "patients": sample,
    }))
}

fn tomorrow_at_eight(now: DateTime<Utc>) -> DateTime<Utc> {
    now.with_hour(8)
        .and_then(|t| t.with_minute(0))
        .and_then(|t| t.with_second(0))
        .unwrap_or(now)
        + Span::days(1)
}
