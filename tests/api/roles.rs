//! Custom roles and overrides: plan gates, effect on the next request, deny wins.

use salus_tests::TestApp;
use salus_tests::identity::Member;
use serde_json::{Value, json};

async fn status_code(r: reqwest::Response) -> (u16, String) {
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    (status, body["code"].as_str().unwrap_or_default().to_owned())
}

async fn setup(app: &TestApp, plan: &str) -> (Member, Member, String, String) {
    let owner = app.owner_with_mfa("Roles Clinic").await;
    let me = app.me(&owner).await;
    let clinic = me["clinic"]["id"].as_str().unwrap().to_owned();
    app.set_plan(&clinic, plan);
    let receptionist = app.join_as(&owner, "receptionist").await;
    let receptionist_id = app.me(&receptionist).await["membership_id"]
        .as_str()
        .unwrap()
        .to_owned();
    (owner, receptionist, receptionist_id, clinic)
}

#[tokio::test]
async fn custom_roles_need_a_paid_plan_and_overrides_the_business_plan() {
    let app = TestApp::spawn().await;
    let (owner, _, receptionist_id, clinic) = setup(&app, "free").await;
    let create = || {
        app.post("/api/v1/roles")
            .bearer_auth(&owner.access)
            .json(&json!({"name": "Front desk lead", "permissions": ["staff.read"]}))
            .send()
    };
    assert_eq!(
        status_code(create().await.unwrap()).await,
        (403, "plan_upgrade_required".into())
    );
    app.set_plan(&clinic, "pro");
    assert_eq!(create().await.unwrap().status(), 201);
    let overrides = || {
        app.client
            .put(format!(
                "{}/api/v1/staff/{receptionist_id}/overrides",
                app.url
            ))
            .header("if-match", "*")
            .bearer_auth(&owner.access)
            .json(&json!({"grants": ["staff.read"], "denies": []}))
            .send()
    };
    assert_eq!(
        status_code(overrides().await.unwrap()).await,
        (403, "plan_upgrade_required".into())
    );
    app.set_plan(&clinic, "business");
    assert_eq!(overrides().await.unwrap().status(), 204);
}

#[tokio::test]
async fn changes_take_effect_on_the_next_request_and_deny_wins() {
    let app = TestApp::spawn().await;
    let (owner, receptionist, receptionist_id, _) = setup(&app, "business").await;
    assert_eq!(
        app.get_as(&receptionist.access, "/api/v1/staff")
            .await
            .status(),
        403
    );

    let role: Value = app
        .post("/api/v1/roles")
        .bearer_auth(&owner.access)
        .json(&json!({"name": "Staff viewer", "permissions": ["staff.read"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let role_id = role["id"].as_str().unwrap().to_owned();
    let assign = app
        .client
        .put(format!(
            "{}/api/v1/staff/{receptionist_id}/custom-roles",
            app.url
        ))
        .header("if-match", "*")
        .bearer_auth(&owner.access)
        .json(&json!({"role_ids": [role_id]}))
        .send()
        .await
        .unwrap();
    assert_eq!(assign.status(), 204);
    assert_eq!(
        app.get_as(&receptionist.access, "/api/v1/staff")
            .await
            .status(),
        200,
        "granted without signing in again"
    );

    let deny = app
        .client
        .put(format!(
            "{}/api/v1/staff/{receptionist_id}/overrides",
            app.url
        ))
        .header("if-match", "*")
        .bearer_auth(&owner.access)
        .json(&json!({"grants": [], "denies": ["staff.read"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(deny.status(), 204);
    assert_eq!(
        app.get_as(&receptionist.access, "/api/v1/staff")
            .await
            .status(),
        403,
        "deny wins over the role"
    );

    let clear = app
        .client
        .put(format!(
            "{}/api/v1/staff/{receptionist_id}/overrides",
            app.url
        ))
        .header("if-match", "*")
        .bearer_auth(&owner.access)
        .json(&json!({"grants": [], "denies": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(clear.status(), 204);
    let shrink = app
        .client
        .patch(format!("{}/api/v1/roles/{role_id}", app.url))
        .header("if-match", "*")
        .bearer_auth(&owner.access)
        .json(&json!({"permissions": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(shrink.status(), 200);
    assert_eq!(
        app.get_as(&receptionist.access, "/api/v1/staff")
            .await
            .status(),
        403,
        "a changed role applies at once"
    );

    let staff: Value = app
        .get_as(&owner.access, "/api/v1/staff")
        .await
        .json()
        .await
        .unwrap();
    let member = staff["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == receptionist_id.as_str())
        .unwrap();
    assert!(
        !member["permissions"]
            .as_array()
            .unwrap()
            .contains(&json!("staff.read"))
    );
}

#[tokio::test]
async fn a_role_in_use_cannot_be_deleted() {
    let app = TestApp::spawn().await;
    let (owner, _, receptionist_id, _) = setup(&app, "pro").await;
    let role: Value = app
        .post("/api/v1/roles")
        .bearer_auth(&owner.access)
        .json(&json!({"name": "Temp", "permissions": ["staff.read"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let role_id = role["id"].as_str().unwrap().to_owned();
    let set = |ids: Value| {
        app.client
            .put(format!(
                "{}/api/v1/staff/{receptionist_id}/custom-roles",
                app.url
            ))
            .header("if-match", "*")
            .bearer_auth(&owner.access)
            .json(&json!({"role_ids": ids}))
            .send()
    };
    assert_eq!(set(json!([role_id])).await.unwrap().status(), 204);
    let delete = || {
        app.client
            .delete(format!("{}/api/v1/roles/{role_id}", app.url))
            .bearer_auth(&owner.access)
            .send()
    };
    assert_eq!(
        status_code(delete().await.unwrap()).await,
        (409, "role_in_use".into())
    );
    assert_eq!(set(json!([])).await.unwrap().status(), 204);
    assert_eq!(delete().await.unwrap().status(), 204);
    let unknown = app
        .post("/api/v1/roles")
        .bearer_auth(&owner.access)
        .json(&json!({"name": "X", "permissions": ["patients.fly"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 422);
}

#[tokio::test]
async fn an_administrator_cannot_mint_clinical_access() {
    let app = TestApp::spawn().await;
    let (owner, _, _, _) = setup(&app, "business").await;
    let admin = app.join_as(&owner, "administrator").await;
    // The target holds nothing the administrator lacks (a fellow administrator),
    // so only the rule against granting what one does not hold can refuse.
    let peer = app.join_as(&owner, "administrator").await;
    let peer_id = app.me(&peer).await["membership_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let create = app
        .post("/api/v1/roles")
        .bearer_auth(&admin.access)
        .json(&json!({"name": "Sneaky", "permissions": ["clinical.read"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        status_code(create).await,
        (403, "insufficient_permissions".into())
    );
    let grant = app
        .client
        .put(format!("{}/api/v1/staff/{peer_id}/overrides", app.url))
        .header("if-match", "*")
        .bearer_auth(&admin.access)
        .json(&json!({"grants": ["clinical.read"], "denies": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        status_code(grant).await,
        (403, "insufficient_permissions".into())
    );
    let admin_id = app.me(&admin).await["membership_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let own = app
        .client
        .put(format!("{}/api/v1/staff/{admin_id}/overrides", app.url))
        .header("if-match", "*")
        .bearer_auth(&admin.access)
        .json(&json!({"grants": [], "denies": []}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        status_code(own).await,
        (403, "self_change_forbidden".into())
    );
}
