//! Optimistic concurrency on every mutable resource, walked over the contract:
//! every PUT and PATCH (and every state change) takes `If-Match`, answers 428
//! without it, 412 naming the current version with a stale one, and 400 with one
//! that is not an ETag; reads and writes send `ETag`. Concurrent changes made
//! against one version: exactly one wins; concurrent identical state changes are
//! idempotent (no spurious 412).

use futures_util::future::join_all;
use salus_tests::TestApp;
use salus_tests::contract::{document, operations};
use salus_tests::fixtures::Patient;
use salus_tests::identity::Member;
use serde_json::{Value, json};

/// One resource of each kind, in a clinic on the business plan.
struct Fixture {
    owner: Member,
    ids: Vec<(&'static str, String)>,
}

impl Fixture {
    fn id(&self, kind: &str) -> String {
        self.ids
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, id)| id.clone())
            .unwrap_or_else(|| panic!("no {kind} in the fixture"))
    }
}

async fn created(response: reqwest::Response) -> Value {
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{status} {body}");
    body
}

/// A new patient `name`.
async fn patient(app: &TestApp, owner: &Member, name: &str) -> Patient {
    app.patient(owner, json!({"family_name": name, "given_name": "Ada", "birth_date": "1970-01-01", "sex": "female"}))
        .await
}

async fn fixture(app: &TestApp) -> Fixture {
    let owner = app.owner_with_mfa("Concurrency Clinic").await;
    let me = app.me(&owner).await;
    app.set_plan(me["clinic"]["id"].as_str().unwrap(), "business");
    let receptionist = app.join_as(&owner, "receptionist").await;
    let nurse = app.join_as(&owner, "nurse").await;
    let membership_of = |member: &Member| {
        let email = member.email.clone();
        let app = &app;
        let owner = &owner;
        async move {
            let staff: Value = app
                .get_as(&owner.access, "/api/v1/staff")
                .await
                .json()
                .await
                .unwrap();
            staff["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["email"] == email.as_str())
                .unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let active_member = membership_of(&receptionist).await;
    let inactive_member = membership_of(&nurse).await;
    let send = |method: reqwest::Method, path: String, body: Option<Value>| {
        let request = app
            .client
            .request(method, format!("{}{path}", app.url))
            .bearer_auth(&owner.access)
            .header("if-match", "*");
        let request = match body {
            Some(body) => request.json(&body),
            None => request,
        };
        async move { created(request.send().await.unwrap()).await }
    };
    send(
        reqwest::Method::POST,
        format!("/api/v1/staff/{inactive_member}/deactivate"),
        None,
    )
    .await;
    let owner_membership = app.practitioner(&owner).await;
    let active_patient = patient(app, &owner, "Active").await.id;
    let archived_patient = patient(app, &owner, "Archived").await.id;
    send(
        reqwest::Method::POST,
        format!("/api/v1/patients/{archived_patient}/archive"),
        None,
    )
    .await;
    let appointment = app
        .booking(
            &owner,
            json!({
                "patient_id": active_patient, "practitioner_id": owner_membership,
                "starts_at": "2030-06-03T09:00:00Z", "ends_at": "2030-06-03T09:30:00Z",
                "override_hours": true
            }),
        )
        .await;
    let note = app.note(&owner, &active_patient, "A draft.").await;
    let entry = app.queue_entry(&owner, &active_patient).await;
    let role = send(
        reqwest::Method::POST,
        "/api/v1/roles".to_owned(),
        Some(json!({"name": "Front desk lead", "permissions": ["patients.read"]})),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let webhook_endpoint = send(
        reqwest::Method::POST,
        "/api/v1/webhook-endpoints".to_owned(),
        Some(json!({"url": "https://hooks.partner.example/salus", "event_types": ["patient.created"]})),
    )
    .await["endpoint"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    Fixture {
        owner,
        ids: vec![
            ("owner_membership", owner_membership),
            ("active_member", active_member),
            ("inactive_member", inactive_member),
            ("active_patient", active_patient),
            ("archived_patient", archived_patient),
            ("appointment", appointment),
            ("note", note),
            ("entry", entry),
            ("role", role),
            ("webhook_endpoint", webhook_endpoint),
        ],
    }
}

/// The resource an operation's `{id}` names in the fixture.
fn target(fixture: &Fixture, path: &str) -> String {
    let kind = match path {
        p if p.ends_with("/restore") => "archived_patient",
        p if p.starts_with("/api/v1/patients/") => "active_patient",
        p if p.starts_with("/api/v1/appointments/") => "appointment",
        p if p.starts_with("/api/v1/notes/") => "note",
        p if p.starts_with("/api/v1/queue/") => "entry",
        p if p.starts_with("/api/v1/roles/") => "role",
        p if p.ends_with("/reactivate") => "inactive_member",
        p if p.starts_with("/api/v1/staff/") => "active_member",
        p if p.starts_with("/api/v1/practitioners/") => "owner_membership",
        p if p.starts_with("/api/v1/webhook-endpoints/") => "webhook_endpoint",
        other => panic!("{other}: which resource?"),
    };
    fixture.id(kind)
}

/// The operation's example body with the fixture's ids in its id fields.
fn body_for(fixture: &Fixture, doc: &Value, schema: &Value) -> Value {
    let name = schema["$ref"].as_str().unwrap_or_default();
    let name = name.trim_start_matches("#/components/schemas/");
    let mut body = doc["components"]["schemas"][name]["examples"][0].clone();
    for (field, kind) in [
        ("patient_id", "active_patient"),
        ("practitioner_id", "owner_membership"),
        ("appointment_id", "appointment"),
        ("membership_id", "active_member"),
    ] {
        if body.get(field).is_some_and(|v| !v.is_null()) {
            body[field] = json!(fixture.id(kind));
        }
    }
    if body.get("role_ids").is_some() {
        body["role_ids"] = json!([fixture.id("role")]);
    }
    body
}

#[tokio::test]
async fn every_change_of_a_mutable_resource_takes_if_match() {
    let app = TestApp::spawn().await;
    let fixture = fixture(&app).await;
    let doc = document();
    let mut checked = Vec::new();
    for op in operations() {
        let method = op.method.to_lowercase();
        let declared = &doc["paths"][&op.path][&method];
        let takes_if_match = declared["parameters"].as_array().is_some_and(|p| {
            p.iter()
                .any(|p| p["in"] == "header" && p["name"] == "If-Match")
        });
        if matches!(op.method.as_str(), "PUT" | "PATCH") {
            assert!(
                takes_if_match,
                "{} changes a resource without If-Match",
                op.name()
            );
        }
        if !takes_if_match {
            continue;
        }
        let success = declared["responses"]
            .as_object()
            .unwrap()
            .iter()
            .find(|(status, _)| status.starts_with('2'))
            .map(|(_, r)| r.clone())
            .unwrap();
        assert!(
            success["headers"].get("ETag").is_some(),
            "{}: its answer declares no ETag",
            op.name()
        );
        let path = if op.path.contains('{') {
            op.path_with(&target(&fixture, &op.path))
        } else {
            op.path.clone()
        };
        let body = op
            .body
            .as_ref()
            .map(|schema| body_for(&fixture, &doc, schema));
        for (case, if_match, status, code) in [
            ("without If-Match", None, 428, "precondition_required"),
            (
                "with a stale version",
                Some("\"v999999\""),
                412,
                "precondition_failed",
            ),
            (
                "with something else",
                Some("abc"),
                400,
                "malformed_if_match",
            ),
        ] {
            let method = reqwest::Method::from_bytes(op.method.as_bytes()).unwrap();
            let mut request = app
                .client
                .request(method, format!("{}{path}", app.url))
                .bearer_auth(&fixture.owner.access);
            if let Some(value) = if_match {
                request = request.header("if-match", value);
            }
            if let Some(body) = &body {
                request = request.json(body);
            }
            let response = request.send().await.unwrap();
            let got = response.status().as_u16();
            let answer: Value = response.json().await.unwrap_or(Value::Null);
            assert_eq!(got, status, "{} {case}: {answer}", op.name());
            assert_eq!(answer["code"], code, "{} {case}", op.name());
            if status == 412 {
                assert!(
                    answer["detail"]
                        .as_str()
                        .unwrap()
                        .contains("now at version"),
                    "{}: the 412 does not name the current version: {answer}",
                    op.name()
                );
            }
        }
        checked.push(op.name());
    }
    assert!(
        checked.len() >= 18,
        "only {} operations take If-Match: {checked:?}",
        checked.len()
    );
}

#[tokio::test]
async fn of_changes_made_against_one_version_exactly_one_wins() {
    let app = TestApp::spawn_with(&[("HTTP_WORKERS", "4"), ("DB_POOL_SIZE", "8")]).await;
    let owner = app.owner_with_mfa("Race Clinic").await;
    let Patient { id, etag } = patient(&app, &owner, "Race").await;
    let updates = (0..12).map(|n| {
        app.client
            .put(format!("{}/api/v1/patients/{id}", app.url))
            .bearer_auth(&owner.access)
            .header("if-match", &etag)
            .json(&json!({"family_name": format!("Race {n}"), "given_name": "Ada", "birth_date": "1970-01-01", "sex": "female"}))
            .send()
    });
    let statuses: Vec<u16> = join_all(updates)
        .await
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 412).count(),
        11,
        "{statuses:?}"
    );
}

#[tokio::test]
async fn concurrent_identical_state_changes_all_succeed() {
    let app = TestApp::spawn_with(&[("HTTP_WORKERS", "4"), ("DB_POOL_SIZE", "8")]).await;
    let owner = app.owner_with_mfa("Idempotent Clinic").await;
    let Patient { id, etag } = patient(&app, &owner, "Twelve").await;
    for action in ["archive", "restore"] {
        let current = app
            .get_as(&owner.access, &format!("/api/v1/patients/{id}"))
            .await;
        let etag_now = current.headers()["etag"].to_str().unwrap().to_owned();
        let calls = (0..12).map(|_| {
            app.client
                .post(format!("{}/api/v1/patients/{id}/{action}", app.url))
                .bearer_auth(&owner.access)
                .header("if-match", &etag_now)
                .send()
        });
        let statuses: Vec<u16> = join_all(calls)
            .await
            .into_iter()
            .map(|r| r.unwrap().status().as_u16())
            .collect();
        assert!(statuses.iter().all(|s| *s == 200), "{action}: {statuses:?}");
    }
    assert_ne!(etag, "", "the create sent an ETag");
}
