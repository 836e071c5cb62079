//! The walk's accounts: a clinic signed up and confirmed, sign-ins with and
//! without a second factor, sessions, the authenticator, and the account flows
//! that reach a member by email or SMS.

use chrono::Duration;
use salus_tests::identity::{Member, OTHER_PASSWORD, PASSWORD, unique_email};
use serde_json::{Value, json};

use super::walker::{Actor, Caller, Walk};

/// The new password the walk's reset chooses.
const RESET_PASSWORD: &str = "velvet harbour quartz meadow";

fn member(email: &str, session: &Value) -> Member {
    Member {
        email: email.to_owned(),
        access: session["access_token"].as_str().unwrap().to_owned(),
        refresh: session["refresh_token"].as_str().unwrap().to_owned(),
        otpauth: None,
        recovery_codes: Vec::new(),
    }
}

/// The next TOTP code of `member` (30 seconds on, so it was never used).
fn next_code(walk: &Walk<'_>, member: &Member) -> String {
    walk.app.clock.advance(Duration::seconds(30));
    walk.app.totp_code(member.otpauth.as_deref().unwrap(), 0)
}

/// Enrols an authenticator for `member` through the walk.
async fn enrol(walk: &Walk<'_>, member: &mut Member) {
    let started = walk
        .call("me_start_totp", &Caller::member(member))
        .send()
        .await;
    let uri = started["otpauth_uri"].as_str().unwrap().to_owned();
    let code = walk.app.totp_code(&uri, 0);
    walk.call("me_confirm_totp", &Caller::member(member))
        .set("code", json!(code))
        .send()
        .await;
    member.otpauth = Some(uri);
}

/// A new session of `member` (password and, when enrolled, the authenticator),
/// made outside the walk.
async fn another_session(walk: &Walk<'_>, member: &Member, password: &str) -> Member {
    let app = walk.app;
    let mut login: Value = app
        .login(&member.email, password)
        .await
        .json()
        .await
        .unwrap();
    if login["status"] == "mfa_required" {
        let code = next_code(walk, member);
        login = app
            .post_json(
                "/api/v1/auth/mfa",
                json!({"mfa_token": login["mfa_token"], "code": code}),
            )
            .await
            .json()
            .await
            .unwrap();
    }
    Member {
        otpauth: member.otpauth.clone(),
        ..self::member(&member.email, &login)
    }
}

/// Signs a clinic up and walks every account operation: the owner it returns
/// has an authenticator and a fresh second factor.
pub async fn walk(walk: &Walk<'_>) -> Member {
    let app = walk.app;
    let email = unique_email("walk-owner");
    let nobody = Caller::anonymous(Actor::Nobody);
    let account = Caller::anonymous(Actor::Account(email.clone()));
    walk.call("clinics_sign_up", &nobody)
        .set("email", json!(email))
        .set("password", json!(PASSWORD))
        .send()
        .await;
    // A second on, so the new code's message is the last one.
    app.clock.advance(Duration::seconds(1));
    walk.call("auth_resend_verification", &nobody)
        .set("email", json!(email))
        .send()
        .await;
    let token = app.token_sent(&email, "Verify your email");
    walk.call("auth_verify_email", &account)
        .set("token", json!(token))
        .send()
        .await;

    let session = walk
        .call("auth_login", &account)
        .set("email", json!(email))
        .set("password", json!(PASSWORD))
        .send()
        .await;
    let mut owner = member(&email, &session);
    enrol(walk, &mut owner).await;
    walk.call("auth_step_up", &Caller::member(&owner))
        .set("code", json!(next_code(walk, &owner)))
        .send()
        .await;

    // A second factor at sign-in; the refresh of a session records nothing.
    let challenge: Value = app.login(&email, PASSWORD).await.json().await.unwrap();
    let session = walk
        .call("auth_mfa", &account)
        .set("mfa_token", challenge["mfa_token"].clone())
        .set("code", json!(next_code(walk, &owner)))
        .send()
        .await;
    let refreshed = walk
        .call("auth_refresh", &nobody)
        .set("refresh_token", session["refresh_token"].clone())
        .send()
        .await;
    owner = Member {
        otpauth: owner.otpauth.clone(),
        ..member(&email, &refreshed)
    };

    // Sessions: one revoked by id, the others at once, one signed out.
    let other = another_session(walk, &owner, PASSWORD).await;
    let other_session = app.me(&other).await["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    walk.call("me_sessions_revoke", &Caller::member(&owner))
        .id(&other_session)
        .send()
        .await;
    another_session(walk, &owner, PASSWORD).await;
    walk.call("auth_logout_others", &Caller::member(&owner))
        .send()
        .await;
    let leaving = another_session(walk, &owner, PASSWORD).await;
    walk.call("auth_logout", &Caller::member(&leaving))
        .send()
        .await;
    walk.call("me_regenerate_recovery_codes", &Caller::member(&owner))
        .send()
        .await;

    member_flows(walk, &owner).await;
    owner
}

/// The account flows of a member the owner invites: the phone, the
/// authenticator's removal, the password changed and reset, the address changed.
async fn member_flows(walk: &Walk<'_>, owner: &Member) {
    let app = walk.app;
    let email = unique_email("walk-nurse");
    let account = Caller::anonymous(Actor::Account(email.clone()));
    let invitation = walk
        .call("invitations_create", &Caller::member(owner))
        .set("email", json!(email))
        .set("role", json!("nurse"))
        .created()
        .send()
        .await;
    let token = app.token_sent(&email, "invited to join");
    walk.call("invitations_accept", &account)
        .on(invitation["id"].as_str().unwrap())
        .set("token", json!(token))
        .set("password", json!(PASSWORD))
        .send()
        .await;
    let session = walk
        .call("auth_login", &account)
        .set("email", json!(email))
        .set("password", json!(PASSWORD))
        .send()
        .await;
    let mut nurse = member(&email, &session);

    let phone = "+33611223344";
    walk.call("me_set_phone", &Caller::member(&nurse))
        .set("phone", json!(phone))
        .send()
        .await;
    walk.call("me_verify_phone", &Caller::member(&nurse))
        .set("code", json!(app.token_sent(phone, "")))
        .send()
        .await;

    enrol(walk, &mut nurse).await;
    let new_email = unique_email("walk-nurse-new");
    walk.call("me_change_email", &Caller::member(&nurse))
        .set("new_email", json!(new_email))
        .set("password", json!(PASSWORD))
        .send()
        .await;
    let token = app.token_sent(&new_email, "Confirm your new email");
    walk.call(
        "auth_confirm_email_change",
        &Caller::anonymous(Actor::Account(new_email.clone())),
    )
    .set("token", json!(token))
    .send()
    .await;
    nurse.email = new_email;
    let account = Caller::anonymous(Actor::Account(nurse.email.clone()));

    walk.call("me_disable_totp", &Caller::member(&nurse))
        .set("password", json!(PASSWORD))
        .set("code", json!(next_code(walk, &nurse)))
        .send()
        .await;
    walk.call("me_change_password", &Caller::member(&nurse))
        .set("current_password", json!(PASSWORD))
        .set("new_password", json!(OTHER_PASSWORD))
        .send()
        .await;
    walk.call("auth_request_password_reset", &account)
        .set("email", json!(nurse.email))
        .send()
        .await;
    let token = app.token_sent(&nurse.email, "Reset your Salus password");
    walk.call("auth_confirm_password_reset", &account)
        .set("token", json!(token))
        .set("new_password", json!(RESET_PASSWORD))
        .send()
        .await;
}
