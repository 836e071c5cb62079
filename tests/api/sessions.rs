//! Tokens and sessions: verification, revocation, idle expiry, refresh rotation.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Duration;
use salus_tests::TestApp;
use serde_json::{Value, json};

fn reencode(token: &str, header: Option<Value>, claims: impl FnOnce(&mut Value)) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let mut body: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims(&mut body);
    let head = header.map_or(parts[0].to_owned(), |h| {
        URL_SAFE_NO_PAD.encode(h.to_string())
    });
    format!(
        "{head}.{}.{}",
        URL_SAFE_NO_PAD.encode(body.to_string()),
        parts[2]
    )
}

#[tokio::test]
async fn tampered_none_unknown_kid_and_expired_tokens_get_401() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Harbour Clinic").await;
    assert_eq!(app.get_as(&owner.access, "/api/v1/me").await.status(), 200);

    let tampered = reencode(&owner.access, None, |c| {
        c["cid"] = json!(uuid::Uuid::now_v7())
    });
    let unsigned = {
        let t = reencode(
            &owner.access,
            Some(json!({"alg": "none", "typ": "at+jwt", "kid": "ephemeral"})),
            |_| {},
        );
        let mut parts: Vec<&str> = t.split('.').collect();
        parts[2] = "";
        parts.join(".")
    };
    let unknown_kid = reencode(
        &owner.access,
        Some(json!({"alg": "HS256", "typ": "at+jwt", "kid": "nope"})),
        |_| {},
    );
    for (name, token) in [
        ("tampered", tampered),
        ("alg=none", unsigned),
        ("unknown kid", unknown_kid),
        ("garbage", "abc.def".to_owned()),
    ] {
        let response = app.get_as(&token, "/api/v1/me").await;
        assert_eq!(response.status(), 401, "{name}");
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "unauthenticated", "{name}");
    }
    let anonymous = app.get("/api/v1/me").send().await.unwrap();
    assert_eq!(anonymous.status(), 401);

    app.clock.advance(Duration::minutes(16));
    assert_eq!(
        app.get_as(&owner.access, "/api/v1/me").await.status(),
        401,
        "expired access token"
    );
}

#[tokio::test]
async fn logout_takes_effect_on_the_next_request() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Harbour Clinic").await;
    let response = app
        .post("/api/v1/auth/logout")
        .bearer_auth(&owner.access)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert_eq!(app.get_as(&owner.access, "/api/v1/me").await.status(), 401);
    let refresh = app
        .post_json(
            "/api/v1/auth/refresh",
            json!({"refresh_token": owner.refresh}),
        )
        .await;
    assert_eq!(
        refresh.status(),
        401,
        "a signed-out session cannot be refreshed"
    );
}

#[tokio::test]
async fn idle_sessions_expire_and_activity_extends_them() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Harbour Clinic").await;
    // 20 minutes idle, then activity: still within the 30-minute idle timeout.
    app.clock.advance(Duration::minutes(20));
    let refreshed: Value = app
        .post_json(
            "/api/v1/auth/refresh",
            json!({"refresh_token": owner.refresh}),
        )
        .await
        .json()
        .await
        .unwrap();
    let access = refreshed["access_token"].as_str().unwrap().to_owned();
    app.clock.advance(Duration::minutes(14));
    assert_eq!(
        app.get_as(&access, "/api/v1/me").await.status(),
        200,
        "activity extended the session"
    );
    app.clock.advance(Duration::minutes(31));
    let refresh = app
        .post_json(
            "/api/v1/auth/refresh",
            json!({"refresh_token": refreshed["refresh_token"]}),
        )
        .await;
    assert_eq!(
        refresh.status(),
        401,
        "idle for 31 minutes: the session is over"
    );
}

#[tokio::test]
async fn a_reused_refresh_token_revokes_the_session() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Harbour Clinic").await;
    let first: Value = app
        .post_json(
            "/api/v1/auth/refresh",
            json!({"refresh_token": owner.refresh}),
        )
        .await
        .json()
        .await
        .unwrap();
    let new_access = first["access_token"].as_str().unwrap().to_owned();
    assert_ne!(first["refresh_token"], owner.refresh.as_str(), "rotated");
    assert_eq!(app.get_as(&new_access, "/api/v1/me").await.status(), 200);

    let replay = app
        .post_json(
            "/api/v1/auth/refresh",
            json!({"refresh_token": owner.refresh}),
        )
        .await;
    assert_eq!(replay.status(), 401);
    assert_eq!(
        app.get_as(&new_access, "/api/v1/me").await.status(),
        401,
        "the whole session ended"
    );
    let rotated = app
        .post_json(
            "/api/v1/auth/refresh",
            json!({"refresh_token": first["refresh_token"]}),
        )
        .await;
    assert_eq!(rotated.status(), 401);

    let mut conn = app.db.superuser();
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let events: N = diesel::sql_query(
        "SELECT count(*) AS n FROM audit.events
          WHERE action = 'auth.refresh_token_reuse' AND outcome = 'failure'",
    )
    .get_result(&mut conn)
    .unwrap();
    assert_eq!(events.n, 1, "the reuse was recorded in the audit trail");
}

#[tokio::test]
async fn sessions_are_listed_and_revocable_one_by_one_or_all_others() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Harbour Clinic").await;
    let code = app.totp_code(owner.otpauth.as_ref().unwrap(), 1);
    app.clock.advance(Duration::seconds(30));
    let second: Value = app
        .post("/api/v1/auth/login")
        .header("user-agent", "PhoneApp/2.0")
        .json(&json!({"email": owner.email, "password": salus_tests::identity::PASSWORD}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(second["status"], "mfa_required");
    let second: Value = app
        .post("/api/v1/auth/mfa")
        .header("user-agent", "PhoneApp/2.0")
        .json(&json!({"mfa_token": second["mfa_token"], "code": code}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let phone_access = second["access_token"].as_str().unwrap().to_owned();

    let list: Value = app
        .get_as(&owner.access, "/api/v1/me/sessions")
        .await
        .json()
        .await
        .unwrap();
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert!(
        items
            .iter()
            .any(|s| s["user_agent"] == "PhoneApp/2.0" && s["current"] == false)
    );
    assert!(items.iter().all(|s| s["ip"] == "127.0.0.1"));

    let other_id = second["session_id"].as_str().unwrap();
    let revoke = app
        .client
        .delete(format!("{}/api/v1/me/sessions/{other_id}", app.url))
        .bearer_auth(&owner.access)
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), 204);
    assert_eq!(app.get_as(&phone_access, "/api/v1/me").await.status(), 401);
    let unknown = app
        .client
        .delete(format!(
            "{}/api/v1/me/sessions/{}",
            app.url,
            uuid::Uuid::now_v7()
        ))
        .bearer_auth(&owner.access)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);

    let others = app
        .post("/api/v1/auth/logout-others")
        .bearer_auth(&owner.access)
        .send()
        .await
        .unwrap();
    assert_eq!(others.status(), 200);
    assert_eq!(
        app.get_as(&owner.access, "/api/v1/me").await.status(),
        200,
        "the current session stays"
    );
}
