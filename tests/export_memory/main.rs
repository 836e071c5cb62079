//! The exports stream: exporting 100,000 audit events, or a clinic of 100,000
//! patients (its archive built, encrypted and sent as it is read), keeps the process's peak
//! heap (server and client share it here) far below the size of the export.
//! Alone in its own test binary, so no other test's allocations count.

// Test code: a failed set-up or assertion should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::Utc;
use diesel::prelude::*;
use peak_alloc::PeakAlloc;
use salus_domain::audit::chain::{link, stored_time};
use salus_domain::audit::{NewAuditEvent, Outcome};
use salus_domain::ids::{AccountId, AuditEventId, ClinicId};
use salus_persistence::schema::{audit_chain_heads as heads, events};
use salus_tests::TestApp;
use uuid::Uuid;

#[global_allocator]
static HEAP: PeakAlloc = PeakAlloc;

const EVENTS: usize = 100_000;
const BATCH: usize = 2_000;
const MIB: usize = 1024 * 1024;

/// The tests take turns: each measures the one heap of the process.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Appends `EVENTS` valid events to the clinic's chain, batch by batch (so the
/// test itself never holds them all).
fn seed(conn: &mut PgConnection, clinic: Uuid) {
    let (mut seq, mut hash): (i64, Vec<u8>) = heads::table
        .find(clinic)
        .select((heads::seq, heads::hash))
        .first(conn)
        .unwrap();
    for start in (0..EVENTS).step_by(BATCH) {
        let mut rows = Vec::with_capacity(BATCH);
        for i in start..(start + BATCH).min(EVENTS) {
            let e = link(
                seq,
                &hash,
                NewAuditEvent {
                    id: AuditEventId(Uuid::now_v7()),
                    clinic_id: Some(ClinicId(clinic)),
                    occurred_at: stored_time(Utc::now()),
                    account_id: Some(AccountId(Uuid::now_v7())),
                    membership_id: None,
                    session_id: None,
                    client_ip: Some("198.51.100.7".into()),
                    user_agent: Some(
                        "export-memory-test/1.0 (a user agent of realistic length)".into(),
                    ),
                    request_id: Some(Uuid::now_v7().to_string()),
                    action: "patient.clinical_read".into(),
                    resource_type: Some("patient".into()),
                    resource_id: Some(Uuid::now_v7()),
                    outcome: Outcome::Success,
                    details: format!("{{\"n\":{i}}}"),
                },
            );
            seq = e.seq;
            hash.clone_from(&e.hash);
            let ev = e.event;
            rows.push((
                events::chain_id.eq(e.chain_id.0),
                events::seq.eq(e.seq),
                events::id.eq(ev.id.0),
                events::clinic_id.eq(ev.clinic_id.map(|c| c.0)),
                events::occurred_at.eq(ev.occurred_at),
                events::account_id.eq(ev.account_id.map(|a| a.0)),
                events::client_ip.eq(ev.client_ip),
                events::user_agent.eq(ev.user_agent),
                events::request_id.eq(ev.request_id),
                events::action.eq(ev.action),
                events::resource_type.eq(ev.resource_type),
                events::resource_id.eq(ev.resource_id),
                events::outcome.eq(ev.outcome.as_str()),
                events::details.eq(ev.details),
                events::prev_hash.eq(e.prev_hash),
                events::hash.eq(e.hash),
            ));
        }
        diesel::insert_into(events::table)
            .values(rows)
            .execute(conn)
            .unwrap();
    }
    diesel::update(heads::table.find(clinic))
        .set((heads::seq.eq(seq), heads::hash.eq(hash)))
        .execute(conn)
        .unwrap();
}

#[tokio::test]
async fn exporting_100_000_events_keeps_memory_flat() {
    let _turn = ONE_AT_A_TIME.lock().await;
    // The test appends to the chain itself: the sequencer must not at once.
    let app = TestApp::spawn_with(&[("AUDIT_SEQUENCE_MILLIS", "0")]).await;
    let owner = app.owner_with_mfa("Harbour Clinic").await;
    let me: serde_json::Value = app.me(&owner).await;
    let clinic: Uuid = me["clinic"]["id"].as_str().unwrap().parse().unwrap();
    app.services().audit.sequence_everything().unwrap();
    let mut su = app.db.superuser();
    tokio::task::spawn_blocking(move || seed(&mut su, clinic))
        .await
        .unwrap();

    let baseline = HEAP.current_usage();
    HEAP.reset_peak_usage();
    let mut response = app
        .get("/api/v1/audit-events/export")
        .bearer_auth(&owner.access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let (mut bytes, mut lines) = (0usize, 0usize);
    while let Some(chunk) = response.chunk().await.unwrap() {
        bytes += chunk.len();
        lines += chunk.iter().filter(|b| **b == b'\n').count();
    }
    let peak = HEAP.peak_usage().saturating_sub(baseline);
    assert!(lines > EVENTS, "{lines} lines");
    assert!(bytes > 40 * MIB, "the export is {} MiB", bytes / MIB);
    assert!(
        peak < 16 * MIB,
        "exporting {} MiB raised the heap by {} MiB",
        bytes / MIB,
        peak / MIB
    );
}

/// Patients of the clinic whose export is measured.
const PATIENTS: usize = 100_000;

#[tokio::test]
async fn exporting_a_100_000_patient_clinic_keeps_memory_flat() {
    use salus_domain::ids::ClinicId;
    use salus_domain::ports::patients::{MedicalHistory, PatientFields, Sex};
    let _turn = ONE_AT_A_TIME.lock().await;
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Harbour Clinic").await;
    let me: serde_json::Value = app.me(&owner).await;
    let clinic = ClinicId(me["clinic"]["id"].as_str().unwrap().parse().unwrap());
    let services = app.services();
    tokio::task::spawn_blocking(move || {
        for start in (0..PATIENTS).step_by(BATCH) {
            let batch: Vec<_> = (start..(start + BATCH).min(PATIENTS))
                .map(|p| {
                    (
                        PatientFields {
                            family_name: format!("Family{p}"),
                            given_name: "Ada".into(),
                            birth_date: chrono::NaiveDate::from_ymd_opt(1980, 1, 1).unwrap(),
                            sex: Sex::Female,
                            national_id: Some(format!("NID{p:08}")),
                            phone: None,
                            email: None,
                            address: None,
                            emergency_contact: None,
                            preferred_language: None,
                            reminder_email: false,
                            reminder_sms: false,
                        },
                        Some(MedicalHistory {
                            allergies: vec!["synthetic allergy".into()],
                            conditions: vec![format!("synthetic condition {}", p % 17)],
                            medications: Vec::new(),
                            notes: None,
                        }),
                    )
                })
                .collect();
            services.seeding.insert_patients(clinic, &batch).unwrap();
        }
    })
    .await
    .unwrap();
    let recipient = age::x25519::Identity::generate().to_public().to_string();
    let created: serde_json::Value = app
        .post_json_as(
            &owner.access,
            "/api/v1/clinic/exports",
            &serde_json::json!({"encryption": "recipient", "recipient": recipient}),
        )
        .await
        .json()
        .await
        .unwrap();
    let path = created["archive_path"].as_str().unwrap().to_owned();

    let baseline = HEAP.current_usage();
    HEAP.reset_peak_usage();
    let mut response = app
        .get(&path)
        .bearer_auth(&owner.access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut bytes = 0usize;
    while let Some(chunk) = response.chunk().await.unwrap() {
        bytes += chunk.len();
    }
    let peak = HEAP.peak_usage().saturating_sub(baseline);
    assert!(bytes > 30 * MIB, "the archive is {} MiB", bytes / MIB);
    assert!(
        peak < 16 * MIB,
        "exporting {} MiB raised the heap by {} MiB",
        bytes / MIB,
        peak / MIB
    );
    let status: serde_json::Value = app
        .get(&format!(
            "/api/v1/clinic/exports/{}",
            created["id"].as_str().unwrap()
        ))
        .bearer_auth(&owner.access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["downloads"], 1, "the whole archive went out");
}
