//! The walk's clinic administration: invitations, custom roles, a member's
//! role, permissions, sessions and activity, the clinic's settings, its export,
//! its closure and its ownership.

use salus_tests::identity::Member;
use serde_json::{Value, json};

use super::walker::{Caller, Walk};

/// The membership id of the member with `email`, from the staff list.
async fn membership_of(walk: &Walk<'_>, owner: &Member, email: &str) -> String {
    let staff: Value = walk
        .app
        .get_as(&owner.access, "/api/v1/staff")
        .await
        .json()
        .await
        .unwrap();
    staff["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["email"] == email)
        .unwrap_or_else(|| panic!("{email} is not in {staff}"))["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Walks the clinic's administration as `owner`, who hands ownership over at
/// the end: the clinic's id.
pub async fn walk(walk: &Walk<'_>, owner: &Member) -> String {
    let app = walk.app;
    let by = Caller::member(owner);
    let clinic = app.me(owner).await["clinic"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.set_plan(&clinic, "business");
    webhooks(walk, &by, owner).await;
    service_accounts(walk, &by).await;

    let invitation = walk.call("invitations_create", &by).created().send().await;
    walk.call("invitations_revoke", &by)
        .id(invitation["id"].as_str().unwrap())
        .send()
        .await;

    let receptionist = app.join_as(owner, "receptionist").await;
    let member = membership_of(walk, owner, &receptionist.email).await;
    let role = walk.call("roles_create", &by).created().send().await;
    let role = role["id"].as_str().unwrap().to_owned();
    walk.call("roles_update", &by).id(&role).send().await;
    walk.call("staff_set_custom_roles", &by)
        .id(&member)
        .set("role_ids", json!([role]))
        .send()
        .await;
    walk.call("staff_set_custom_roles", &by)
        .id(&member)
        .set("role_ids", json!([]))
        .send()
        .await;
    walk.call("roles_delete", &by).id(&role).send().await;
    walk.call("staff_set_overrides", &by)
        .id(&member)
        .send()
        .await;
    walk.call("staff_change_role", &by).id(&member).send().await;
    walk.call("staff_revoke_sessions", &by)
        .id(&member)
        .send()
        .await;
    walk.call("staff_deactivate", &by).id(&member).send().await;
    walk.call("staff_reactivate", &by).id(&member).send().await;

    walk.call("clinic_update", &by)
        .set("require_mfa", json!(false))
        .on(&clinic)
        .send()
        .await;
    let export = walk
        .call("clinic_exports_create", &by)
        .created()
        .send()
        .await;
    walk.call("clinic_exports_archive", &by)
        .id(export["id"].as_str().unwrap())
        .streams()
        .send()
        .await;
    walk.call("clinic_closure_request", &by)
        .on(&clinic)
        .send()
        .await;
    walk.call("clinic_closure_cancel", &by)
        .on(&clinic)
        .send()
        .await;

    let administrator = app.join_as(owner, "administrator").await;
    let heir = membership_of(walk, owner, &administrator.email).await;
    walk.call("staff_transfer_ownership", &by)
        .set("membership_id", json!(heir))
        .on(&heir)
        .send()
        .await;
    clinic
}

/// A service account's life: created with a key, given another, a key
/// revoked, the account revoked (a business-plan feature).
async fn service_accounts(walk: &Walk<'_>, by: &Caller) {
    let created = walk
        .call("service_accounts_create", by)
        .set("permissions", json!(["patients.read"]))
        .set("allowed_networks", json!([]))
        .send()
        .await;
    let account = created["service_account"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let rotated = walk
        .call("service_accounts_rotate_key", by)
        .id(&account)
        .send()
        .await;
    let key = rotated["key"]["id"].as_str().unwrap();
    walk.call("service_accounts_revoke_key", by)
        .at(&format!("/api/v1/service-accounts/{account}/keys/{key}"))
        .on(&account)
        .send()
        .await;
    walk.call("service_accounts_revoke", by)
        .id(&account)
        .send()
        .await;
}

/// A webhook endpoint's life: subscribed, changed, its secret rotated, an event
/// delivered again, deleted (a business-plan feature).
async fn webhooks(walk: &Walk<'_>, by: &Caller, owner: &Member) {
    let app = walk.app;
    let created = walk
        .call("webhook_endpoints_create", by)
        .set("url", json!("https://hooks.partner.example/salus"))
        .set("event_types", json!(["patient.created"]))
        .send()
        .await;
    let endpoint = created["endpoint"]["id"].as_str().unwrap().to_owned();
    walk.call("webhook_endpoints_update", by)
        .id(&endpoint)
        .set("event_types", json!(["patient.created", "patient.updated"]))
        .send()
        .await;
    walk.call("webhook_endpoints_rotate_secret", by)
        .id(&endpoint)
        .send()
        .await;
    app.patient(
        owner,
        json!({"family_name": "Hooked", "given_name": "Ada", "birth_date": "1980-01-01", "sex": "female"}),
    )
    .await;
    #[derive(diesel::QueryableByName)]
    struct Event {
        #[diesel(sql_type = diesel::sql_types::Text)]
        event_id: String,
    }
    let event: Event = diesel::RunQueryDsl::get_result(
        diesel::sql_query("SELECT event_id::text AS event_id FROM webhook_deliveries LIMIT 1"),
        &mut app.db.superuser(),
    )
    .unwrap();
    walk.call("webhook_deliveries_redeliver", by)
        .at(&format!(
            "/api/v1/webhook-endpoints/{endpoint}/deliveries/{}/redeliver",
            event.event_id
        ))
        .on(&endpoint)
        .send()
        .await;
    walk.call("webhook_endpoints_delete", by)
        .id(&endpoint)
        .send()
        .await;
}
