//! The audit export streams: exporting 100,000 events keeps the process's peak
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
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Harbour Clinic").await;
    let me: serde_json::Value = app.me(&owner).await;
    let clinic: Uuid = me["clinic"]["id"].as_str().unwrap().parse().unwrap();
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
