//! Generated from the contract: every operation is public by an explicit list or
//! refuses anonymous callers, declares its permission, and each built-in role gets
//! exactly what the role table allows.

use std::collections::BTreeSet;

use salus_domain::access::{Permission, role_permissions};
use salus_domain::identity::model::Role;
use salus_tests::TestApp;
use salus_tests::contract::{Operation, example, operations};
use salus_tests::identity::Member;
use serde_json::Value;

/// The operations anyone may call. Adding a public route means adding it here.
const PUBLIC: &[&str] = &[
    "GET /health/live",
    "GET /health/ready",
    "GET /.well-known/security.txt",
    "GET /api/v1/permissions",
    "POST /api/v1/clinics",
    "POST /api/v1/auth/login",
    "POST /api/v1/auth/mfa",
    "POST /api/v1/auth/refresh",
    "POST /api/v1/auth/password-reset",
    "POST /api/v1/auth/password-reset/confirm",
    "POST /api/v1/auth/verify-email",
    "POST /api/v1/auth/verify-email/resend",
    "POST /api/v1/auth/email-change/confirm",
    "POST /api/v1/invitations/accept",
    "POST /api/v1/platform/enrolment",
    "POST /api/v1/platform/enrolment/confirm",
    "POST /api/v1/platform/auth/login",
];

async fn call(app: &TestApp, op: &Operation, token: Option<&str>) -> reqwest::Response {
    let method = reqwest::Method::from_bytes(op.method.as_bytes()).unwrap();
    let mut request = app.client.request(
        method,
        format!(
            "{}{}",
            app.url,
            op.path_with(&uuid::Uuid::now_v7().to_string())
        ),
    );
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(schema) = &op.body {
        request = request.json(&example(schema));
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn every_operation_is_public_by_list_or_refuses_anonymous_callers() {
    let app = TestApp::spawn().await;
    let documented: BTreeSet<String> = operations()
        .iter()
        .filter(|o| o.public)
        .map(Operation::name)
        .collect();
    let listed: BTreeSet<String> = PUBLIC.iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(
        documented, listed,
        "public operations differ from the allow-list"
    );

    for op in operations().iter().filter(|o| !o.public) {
        let response = call(&app, op, None).await;
        assert_eq!(
            response.status(),
            401,
            "{} answered an anonymous caller",
            op.name()
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "unauthenticated", "{}", op.name());
    }
}

/// The middleware that refuses a request before its handler (a body that is
/// not JSON: 415; an undeclared query parameter: 422) tells an anonymous caller
/// of a protected operation 401 first, so a refusal never describes an operation
/// to someone who may not call it; a public operation's caller gets the
/// refusal itself, never a demand for a credential it does not need. Walked
/// over the contract, both ways.
#[tokio::test]
async fn middleware_refusals_tell_anonymous_callers_of_protected_operations_401_first() {
    let app = TestApp::spawn().await;
    for op in operations() {
        let method = reqwest::Method::from_bytes(op.method.as_bytes()).unwrap();
        let path = op.path_with(&uuid::Uuid::now_v7().to_string());
        let separator = if path.contains('?') { '&' } else { '?' };
        let mut request = app.client.request(
            method,
            format!("{}{path}{separator}not_a_parameter=1", app.url),
        );
        if op.body.is_some() {
            request = request
                .header("content-type", "text/plain")
                .body("not json");
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if op.public {
            assert!(
                status != 401 && (status == 415 || status == 422),
                "{} (public) answered {status} {body}",
                op.name()
            );
        } else {
            assert_eq!(
                (status, body["code"].as_str()),
                (401, Some("unauthenticated")),
                "{} (protected) answered {body}",
                op.name()
            );
        }
    }
}

#[test]
fn every_protected_operation_declares_a_known_permission() {
    for op in operations().iter().filter(|o| !o.public) {
        let declared = op
            .permission
            .as_deref()
            .unwrap_or_else(|| panic!("{} has no x-permission", op.name()));
        assert!(
            declared == "self"
                || Permission::parse(declared).is_some()
                || (op.path.starts_with("/api/v1/platform/")
                    && salus_domain::platform::PlatformPermission::parse(declared).is_some()),
            "{} declares unknown permission {declared}",
            op.name()
        );
    }
}

#[tokio::test]
async fn each_built_in_role_gets_exactly_what_the_role_table_allows() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Matrix Clinic").await;
    let clinic = app.me(&owner).await["clinic"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.set_plan(&clinic, "business");
    let mut members: Vec<(Role, Member)> = vec![(Role::Owner, owner.clone())];
    for role in [
        Role::Administrator,
        Role::Practitioner,
        Role::Nurse,
        Role::Receptionist,
        Role::Auditor,
    ] {
        members.push((role, app.join_as(&owner, role.as_str()).await));
    }

    let guarded: Vec<Operation> = operations()
        .into_iter()
        .filter(|o| {
            o.permission
                .as_deref()
                .and_then(Permission::parse)
                .is_some()
        })
        .collect();
    assert!(!guarded.is_empty());
    for op in &guarded {
        let permission = Permission::parse(op.permission.as_deref().unwrap()).unwrap();
        for (role, member) in &members {
            let response = call(&app, op, Some(&member.access)).await;
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            let denied = status == 403 && body["code"] == "permission_denied";
            let allowed = role_permissions(*role).contains(permission);
            assert_eq!(
                !denied,
                allowed,
                "{} as {}: {status} {body}",
                op.name(),
                role.as_str()
            );
        }
    }
}
