//! The clinic export (promise D3, portability; issue 15): an owner with a
//! recent MFA check asks for an export to their age key or to a passphrase
//! shown once; the download is an age archive of every table of the clinic
//! (found by walking the catalogue, so no table is forgotten), health fields
//! decrypted, with the staff and the audit trail, and a signed manifest that
//! `salus export verify` checks offline. Nothing of another clinic is in it,
//! nothing readable travels, and every export is audited, limited and
//! announced to the owners.

use std::io::Read;
use std::str::FromStr;

use age::secrecy::ExposeSecret;
use chrono::Duration;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use salus_tests::TestApp;
use salus_tests::catalogue::tables_with_column;
use salus_tests::identity::Member;
use serde_json::{Value, json};

/// A clinic with a record in every area, its secret words in the health
/// fields; the owner and an administrator.
async fn clinic_with_records(app: &TestApp, name: &str, secret: &str) -> (Member, Member) {
    let owner = app.owner_with_mfa(name).await;
    let practitioner = app.practitioner(&owner).await;
    let patient = app
        .patient(
            &owner,
            json!({"family_name": "Curie", "given_name": "Marie", "birth_date": "1967-11-07",
                   "sex": "female", "national_id": format!("NID-{secret}"),
                   "medical_history": {"allergies": [format!("{secret}-allergy")], "conditions": [], "medications": []}}),
        )
        .await
        .id;
    let start = salus_domain::Clock::now(app.clock.as_ref()) + Duration::days(3);
    let at =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    app.booking(
        &owner,
        json!({"patient_id": patient, "practitioner_id": practitioner, "starts_at": at(start),
               "ends_at": at(start + Duration::minutes(20)), "reason": format!("{secret}-reason")}),
    )
    .await;
    app.note(&owner, &patient, &format!("{secret}-note")).await;
    app.queue_entry(&owner, &patient).await;
    let admin = app.join_as(&owner, "administrator").await;
    (owner, admin)
}

async fn ask(app: &TestApp, who: &Member, body: &Value) -> reqwest::Response {
    app.post_json_as(&who.access, "/api/v1/clinic/exports", body)
        .await
}

async fn download(app: &TestApp, who: &Member, path: &str) -> reqwest::Response {
    app.get(path)
        .bearer_auth(&who.access)
        .send()
        .await
        .expect("request")
}

/// The archive's plaintext lines, opened with `identity`.
fn open(bytes: &[u8], identity: &dyn age::Identity) -> Vec<Value> {
    let decryptor = age::Decryptor::new(bytes).expect("an age file");
    let mut text = String::new();
    decryptor
        .decrypt(std::iter::once(identity))
        .expect("it opens")
        .read_to_string(&mut text)
        .unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[tokio::test]
async fn an_owner_exports_every_table_to_their_key_and_it_verifies_offline() {
    let app = TestApp::spawn().await;
    let (owner, admin) = clinic_with_records(&app, "Harbour Clinic", "Kestrel").await;
    clinic_with_records(&app, "Hill Clinic", "Ptarmigan").await;
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public().to_string();

    let refused = ask(
        &app,
        &admin,
        &json!({"encryption": "recipient", "recipient": recipient}),
    )
    .await;
    assert_eq!(
        refused.status(),
        403,
        "an administrator may not export the clinic"
    );
    for (body, field) in [
        (
            json!({"encryption": "recipient", "recipient": "age1notakey0000000000"}),
            "recipient",
        ),
        (json!({"encryption": "recipient"}), "recipient"),
        (
            json!({"encryption": "passphrase", "recipient": recipient}),
            "recipient",
        ),
    ] {
        let answer = ask(&app, &owner, &body).await;
        assert_eq!(answer.status(), 422, "{body}");
        let problem: Value = answer.json().await.unwrap();
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }

    let created = ask(
        &app,
        &owner,
        &json!({"encryption": "recipient", "recipient": recipient}),
    )
    .await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["encryption"], "recipient");
    assert!(created["passphrase"].is_null());
    let path = created["archive_path"].as_str().unwrap().to_owned();
    assert!(
        app.outbox(&owner.email)
            .iter()
            .any(|(s, _)| s.contains("An export of Harbour Clinic")),
        "the owners are told"
    );
    assert_eq!(download(&app, &admin, &path).await.status(), 403);

    let answer = download(&app, &owner, &path).await;
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["content-type"], "application/octet-stream");
    assert!(answer.headers().get("content-length").is_none(), "streamed");
    let bytes = answer.bytes().await.unwrap();
    for secret in ["Kestrel", "Curie", "Ptarmigan"] {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret} travels in clear"
        );
    }

    // Offline, as the clinic would: decrypt with their key, check the manifest.
    let dir = std::env::temp_dir().join(format!("salus-export-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let (file, key) = (dir.join("export.ndjson.age"), dir.join("key.txt"));
    std::fs::write(&file, &bytes).unwrap();
    std::fs::write(&key, format!("{}\n", identity.to_string().expose_secret())).unwrap();
    let trusted = salus::serve::audit_sealer(&app.config_with(&[]))
        .unwrap()
        .public_keys();
    let manifest =
        salus::export_verify::verify(&file, salus::export_verify::Key::Identity(&key), &trusted)
            .unwrap_or_else(|e| panic!("the export does not verify: {e:#}"));
    let stranger = age::x25519::Identity::generate();
    std::fs::write(&key, format!("{}\n", stranger.to_string().expose_secret())).unwrap();
    assert!(
        salus::export_verify::verify(&file, salus::export_verify::Key::Identity(&key), &trusted)
            .is_err(),
        "another key does not open it"
    );

    // Every table of the clinic is a part, as the catalogue lists them, but its
    // keys, sign-in secrets and machinery.
    let mut conn = app.db.superuser();
    let tables = tables_with_column(&mut conn, "clinic_id", &[]);
    let parts: Vec<&str> = manifest.parts.iter().map(|p| p.part.as_str()).collect();
    let secrets = [
        "public.clinic_keys",
        "public.sessions",
        "public.refresh_tokens",
        "public.mfa_challenges",
        "public.audit_chain_heads",
        "public.clinic_exports",
        "public.idempotent_requests",
    ];
    for table in &tables {
        assert_eq!(
            parts.contains(&table.as_str()),
            !secrets.contains(&table.as_str()),
            "{}: {parts:?}",
            table
        );
    }
    assert!(
        parts.contains(&"public.clinics") && parts.contains(&"staff"),
        "{parts:?}"
    );

    let lines = open(&bytes, &identity);
    let clinic = app.me(&owner).await["clinic"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let rows = |part: &str| -> Vec<&Value> {
        lines
            .iter()
            .filter(|l| l["part"] == part)
            .map(|l| &l["row"])
            .collect()
    };
    // Counts are the clinic's rows, table by table.
    for part in &manifest.parts {
        if part.part == "staff" || part.part == "public.clinics" {
            continue;
        }
        let n = diesel::sql_query(format!(
            "SELECT count(*) AS n FROM {} WHERE clinic_id = '{clinic}'",
            part.part
        ))
        .get_result::<Count>(&mut conn)
        .unwrap()
        .n;
        let expected = if part.part == "audit.events" {
            n - 1
        } else {
            n
        };
        assert_eq!(
            part.rows, expected,
            "{}: the download's own event follows it",
            part.part
        );
        assert_eq!(rows(&part.part).len() as i64, part.rows);
    }
    for line in lines.iter().filter(|l| l.get("row").is_some()) {
        let row = &line["row"];
        if let Some(owner_clinic) = row.get("clinic_id").filter(|c| !c.is_null()) {
            assert_eq!(
                owner_clinic,
                clinic.as_str(),
                "a row of another clinic: {line}"
            );
        }
    }
    assert_eq!(rows("public.clinics").len(), 1);
    assert_eq!(rows("public.clinics")[0]["id"], clinic.as_str());
    let text = lines.iter().map(Value::to_string).collect::<String>();
    assert!(!text.contains("Ptarmigan"), "nothing of the other clinic");
    assert!(
        !text.contains("token_hash")
            && !text.contains("national_id_index")
            && !text.contains("wrapped_data_key")
    );
    let patient = rows("public.patients")[0];
    assert_eq!(
        patient["national_id"], "NID-Kestrel",
        "sealed fields are opened"
    );
    assert_eq!(
        patient["medical_history"]["allergies"][0],
        "Kestrel-allergy"
    );
    assert_eq!(rows("public.appointments")[0]["reason"], "Kestrel-reason");
    assert_eq!(rows("public.clinical_notes")[0]["body"], "Kestrel-note");
    assert!(
        rows("staff")
            .iter()
            .any(|m| m["email"] == admin.email.as_str())
    );
    assert!(
        rows("audit.events")
            .iter()
            .all(|e| e["hash"].as_str().is_some_and(|h| h.starts_with("\\x")))
    );

    let status: Value = download(
        &app,
        &owner,
        &format!("/api/v1/clinic/exports/{}", created["id"].as_str().unwrap()),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(status["downloads"], 1);
    assert_eq!(
        status["last_manifest_sha256"].as_str().map(str::len),
        Some(64)
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_passphrase_is_shown_once_the_export_expires_and_exports_are_limited() {
    let app = TestApp::spawn().await;
    let (owner, _) = clinic_with_records(&app, "Harbour Clinic", "Kestrel").await;
    let created = ask(&app, &owner, &json!({"encryption": "passphrase"})).await;
    assert_eq!(created.status(), 201);
    assert_eq!(created.headers()["cache-control"], "no-store");
    let created: Value = created.json().await.unwrap();
    let passphrase = created["passphrase"].as_str().unwrap().to_owned();
    assert!(passphrase.len() >= 40);
    let path = created["archive_path"].as_str().unwrap().to_owned();
    let status_path = format!("/api/v1/clinic/exports/{}", created["id"].as_str().unwrap());
    let status: Value = download(&app, &owner, &status_path)
        .await
        .json()
        .await
        .unwrap();
    assert!(status["passphrase"].is_null(), "shown once");

    let bytes = download(&app, &owner, &path).await.bytes().await.unwrap();
    let identity = age::scrypt::Identity::new(age::secrecy::SecretString::from(passphrase.clone()));
    let lines = open(&bytes, &identity);
    assert!(lines.last().unwrap().get("manifest").is_some());
    let wrong = age::scrypt::Identity::new(age::secrecy::SecretString::from("wrong".to_owned()));
    assert!(
        age::Decryptor::new(&bytes[..])
            .unwrap()
            .decrypt(std::iter::once(&wrong as &dyn age::Identity))
            .is_err()
    );

    // Five a day.
    let recipient = age::x25519::Identity::generate().to_public().to_string();
    for _ in 0..4 {
        assert_eq!(
            ask(
                &app,
                &owner,
                &json!({"encryption": "recipient", "recipient": recipient})
            )
            .await
            .status(),
            201
        );
    }
    assert_eq!(
        ask(
            &app,
            &owner,
            &json!({"encryption": "recipient", "recipient": recipient})
        )
        .await
        .status(),
        429
    );

    // After 24 hours: refused, and the sealed passphrase is forgotten.
    app.clock.advance(Duration::hours(24));
    let mut later = owner.clone();
    app.sign_in_again(&mut later).await;
    let late = download(&app, &later, &path).await;
    assert_eq!(late.status(), 409);
    let problem: Value = late.json().await.unwrap();
    assert_eq!(problem["code"], "export_expired");
    app.closure_round().await;
    let mut conn = app.db.superuser();
    let left = diesel::sql_query("SELECT count(*) AS n FROM clinic_exports WHERE sealed_passphrase IS NOT NULL OR recipient IS NOT NULL")
        .get_result::<Count>(&mut conn)
        .unwrap()
        .n;
    assert_eq!(left, 0, "expired exports keep no way to open them");
    let _ = age::x25519::Recipient::from_str(&recipient).unwrap();
}
