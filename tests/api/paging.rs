//! Every cursor-paginated list of the contract, walked: paged to its end one item
//! at a time, each item is seen once, the last page's `next_cursor` is null (a
//! full last page's too), and cursors are opaque and refused (422) on another
//! list, in another clinic, or altered.

use base64::Engine;
use salus_tests::TestApp;
use salus_tests::contract::operations;
use salus_tests::identity::Member;
use serde_json::{Value, json};

/// Names no cursor may reveal.
const NAMES: [&str; 3] = ["Quillfeather", "Quimby", "Quintero"];

struct Seeded {
    owner: Member,
    patient: String,
    endpoint: String,
}

impl Seeded {
    /// A list's path, its `{id}` the seeded resource it belongs to.
    fn path(&self, op: &salus_tests::contract::Operation) -> String {
        if op.path.starts_with("/api/v1/webhook-endpoints/") {
            op.path_with(&self.endpoint)
        } else {
            op.path_with(&self.patient)
        }
    }
}

/// A clinic with patients, appointments, reads of a patient, sign-ins and
/// webhook endpoints (each with a delivery of every patient's creation), so
/// each list has more than one item.
async fn seed(app: &TestApp) -> Seeded {
    let owner = app.owner_with_mfa("Paging Clinic").await;
    let clinic = app.me(&owner).await["clinic"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.set_plan(&clinic, "business");
    let mut endpoints = Vec::new();
    for name in ["a", "b"] {
        let body = json!({"url": format!("https://hooks.partner.example/{name}"), "event_types": ["patient.created"]});
        let created = app
            .post_json_as(&owner.access, "/api/v1/webhook-endpoints", &body)
            .await;
        assert_eq!(created.status(), 201);
        let created: Value = created.json().await.unwrap();
        endpoints.push(created["endpoint"]["id"].as_str().unwrap().to_owned());
    }
    let mut patients = Vec::new();
    for name in NAMES {
        let body = json!({"family_name": name, "given_name": "Ada", "birth_date": "1980-02-03", "sex": "female"});
        patients.push(app.patient(&owner, body).await.id);
    }
    let practitioner = app.practitioner(&owner).await;
    for (hour, patient) in [9, 10, 11].iter().zip(&patients) {
        app.booking(
            &owner,
            json!({
                "patient_id": patient, "practitioner_id": practitioner,
                "starts_at": format!("2030-03-04T{hour:02}:00:00Z"),
                "ends_at": format!("2030-03-04T{hour:02}:30:00Z"),
                "override_hours": true
            }),
        )
        .await;
    }
    for _ in 0..2 {
        let read = app
            .get_as(&owner.access, &format!("/api/v1/patients/{}", patients[0]))
            .await;
        assert_eq!(read.status(), 200);
    }
    for _ in 0..2 {
        let failed = app.login(&owner.email, "not the password at all").await;
        assert_eq!(failed.status(), 401);
    }
    Seeded {
        owner,
        patient: patients[0].clone(),
        endpoint: endpoints[0].clone(),
    }
}

/// The list operations: GETs that take a `cursor`.
fn lists() -> Vec<salus_tests::contract::Operation> {
    let doc = salus_tests::contract::document();
    operations()
        .into_iter()
        .filter(|op| {
            op.method == "GET"
                && doc["paths"][&op.path]["get"]["parameters"]
                    .as_array()
                    .is_some_and(|p| p.iter().any(|p| p["name"] == "cursor"))
        })
        .collect()
}

async fn page(app: &TestApp, token: &str, path: &str, cursor: Option<&str>) -> (u16, Value) {
    let separator = if path.contains('?') { '&' } else { '?' };
    let mut url = format!("{path}{separator}limit=1");
    if let Some(cursor) = cursor {
        url.push_str(&format!("&cursor={cursor}"));
    }
    let response = app.get_as(token, &url).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn assert_opaque(list: &str, cursor: &str) {
    let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .unwrap_or_default();
    let decoded = String::from_utf8_lossy(&decoded).to_lowercase();
    for name in NAMES {
        let name = name.to_lowercase();
        assert!(
            !cursor.to_lowercase().contains(&name) && !decoded.contains(&name),
            "{list}: the cursor reveals {name}"
        );
    }
    for part in ["2030-03", "\"id\"", "starts_at", "family", "seq"] {
        assert!(
            !decoded.contains(part),
            "{list}: the cursor reveals its key ({part})"
        );
    }
}

#[tokio::test]
async fn every_list_pages_to_its_end_with_sealed_cursors() {
    let app = TestApp::spawn().await;
    let seeded = seed(&app).await;
    let stranger = app.owner_with_mfa("Other Paging Clinic").await;
    let lists = lists();
    assert!(lists.len() >= 6, "too few lists: {}", lists.len());
    let mut first_cursors: Vec<(String, String, String)> = Vec::new();
    for op in &lists {
        let path = seeded.path(op);
        let mut seen = std::collections::BTreeSet::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let (status, body) = page(&app, &seeded.owner.access, &path, cursor.as_deref()).await;
            assert_eq!(status, 200, "{} page {pages}: {body}", op.name());
            let items = body["items"].as_array().unwrap();
            assert!(items.len() <= 1, "{}: more than the limit", op.name());
            for item in items {
                let id = item["id"].as_str().unwrap().to_owned();
                assert!(seen.insert(id), "{}: an item came twice", op.name());
            }
            pages += 1;
            match body["next_cursor"].as_str() {
                Some(next) => {
                    assert!(!items.is_empty(), "{}: a cursor after nothing", op.name());
                    assert_opaque(&op.name(), next);
                    if pages == 1 {
                        first_cursors.push((op.name(), path.clone(), next.to_owned()));
                    }
                    cursor = Some(next.to_owned());
                }
                None => {
                    assert!(body["next_cursor"].is_null(), "{}", op.name());
                    break;
                }
            }
            assert!(pages < 500, "{}: no end", op.name());
        }
        // One item a page: the last page is full, and no empty page follows it.
        assert_eq!(
            pages,
            seen.len().max(1),
            "{}: pages and items differ",
            op.name()
        );
    }
    let paged: Vec<&str> = first_cursors.iter().map(|(n, _, _)| n.as_str()).collect();
    for name in [
        "patients",
        "appointments",
        "audit-events",
        "access-log",
        "sign-ins",
        "webhook-endpoints",
        "deliveries",
    ] {
        assert!(
            paged.iter().any(|n| n.contains(name)),
            "{name}: the seed gave it a single page ({paged:?})"
        );
    }
    for (name, path, cursor) in &first_cursors {
        let (status, _) = page(&app, &stranger.access, path, Some(cursor)).await;
        assert_eq!(status, 422, "{name}: another clinic's cursor was taken");
        let mut altered = cursor.clone().into_bytes();
        let last = altered.len() - 1;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(altered).unwrap();
        let (status, _) = page(&app, &seeded.owner.access, path, Some(&altered)).await;
        assert_eq!(status, 422, "{name}: an altered cursor was taken");
        for op in &lists {
            let other = seeded.path(op);
            if other == *path {
                continue;
            }
            let (status, body) = page(&app, &seeded.owner.access, &other, Some(cursor)).await;
            assert_eq!(
                status,
                422,
                "{name}'s cursor was taken by {}: {body}",
                op.name()
            );
            assert_eq!(body["errors"][0]["field"], "cursor");
        }
    }
}
