//! Staff management over HTTP: invitations, role changes and their guards,
//! deactivation, plans.

use chrono::Duration;
use salus_tests::TestApp;
use salus_tests::access::MEMBER_PASSWORD;
use salus_tests::identity::{Member, unique_email};
use serde_json::{Value, json};

async fn member_id(app: &TestApp, member: &salus_tests::identity::Member) -> String {
    app.me(member).await["membership_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn an_invited_receptionist_joins_and_sees_no_staff_data() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Harbour Clinic").await;
    let receptionist = app.join_as(&owner, "receptionist").await;
    let me = app.me(&receptionist).await;
    assert_eq!(me["role"], "receptionist");
    assert_eq!(me["clinic"]["name"], "Harbour Clinic");
    assert_eq!(
        app.get_as(&receptionist.access, "/api/v1/staff")
            .await
            .status(),
        403
    );

    let staff: Value = app
        .get_as(&owner.access, "/api/v1/staff")
        .await
        .json()
        .await
        .unwrap();
    let roles: Vec<&str> = staff["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["owner", "receptionist"]);
    let invitations: Value = app
        .get_as(&owner.access, "/api/v1/invitations")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(invitations["items"][0]["status"], "accepted");
}

#[tokio::test]
async fn invitation_tokens_are_single_use_and_expire() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Harbour Clinic").await;
    let invite = |email: String| {
        app.post("/api/v1/invitations")
            .bearer_auth(&owner.access)
            .json(&json!({"email": email, "role": "nurse"}))
            .send()
    };
    let email = unique_email("nurse");
    assert_eq!(invite(email.clone()).await.unwrap().status(), 201);
    let token = app.token_sent(&email, "invited to join");
    let accept = |token: String| {
        app.post_json(
            "/api/v1/invitations/accept",
            json!({"token": token, "password": MEMBER_PASSWORD, "given_name": "N", "family_name": "R"}),
        )
    };
    assert_eq!(accept(token.clone()).await.status(), 204);
    assert_eq!(accept(token).await.status(), 422, "used");

    let late = unique_email("late");
    assert_eq!(invite(late.clone()).await.unwrap().status(), 201);
    let token = app.token_sent(&late, "invited to join");
    app.clock.advance(Duration::hours(73));
    assert_eq!(accept(token).await.status(), 422, "expired");
}

#[tokio::test]
async fn nobody_escalates_or_changes_themselves_and_the_last_owner_stays() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Harbour Clinic").await;
    let clinic = app.me(&owner).await["clinic"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.set_plan(&clinic, "pro");
    let admin = app.join_as(&owner, "administrator").await;
    let nurse = app.join_as(&owner, "nurse").await;
    let (owner_id, admin_id, nurse_id) = (
        member_id(&app, &owner).await,
        member_id(&app, &admin).await,
        member_id(&app, &nurse).await,
    );

    let set_role = |token: String, id: String, role: &'static str| {
        app.client
            .put(format!("{}/api/v1/staff/{id}/role", app.url))
            .header("if-match", "*")
            .bearer_auth(token)
            .json(&json!({"role": role}))
            .send()
    };
    let code = |r: reqwest::Response| async move {
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap();
        (status, body["code"].as_str().unwrap_or_default().to_owned())
    };

    // An administrator may not grant clinical access it does not hold.
    let (status, c) = code(
        set_role(admin.access.clone(), nurse_id.clone(), "practitioner")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, c.as_str()), (403, "insufficient_permissions"));
    // ... nor change itself, nor act on the owner.
    let (status, c) = code(
        set_role(admin.access.clone(), admin_id.clone(), "auditor")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, c.as_str()), (403, "self_change_forbidden"));
    let (status, _) = code(
        set_role(admin.access.clone(), owner_id.clone(), "auditor")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 403);
    // The owner can, with a recent MFA check.
    let (status, _) = code(
        set_role(owner.access.clone(), nurse_id.clone(), "practitioner")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        app.get_as(&nurse.access, "/api/v1/me").await.status(),
        401,
        "a role change ends the member's sessions"
    );

    // Step-up: eleven minutes later the same call is refused.
    app.clock.advance(Duration::minutes(11));
    let tokens: Value = app
        .post_json(
            "/api/v1/auth/refresh",
            json!({"refresh_token": owner.refresh}),
        )
        .await
        .json()
        .await
        .unwrap();
    let stale = tokens["access_token"].as_str().unwrap().to_owned();
    let (status, c) = code(
        set_role(stale.clone(), nurse_id.clone(), "receptionist")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!((status, c.as_str()), (403, "step_up_required"));

    // The last owner can be neither deactivated nor demoted.
    let deactivate_owner = app
        .post(&format!("/api/v1/staff/{owner_id}/deactivate"))
        .header("if-match", "*")
        .bearer_auth(&admin.access)
        .send()
        .await
        .unwrap();
    assert_eq!(deactivate_owner.status(), 403, "above the administrator");
    let transfer_to_self = app
        .post("/api/v1/clinic/ownership-transfer")
        .bearer_auth(&stale)
        .json(&json!({"membership_id": owner_id}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        transfer_to_self.status(),
        403,
        "step-up needed for a transfer"
    );
}

#[tokio::test]
async fn deactivation_ends_every_session_at_once_and_blocks_sign_in() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Harbour Clinic").await;
    let nurse = app.join_as(&owner, "nurse").await;
    let nurse_id = member_id(&app, &nurse).await;
    let response = app
        .post(&format!("/api/v1/staff/{nurse_id}/deactivate"))
        .header("if-match", "*")
        .bearer_auth(&owner.access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(app.get_as(&nurse.access, "/api/v1/me").await.status(), 401);
    let refresh = app
        .post_json(
            "/api/v1/auth/refresh",
            json!({"refresh_token": nurse.refresh}),
        )
        .await;
    assert_eq!(refresh.status(), 401);
    let login = app.login(&nurse.email, MEMBER_PASSWORD).await;
    assert_eq!(login.status(), 403, "no active membership");

    let reactivate = app
        .post(&format!("/api/v1/staff/{nurse_id}/reactivate"))
        .header("if-match", "*")
        .bearer_auth(&owner.access)
        .send()
        .await
        .unwrap();
    assert_eq!(reactivate.status(), 200);
    assert_eq!(app.login(&nurse.email, MEMBER_PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn the_free_plan_limits_seats() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Tiny Clinic").await;
    for n in 0..4 {
        let r = app
            .post("/api/v1/invitations")
            .bearer_auth(&owner.access)
            .json(&json!({"email": unique_email(&format!("s{n}")), "role": "receptionist"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    let over = app
        .post("/api/v1/invitations")
        .bearer_auth(&owner.access)
        .json(&json!({"email": unique_email("s5"), "role": "receptionist"}))
        .send()
        .await
        .unwrap();
    assert_eq!(over.status(), 403);
    let body: Value = over.json().await.unwrap();
    assert_eq!(body["code"], "plan_upgrade_required");
}

#[tokio::test]
async fn ownership_moves_only_by_an_explicit_transfer() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Harbour Clinic").await;
    let admin = app.join_as(&owner, "administrator").await;
    let admin_id = member_id(&app, &admin).await;
    let to_owner = app
        .client
        .put(format!("{}/api/v1/staff/{admin_id}/role", app.url))
        .header("if-match", "*")
        .bearer_auth(&owner.access)
        .json(&json!({"role": "owner"}))
        .send()
        .await
        .unwrap();
    assert_eq!(to_owner.status(), 422, "owner is not an assignable role");
    let transfer = app
        .post("/api/v1/clinic/ownership-transfer")
        .bearer_auth(&owner.access)
        .json(&json!({"membership_id": admin_id}))
        .send()
        .await
        .unwrap();
    assert_eq!(transfer.status(), 204);
    assert_eq!(app.me(&owner).await["role"], "administrator");
    let login: Value = app
        .login(&admin.email, MEMBER_PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(login["status"], "mfa_required");
}

#[tokio::test]
async fn the_operator_command_sets_a_plan() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Plan Clinic").await;
    let clinic = app.me(&owner).await["clinic"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let vars = [
        ("APP_ENV".to_owned(), "test".to_owned()),
        ("DATABASE_URL".to_owned(), app.db.api_url()),
    ];
    let config = salus::config::Config::load(&move |name: &str| {
        vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    })
    .unwrap();
    let clinic_id = salus_domain::ids::ClinicId(uuid::Uuid::parse_str(&clinic).unwrap());
    tokio::task::spawn_blocking(move || {
        salus::operator::set_plan(
            &config,
            clinic_id,
            salus_domain::plans::Plan::Business,
            "ops@salus.example",
        )
    })
    .await
    .unwrap()
    .unwrap();
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut su = app.db.superuser();
    let recorded: i64 = diesel::RunQueryDsl::get_result::<Count>(
        diesel::sql_query(
            "SELECT count(*) AS n FROM audit.events WHERE action = 'clinic.plan_changed'
            AND details LIKE '%ops@salus.example%'",
        ),
        &mut su,
    )
    .map(|c| c.n)
    .unwrap();
    assert_eq!(recorded, 1, "the plan change records who ran it");
    let settings: Value = app
        .get_as(&owner.access, "/api/v1/clinic")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(settings["plan"], "business");
}

/// One guard for every staff action, as a matrix (acting member × target ×
/// action): an administrator is refused every action on an owner (`owner_only`),
/// on themselves (`self_change_forbidden`) and on a member holding a permission it
/// does not (a receptionist: `insufficient_permissions`); on a peer it may act,
/// and an owner may act on anyone else.
#[tokio::test]
async fn every_staff_action_refuses_a_target_above_the_actor_alike() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Guard Clinic").await;
    let clinic = app.me(&owner).await["clinic"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.set_plan(&clinic, "business");
    let admin = app.join_as(&owner, "administrator").await;
    let peer = app.join_as(&owner, "administrator").await;
    let receptionist = app.join_as(&owner, "receptionist").await;
    let ids = [
        ("owner", member_id(&app, &owner).await),
        ("admin", member_id(&app, &admin).await),
        ("peer", member_id(&app, &peer).await),
        ("receptionist", member_id(&app, &receptionist).await),
    ];
    let id = |name: &str| ids.iter().find(|(n, _)| *n == name).unwrap().1.clone();
    let actions: [(&str, reqwest::Method, &str, Option<Value>); 6] = [
        ("sessions", reqwest::Method::DELETE, "sessions", None),
        (
            "overrides",
            reqwest::Method::PUT,
            "overrides",
            Some(json!({"grants": [], "denies": []})),
        ),
        (
            "custom roles",
            reqwest::Method::PUT,
            "custom-roles",
            Some(json!({"role_ids": []})),
        ),
        ("reactivate", reqwest::Method::POST, "reactivate", None),
        (
            "role",
            reqwest::Method::PUT,
            "role",
            Some(json!({"role": "administrator"})),
        ),
        ("deactivate", reqwest::Method::POST, "deactivate", None),
    ];
    let act = |actor: &Member,
               target: String,
               method: reqwest::Method,
               path: &str,
               body: Option<Value>| {
        let request = app
            .client
            .request(method, format!("{}/api/v1/staff/{target}/{path}", app.url))
            .bearer_auth(&actor.access)
            .header("if-match", "*");
        let request = match body {
            Some(body) => request.json(&body),
            None => request,
        };
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    for (action, method, path, body) in &actions {
        let (status, answer) = act(&admin, id("owner"), method.clone(), path, body.clone()).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (403, Some("owner_only")),
            "administrator → owner, {action}: {answer}"
        );
        let (status, answer) = act(&admin, id("admin"), method.clone(), path, body.clone()).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (403, Some("self_change_forbidden")),
            "administrator → self, {action}: {answer}"
        );
        let (status, answer) = act(
            &admin,
            id("receptionist"),
            method.clone(),
            path,
            body.clone(),
        )
        .await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (403, Some("insufficient_permissions")),
            "administrator → receptionist, {action}: {answer}"
        );
        let (status, answer) = act(&admin, id("peer"), method.clone(), path, body.clone()).await;
        assert!(
            (200..300).contains(&status),
            "administrator → peer, {action}: {status} {answer}"
        );
        // The owner keeps the receptionist a receptionist.
        let body = if *path == "role" {
            Some(json!({"role": "receptionist"}))
        } else {
            body.clone()
        };
        let (status, answer) = act(&owner, id("receptionist"), method.clone(), path, body).await;
        assert!(
            (200..300).contains(&status),
            "owner → receptionist, {action}: {status} {answer}"
        );
    }
}
