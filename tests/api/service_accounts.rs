//! Service accounts and their API keys (issue 19), through the real API: a key
//! acts with its account's permissions and nothing more, never on a member's
//! own routes nor a step-up action; what it may be given is bounded (grantable
//! permissions, a subset of the creator's, the business plan, a step-up);
//! revocation, rotation and expiry hold from the next request; the allowed
//! networks are enforced; each action is audited with the account as actor;
//! its last use is recorded; its managers are told 14 days before it ends.

use chrono::Duration;
use salus_tests::TestApp;
use salus_tests::identity::Member;
use serde_json::{Value, json};

/// A business clinic's owner, with a fresh MFA check (creation needs a step-up).
async fn business_owner(app: &TestApp, name: &str) -> (Member, String) {
    let owner = app.owner_with_mfa(name).await;
    let clinic = app.me(&owner).await["clinic"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.set_plan(&clinic, "business");
    (owner, clinic)
}

/// Creates a service account as `owner`: its answer (account and key).
async fn create(app: &TestApp, owner: &Member, body: Value) -> Value {
    let answer = app
        .post_json_as(&owner.access, "/api/v1/service-accounts", &body)
        .await;
    let status = answer.status();
    let body: Value = answer.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    body
}

fn secret(created: &Value) -> String {
    created["key"]["secret"].as_str().unwrap().to_owned()
}

fn patient(family_name: &str) -> Value {
    json!({"family_name": family_name, "given_name": "Ada", "birth_date": "1980-02-03", "sex": "female"})
}

/// The status and problem code of `key` creating a patient.
async fn create_patient(app: &TestApp, key: &str) -> (u16, Value) {
    let answer = app
        .post_json_as(key, "/api/v1/patients", &patient("Lovelace"))
        .await;
    (answer.status().as_u16(), answer.json().await.unwrap())
}

async fn status_of_get(app: &TestApp, key: &str, path: &str) -> (u16, Value) {
    let answer = app.get_as(key, path).await;
    let status = answer.status().as_u16();
    let body = answer.json().await.unwrap_or(Value::Null);
    (status, body)
}

#[tokio::test]
async fn a_key_acts_with_its_accounts_permissions_and_nothing_more() {
    let app = TestApp::spawn().await;
    let (owner, _) = business_owner(&app, "Partner Clinic").await;
    let created = create(
        &app,
        &owner,
        json!({"name": "Booking site", "permissions": ["patients.read", "patients.create"]}),
    )
    .await;
    let key = secret(&created);
    let account = created["service_account"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(key.starts_with("salus_sk_"), "{key}");
    assert_eq!(
        created["service_account"]["permissions"],
        json!(["patients.read", "patients.create"])
    );
    assert_eq!(
        created["service_account"]["keys"][0]["id"],
        created["key"]["key"]["id"]
    );

    let (status, body) = create_patient(&app, &key).await;
    assert_eq!(status, 201, "{body}");
    let patient_id = body["id"].as_str().unwrap().to_owned();
    let (status, _) = status_of_get(&app, &key, &format!("/api/v1/patients/{patient_id}")).await;
    assert_eq!(status, 200);

    // What it was not given, a member's own routes, and what needs a step-up.
    let (status, body) = status_of_get(&app, &key, "/api/v1/appointments").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("permission_denied")),
        "{body}"
    );
    for path in ["/api/v1/me", "/api/v1/me/sessions", "/api/v1/me/sign-ins"] {
        let (status, body) = status_of_get(&app, &key, path).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (403, Some("service_account_not_allowed")),
            "{path}: {body}"
        );
    }
    let (status, body) = status_of_get(&app, &key, "/api/v1/service-accounts").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("permission_denied")),
        "{body}"
    );
    let step_up = app
        .post_json_as(&key, "/api/v1/auth/logout-others", &json!({}))
        .await;
    assert_eq!(step_up.status(), 403);

    // A key that is not the stored one, or not a key at all.
    let mut forged = key.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == '0' { '1' } else { '0' });
    for bad in [forged.as_str(), "salus_sk_nonsense"] {
        let (status, _) = status_of_get(&app, bad, "/api/v1/patients").await;
        assert_eq!(status, 401, "{bad}");
    }

    // Its actions are audited with the account as actor; its last use recorded.
    let events: Value = app
        .get_as(&owner.access, "/api/v1/audit-events?action=patient.created")
        .await
        .json()
        .await
        .unwrap();
    let by_key: Vec<&Value> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["resource_id"] == json!(patient_id))
        .collect();
    assert_eq!(by_key.len(), 1, "{events}");
    assert_eq!(by_key[0]["account_id"], json!(account));
    assert_eq!(by_key[0]["session_id"], created["key"]["key"]["id"]);
    assert_eq!(by_key[0]["details"]["actor_kind"], "service_account");
    let read: Value = app
        .get_as(
            &owner.access,
            &format!("/api/v1/service-accounts/{account}"),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(read["keys"][0]["last_used_at"].is_string(), "{read}");
    assert_eq!(read["keys"][0]["last_used_ip"], "127.0.0.1");
    assert!(!read.to_string().contains(&key[key.len() - 64..]));
}

#[tokio::test]
async fn what_an_account_may_be_given_is_bounded() {
    let app = TestApp::spawn().await;
    let (owner, clinic) = business_owner(&app, "Bounded Clinic").await;
    for (permissions, code) in [
        (json!(["staff.invite"]), "not_grantable"),
        (json!(["integrations.manage"]), "not_grantable"),
        (json!(["clinical.write"]), "not_grantable"),
        (json!(["audit.export"]), "not_grantable"),
        (json!(["patients.read", "patients.read"]), "duplicate"),
    ] {
        let answer = app
            .post_json_as(
                &owner.access,
                "/api/v1/service-accounts",
                &json!({"name": "Too much", "permissions": permissions}),
            )
            .await;
        assert_eq!(answer.status(), 422, "{permissions}");
        let body: Value = answer.json().await.unwrap();
        assert_eq!(body["errors"][0]["code"], code, "{body}");
    }
    for (body, field) in [
        (
            json!({"name": "N", "permissions": ["patients.read"], "expires_in_days": 366}),
            "expires_in_days",
        ),
        (
            json!({"name": "N", "permissions": ["patients.read"], "allowed_networks": ["10.0.0.0/33"]}),
            "allowed_networks",
        ),
    ] {
        let answer = app
            .post_json_as(&owner.access, "/api/v1/service-accounts", &body)
            .await;
        assert_eq!(answer.status(), 422, "{body}");
        let problem: Value = answer.json().await.unwrap();
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }

    // An administrator manages integrations but cannot give what they lack.
    let mut admin = app.join_as(&owner, "administrator").await;
    app.enrol_mfa(&mut admin).await;
    let answer = app
        .post_json_as(
            &admin.access,
            "/api/v1/service-accounts",
            &json!({"name": "Lab", "permissions": ["clinical.read"]}),
        )
        .await;
    assert_eq!(answer.status(), 403);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["code"], "insufficient_permissions", "{body}");
    create(
        &app,
        &admin,
        json!({"name": "Lab", "permissions": ["patients.read"]}),
    )
    .await;

    // Business plan only, to create and to call.
    let created = create(
        &app,
        &owner,
        json!({"name": "Lab", "permissions": ["patients.read"]}),
    )
    .await;
    app.set_plan(&clinic, "pro");
    let (status, body) = status_of_get(&app, &secret(&created), "/api/v1/patients").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("plan_upgrade_required")),
        "{body}"
    );
    let answer = app
        .post_json_as(
            &owner.access,
            "/api/v1/service-accounts",
            &json!({"name": "Lab", "permissions": ["patients.read"]}),
        )
        .await;
    assert_eq!(answer.status(), 403);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["code"], "plan_upgrade_required", "{body}");

    // No step-up, no service account: the owner's MFA check is 11 minutes old.
    app.set_plan(&clinic, "business");
    app.clock.advance(Duration::minutes(11));
    let answer = app
        .post_json_as(
            &owner.access,
            "/api/v1/service-accounts",
            &json!({"name": "Lab", "permissions": ["patients.read"]}),
        )
        .await;
    assert_eq!(answer.status(), 403);
    let body: Value = answer.json().await.unwrap();
    assert_eq!(body["code"], "step_up_required", "{body}");
}

#[tokio::test]
async fn revocation_rotation_and_expiry_hold_from_the_next_request() {
    let app = TestApp::spawn().await;
    let (owner, _) = business_owner(&app, "Revoking Clinic").await;
    let list = "/api/v1/patients";

    // A revoked key is refused at once; the account's other key is not.
    let first = create(
        &app,
        &owner,
        json!({"name": "Lab", "permissions": ["patients.read"]}),
    )
    .await;
    let account = first["service_account"]["id"].as_str().unwrap().to_owned();
    let old_key = secret(&first);
    assert_eq!(status_of_get(&app, &old_key, list).await.0, 200);
    let rotated = app
        .post_json_as(
            &owner.access,
            &format!("/api/v1/service-accounts/{account}/keys"),
            &json!({"overlap_hours": 1}),
        )
        .await;
    assert_eq!(rotated.status(), 201);
    let rotated: Value = rotated.json().await.unwrap();
    let new_key = rotated["secret"].as_str().unwrap().to_owned();
    assert_eq!(
        status_of_get(&app, &old_key, list).await.0,
        200,
        "within the overlap"
    );
    assert_eq!(status_of_get(&app, &new_key, list).await.0, 200);

    let revoke = app
        .client
        .delete(format!(
            "{}/api/v1/service-accounts/{account}/keys/{}",
            app.url,
            rotated["key"]["id"].as_str().unwrap()
        ))
        .bearer_auth(&owner.access)
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), 204);
    assert_eq!(status_of_get(&app, &new_key, list).await.0, 401);
    assert_eq!(status_of_get(&app, &old_key, list).await.0, 200);

    // Revoking the account ends every key.
    let revoke = app
        .client
        .delete(format!("{}/api/v1/service-accounts/{account}", app.url))
        .bearer_auth(&owner.access)
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), 204);
    assert_eq!(status_of_get(&app, &old_key, list).await.0, 401);

    // A rotation's overlap ends, and so does an account.
    let second = create(
        &app,
        &owner,
        json!({"name": "Booking", "permissions": ["patients.read"], "expires_in_days": 2}),
    )
    .await;
    let second_id = second["service_account"]["id"].as_str().unwrap().to_owned();
    let before = secret(&second);
    let rotated: Value = app
        .post_json_as(
            &owner.access,
            &format!("/api/v1/service-accounts/{second_id}/keys"),
            &json!({"overlap_hours": 1}),
        )
        .await
        .json()
        .await
        .unwrap();
    let after = rotated["secret"].as_str().unwrap().to_owned();
    app.clock.advance(Duration::minutes(59));
    assert_eq!(status_of_get(&app, &before, list).await.0, 200);
    app.clock.advance(Duration::minutes(1));
    assert_eq!(
        status_of_get(&app, &before, list).await.0,
        401,
        "after the overlap"
    );
    assert_eq!(status_of_get(&app, &after, list).await.0, 200);
    app.clock
        .advance(Duration::days(2) - Duration::hours(1) - Duration::seconds(1));
    assert_eq!(status_of_get(&app, &after, list).await.0, 200);
    app.clock.advance(Duration::seconds(1));
    assert_eq!(
        status_of_get(&app, &after, list).await.0,
        401,
        "after the account's end"
    );
}

#[tokio::test]
async fn a_key_calls_only_from_its_accounts_networks() {
    let app = TestApp::spawn_with(&[("TRUST_PROXY_TLS", "true")]).await;
    let (owner, _) = business_owner(&app, "Network Clinic").await;
    let created = create(
        &app,
        &owner,
        json!({"name": "Lab", "permissions": ["patients.read"], "allowed_networks": ["192.0.2.0/24", "2001:db8::1"]}),
    )
    .await;
    assert_eq!(
        created["service_account"]["allowed_networks"],
        json!(["192.0.2.0/24", "2001:db8::1/128"])
    );
    let key = secret(&created);
    for (from, expected) in [
        (Some("192.0.2.77"), 200),
        (Some("2001:db8::1"), 200),
        (Some("192.0.3.1"), 403),
        (Some("2001:db8::2"), 403),
        (None, 403),
    ] {
        let mut request = app.get("/api/v1/patients").bearer_auth(&key);
        if let Some(address) = from {
            request = request.header("x-forwarded-for", address);
        }
        let answer = request.send().await.unwrap();
        let status = answer.status().as_u16();
        let body: Value = answer.json().await.unwrap();
        assert_eq!(status, expected, "{from:?}: {body}");
        if expected == 403 {
            assert_eq!(body["code"], "client_address_not_allowed");
        }
    }
}

#[tokio::test]
async fn the_managers_are_told_once_fourteen_days_before_an_account_ends() {
    let app = TestApp::spawn().await;
    let (owner, _) = business_owner(&app, "Notice Clinic").await;
    create(
        &app,
        &owner,
        json!({"name": "Lab", "permissions": ["patients.read"], "expires_in_days": 20}),
    )
    .await;
    let notices = |app: &TestApp| {
        app.outbox(&owner.email)
            .into_iter()
            .filter(|(subject, _)| subject.contains("service account ends"))
            .count()
    };
    assert_eq!(app.audit_round().await.ending_notices, 0);
    app.clock.advance(Duration::days(6) - Duration::minutes(1));
    assert_eq!(app.audit_round().await.ending_notices, 0, "15 days before");
    assert_eq!(notices(&app), 0);
    app.clock.advance(Duration::minutes(2));
    assert_eq!(app.audit_round().await.ending_notices, 1);
    assert_eq!(notices(&app), 1);
    assert_eq!(app.audit_round().await.ending_notices, 0, "told once");
    assert_eq!(notices(&app), 1);
}
