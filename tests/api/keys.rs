//! `salus keys rotate-master`: every clinic's keys (and every TOTP secret) are
//! re-wrapped under the new master key, so the old key can leave the ring; and a
//! clinic's destroyed keys take everything sealed under them with them.

use base64::Engine;
use chrono::Duration;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::Bytea;
use salus::config::Config;
use salus_domain::keyring::rotation::RotationSummary;
use salus_tests::TestApp;
use salus_tests::access::MEMBER_PASSWORD;
use salus_tests::app::{Sibling, test_keys};
use salus_tests::identity::{Member, PASSWORD};
use serde_json::{Value, json};

const NATIONAL_ID: &str = "2 91 03 13 055 042 17";

#[derive(QueryableByName)]
struct Wrapped {
    #[diesel(sql_type = Bytea)]
    wrapped_data_key: Vec<u8>,
    #[diesel(sql_type = Bytea)]
    wrapped_index_key: Vec<u8>,
}

/// The key ids in the envelope headers of the clinic keys and the TOTP secret
/// (version, id length, id...), read as an attacker with database access would.
fn stored_key_ids(app: &TestApp) -> Vec<String> {
    let mut conn = app.db.superuser();
    let keys: Wrapped =
        diesel::sql_query("SELECT wrapped_data_key, wrapped_index_key FROM clinic_keys")
            .get_result(&mut conn)
            .unwrap();
    #[derive(QueryableByName)]
    struct Totp {
        #[diesel(sql_type = Bytea)]
        totp_secret: Vec<u8>,
    }
    let totp: Totp =
        diesel::sql_query("SELECT totp_secret FROM accounts WHERE totp_secret IS NOT NULL")
            .get_result(&mut conn)
            .unwrap();
    [
        keys.wrapped_data_key,
        keys.wrapped_index_key,
        totp.totp_secret,
    ]
    .iter()
    .map(|envelope| {
        let len = usize::from(envelope[1]);
        String::from_utf8(envelope[2..2 + len].to_vec()).unwrap()
    })
    .collect()
}

async fn rotate(config: Config) -> RotationSummary {
    tokio::task::spawn_blocking(move || {
        let mut lines = Vec::new();
        let summary = salus::operator::rotate_master(&config, "keys-test@ops.example", &mut |p| {
            lines.push(p);
        })
        .unwrap();
        assert!(!lines.is_empty(), "progress is reported");
        summary
    })
    .await
    .unwrap()
}

/// The national id as read through `server` by a member signing in there.
async fn national_id_through(app: &TestApp, server: &Sibling, email: &str, patient: &str) -> Value {
    let login: Value = app
        .client
        .post(format!("{}/api/v1/auth/login", server.url))
        .json(&json!({"email": email, "password": MEMBER_PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["access_token"].as_str().unwrap();
    let read = app
        .client
        .get(format!("{}/api/v1/patients/{patient}", server.url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    if read.status() != 200 {
        return json!(read.status().as_u16());
    }
    read.json::<Value>().await.unwrap()["national_id"].clone()
}

/// Signs the MFA-enrolled owner in through `server` with a fresh TOTP code.
async fn owner_mfa_status(app: &TestApp, server: &Sibling, owner: &Member) -> u16 {
    app.clock.advance(Duration::seconds(30));
    let login: Value = app
        .client
        .post(format!("{}/api/v1/auth/login", server.url))
        .json(&json!({"email": owner.email, "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(login["status"], "mfa_required", "{login}");
    let code = app.totp_code(owner.otpauth.as_deref().unwrap(), 0);
    app.client
        .post(format!("{}/api/v1/auth/mfa", server.url))
        .json(&json!({"mfa_token": login["mfa_token"], "code": code}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn rotating_the_master_key_rewraps_every_clinic_so_the_old_key_can_go() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Harbour Clinic").await;
    let doctor = app.join_as(&owner, "practitioner").await;
    let patient = app
        .patient(
            &owner,
            json!({"family_name": "Curie", "given_name": "Marie", "birth_date": "1967-11-07",
                   "sex": "female", "national_id": NATIONAL_ID}),
        )
        .await
        .id;
    let old_ring = test_keys().1.clone();
    let (old_id, _) = old_ring.split_once(':').unwrap();
    assert_eq!(stored_key_ids(&app), [old_id, old_id, old_id]);

    let new_key = format!(
        "m2:{}",
        base64::engine::general_purpose::STANDARD.encode([0x5a_u8; 32])
    );
    let rotated_ring = format!("{new_key},{old_ring}");

    // Before the rotation a ring without the old key cannot read: the checks
    // below would fail if the command only prepended the new key.
    let new_only = app.sibling(&[("MASTER_KEYS", &new_key)]).await;
    assert_eq!(
        national_id_through(&app, &new_only, &doctor.email, &patient).await,
        json!(500)
    );
    drop(new_only);

    let summary = rotate(app.config_with(&[("MASTER_KEYS", &rotated_ring)])).await;
    assert_eq!(
        (summary.clinics, summary.rewrapped, summary.totp_resealed),
        (1, 1, 1),
        "{summary:?}"
    );
    assert_eq!(stored_key_ids(&app), ["m2", "m2", "m2"]);
    let recorded = salus_tests::catalogue::count(
        &mut app.db.superuser(),
        "SELECT count(*) AS n FROM audit.events WHERE action = 'keys.master_rotated'
            AND clinic_id IS NULL AND details LIKE '%keys-test@ops.example%'
            AND details LIKE '%\"active_key\":\"m2\"%'",
    );
    assert_eq!(
        recorded, 1,
        "the rotation and who ran it are in the platform chain"
    );

    let again = rotate(app.config_with(&[("MASTER_KEYS", &rotated_ring)])).await;
    assert_eq!(
        (again.rewrapped, again.already_current, again.totp_current),
        (0, 1, 1),
        "a second run changes nothing: {again:?}"
    );

    let both = app.sibling(&[("MASTER_KEYS", &rotated_ring)]).await;
    assert_eq!(
        national_id_through(&app, &both, &doctor.email, &patient).await,
        NATIONAL_ID
    );
    drop(both);

    let new_only = app.sibling(&[("MASTER_KEYS", &new_key)]).await;
    assert_eq!(
        national_id_through(&app, &new_only, &doctor.email, &patient).await,
        NATIONAL_ID,
        "the old key is no longer needed"
    );
    assert_eq!(
        owner_mfa_status(&app, &new_only, &owner).await,
        200,
        "TOTP secrets were re-sealed too"
    );
}

#[tokio::test]
async fn destroying_a_clinics_keys_shreds_everything_sealed_under_them() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Shredded Clinic").await;
    let doctor = app.join_as(&owner, "practitioner").await.access;
    let patient = app
        .patient(
            &owner,
            json!({"family_name": "Noether", "given_name": "Emmy", "birth_date": "1982-03-23",
                   "sex": "female", "national_id": NATIONAL_ID}),
        )
        .await
        .id;
    let path = format!("/api/v1/patients/{patient}");
    let before: Value = app.get_as(&doctor, &path).await.json().await.unwrap();
    assert_eq!(before["national_id"], NATIONAL_ID, "{before}");

    let me: Value = app
        .get_as(&owner.access, "/api/v1/me")
        .await
        .json()
        .await
        .unwrap();
    let clinic = salus_domain::ids::ClinicId(me["clinic"]["id"].as_str().unwrap().parse().unwrap());
    let services = app.services();
    let destroyed =
        tokio::task::spawn_blocking(move || services.seeding.destroy_clinic_keys(clinic).unwrap())
            .await
            .unwrap();
    assert!(destroyed, "the clinic had keys");
    let left = app.db.superuser().batch_execute(&format!(
        "DO $$ BEGIN IF EXISTS (SELECT 1 FROM clinic_keys WHERE clinic_id = '{}') \
         THEN RAISE 'keys left'; END IF; END $$",
        clinic.0
    ));
    assert!(
        left.is_ok(),
        "no wrapped key of the clinic is left: {left:?}"
    );

    let after: Value = app.get_as(&doctor, &path).await.json().await.unwrap();
    assert_eq!(after["national_id"], Value::Null, "{after}");
    assert_eq!(
        after["unavailable_fields"],
        json!(["national_id"]),
        "{after}"
    );
}
