//! The rate limits of every `/api/v1` operation (issue 19): per credential,
//! per clinic (per plan) and, without a credential, per client address, with
//! `RateLimit-Policy` and `RateLimit` on every answer and `Retry-After` on 429;
//! one limit across two nodes on one database.
//!
//! The server's clock stands still in these tests, so every request falls in
//! one window (the set-up's sign-ins move it on, which starts a new one).

use std::time::Duration;

use salus_tests::catalogue::count;
use salus_tests::contract::{document, example, operations};
use salus_tests::identity::Member;
use salus_tests::{TestApp, eventually};
use serde_json::Value;

/// The limits a test runs with: per credential, per clinic (every plan), per address.
fn limits(credential: u64, clinic: u64, address: u64) -> Vec<(&'static str, String)> {
    vec![
        ("RATE_LIMIT_PER_CREDENTIAL", credential.to_string()),
        ("RATE_LIMIT_CLINIC_FREE", clinic.to_string()),
        ("RATE_LIMIT_CLINIC_PRO", clinic.to_string()),
        ("RATE_LIMIT_CLINIC_BUSINESS", clinic.to_string()),
        ("RATE_LIMIT_PER_ADDRESS", address.to_string()),
        ("TRUST_PROXY_TLS", "true".to_owned()),
    ]
}

fn pairs<'a>(settings: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    settings.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// `RateLimit` parsed: the policy's name, `r` and `t`.
fn standing(response: &reqwest::Response) -> (String, u64, u64) {
    let value = response
        .headers()
        .get("ratelimit")
        .unwrap_or_else(|| panic!("no RateLimit on a {} answer", response.status()))
        .to_str()
        .unwrap();
    let mut parts = value.split(';');
    let name = parts.next().unwrap().trim_matches('"').to_owned();
    let mut number = |key: &str| -> u64 {
        let part = parts.next().unwrap_or_else(|| panic!("{value}"));
        let (k, v) = part.split_once('=').unwrap_or_else(|| panic!("{value}"));
        assert_eq!(k, key, "{value}");
        v.parse().unwrap_or_else(|_| panic!("{value}"))
    };
    let (r, t) = (number("r"), number("t"));
    assert!(parts.next().is_none(), "{value}");
    (name, r, t)
}

fn policy(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("ratelimit-policy")
        .unwrap_or_else(|| panic!("no RateLimit-Policy on a {} answer", response.status()))
        .to_str()
        .unwrap()
        .to_owned()
}

/// Asserts a 429 `rate_limited` problem with `Retry-After` equal to the reset of
/// the spent policy `name`.
async fn assert_refused(response: reqwest::Response, name: &str) {
    assert_eq!(response.status(), 429);
    let (spent, r, t) = standing(&response);
    assert_eq!((spent.as_str(), r), (name, 0));
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(retry_after, t, "Retry-After is the spent window's reset");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited", "{body}");
}

/// A new session of `member` (a new credential of the same clinic).
async fn another_session(app: &TestApp, member: &Member) -> String {
    let mut again = member.clone();
    app.sign_in_again(&mut again).await;
    again.access
}

async fn me(app: &TestApp, base: &str, token: &str) -> reqwest::Response {
    app.client
        .get(format!("{base}/api/v1/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

/// Every operation of the contract, called with one member's token: every
/// answer carries both headers, exactly as the draft writes them, with `r`
/// one less on each answer; the contract declares them and the 429.
#[tokio::test]
async fn every_operation_answers_with_exact_rate_limit_headers() {
    let settings = limits(1000, 100_000, 100_000);
    let app = TestApp::spawn_with(&pairs(&settings)).await;
    let owner = app.owner_with_mfa("Headers Clinic").await;
    let token = another_session(&app, &owner).await;
    let doc = document();
    let mut walk = operations();
    walk.sort_by_key(|o| o.path.ends_with("/logout"));
    let limited: Vec<_> = walk
        .iter()
        .filter(|o| o.path.starts_with("/api/v1/"))
        .collect();
    assert!(limited.len() > 100, "{}", limited.len());
    let expected_policy = "\"credential\";q=1000;w=60, \"clinic\";q=100000;w=60";
    let mut last = 1000;
    for op in limited {
        let declared = &doc["paths"][&op.path][op.method.to_lowercase()]["responses"];
        assert!(
            declared["429"].is_object(),
            "{}: no 429 declared",
            op.name()
        );
        for (status, response) in declared.as_object().unwrap() {
            let headers = if let Some(reference) = response["$ref"].as_str() {
                let name = reference.rsplit('/').next().unwrap();
                &doc["components"]["responses"][name]["headers"]
            } else {
                &response["headers"]
            };
            for header in ["RateLimit-Policy", "RateLimit"] {
                assert!(
                    headers.get(header).is_some(),
                    "{} {status}: {header} not declared",
                    op.name()
                );
            }
        }
        let method = reqwest::Method::from_bytes(op.method.as_bytes()).unwrap();
        let mut request = app
            .client
            .request(method, format!("{}{}", app.url, op.path))
            .bearer_auth(&token);
        if let Some(schema) = &op.body {
            request = request.json(&example(schema));
        }
        let answer = request.send().await.unwrap();
        let status = answer.status();
        assert_eq!(policy(&answer), expected_policy, "{}: {status}", op.name());
        let (name, r, t) = standing(&answer);
        assert_eq!(name, "credential", "{}", op.name());
        assert_eq!(r, last - 1, "{}: {status}: r falls by one", op.name());
        assert!((1..=60).contains(&t), "{}: t={t}", op.name());
        last = r;
    }
    // The probes are not limited.
    let live = app.get("/health/live").send().await.unwrap();
    assert!(live.headers().get("ratelimit").is_none());
}

/// Past the credential's limit: 429 with `Retry-After` and a problem body;
/// another credential of the same clinic is still served, until the clinic's
/// limit, which then refuses both.
#[tokio::test]
async fn past_the_credentials_limit_another_credential_is_served_until_the_clinics() {
    let settings = limits(4, 7, 1000);
    let app = TestApp::spawn_with(&pairs(&settings)).await;
    let owner = app.owner_with_mfa("Credential Clinic").await;
    let a = another_session(&app, &owner).await;
    let b = another_session(&app, &owner).await;
    for left in (0..4).rev() {
        let served = me(&app, &app.url, &a).await;
        assert_eq!(served.status(), 200);
        assert_eq!(
            policy(&served),
            "\"credential\";q=4;w=60, \"clinic\";q=7;w=60"
        );
        assert_eq!(standing(&served).1, left);
    }
    assert_refused(me(&app, &app.url, &a).await, "credential").await;
    // The refusal counted nowhere: the clinic has 3 of 7 left, fewer than
    // B's 4, so the clinic's policy is B's most constraining.
    for left in (0..3).rev() {
        let served = me(&app, &app.url, &b).await;
        assert_eq!(served.status(), 200);
        let (name, r, _) = standing(&served);
        assert_eq!((name.as_str(), r), ("clinic", left));
    }
    assert_refused(me(&app, &app.url, &b).await, "clinic").await;
    assert_refused(me(&app, &app.url, &a).await, "credential").await;
}

/// Two credentials of one clinic spend one clinic budget.
#[tokio::test]
async fn two_credentials_share_their_clinics_limit() {
    let settings = limits(100, 6, 1000);
    let app = TestApp::spawn_with(&pairs(&settings)).await;
    let owner = app.owner_with_mfa("Shared Clinic").await;
    let a = another_session(&app, &owner).await;
    let b = another_session(&app, &owner).await;
    for (n, token) in [&a, &b, &a, &b, &a, &b].into_iter().enumerate() {
        let served = me(&app, &app.url, token).await;
        assert_eq!(served.status(), 200, "request {n}");
        let (name, r, _) = standing(&served);
        assert_eq!((name.as_str(), r), ("clinic", 5 - n as u64), "request {n}");
    }
    assert_refused(me(&app, &app.url, &a).await, "clinic").await;
    assert_refused(me(&app, &app.url, &b).await, "clinic").await;
    // Another clinic has a budget of its own.
    let other = app.owner_with_mfa("Other Clinic").await;
    let other = another_session(&app, &other).await;
    assert_eq!(me(&app, &app.url, &other).await.status(), 200);
}

/// The shared total of the session `token` names, in the current window.
fn shared_total(app: &TestApp, token: &str) -> i64 {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    let sid = claims["sid"].as_str().unwrap();
    let mut su = app.db.superuser();
    count(
        &mut su,
        &format!(
            "SELECT coalesce(sum(hits), 0)::bigint AS n FROM request_rate_limits \
              WHERE key = 'credential:{sid}'"
        ),
    )
}

/// Two nodes on one database enforce one limit: a credential's requests
/// alternate between them, each once the last hit is in the shared total and
/// the nodes have had time to read it back, and exactly the limit is served
/// across both (each node alone would serve it twice); the shared total holds
/// every hit served and none refused.
#[tokio::test]
async fn two_nodes_enforce_one_limit() {
    const LIMIT: i64 = 8;
    let mut settings = limits(LIMIT as u64, 1000, 1000);
    settings.push(("RATE_LIMIT_SYNC_MILLIS", "20".to_owned()));
    let app = TestApp::spawn_with(&pairs(&settings)).await;
    settings.push(("PUBLIC_URL", app.url.clone()));
    let sibling = app.sibling(&pairs(&settings)).await;
    let b_url = format!("http://{}", sibling.http_addr);
    let owner = app.owner_with_mfa("Two Nodes Limit Clinic").await;
    let token = another_session(&app, &owner).await;
    let mut served = 0;
    for n in 0..2 * LIMIT {
        let base = if n % 2 == 0 { app.url.as_str() } else { &b_url };
        let answer = me(&app, base, &token).await;
        match answer.status().as_u16() {
            200 => served += 1,
            429 => assert_refused(answer, "credential").await,
            other => panic!("{other}"),
        }
        eventually("the hit in the shared total", || {
            (shared_total(&app, &token) == served).then_some(())
        })
        .await;
        // Several sync rounds of each node: both have read the total back.
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    assert_eq!(served, LIMIT, "one limit across the two nodes");
    assert_eq!(shared_total(&app, &token), LIMIT);
    drop(sibling);
}

/// Without a valid credential, requests count against the client's address
/// (`X-Forwarded-For` behind a trusted proxy): a bearer that is not an access
/// token counts there too; another address has a budget of its own.
#[tokio::test]
async fn anonymous_requests_count_against_their_address() {
    let settings = limits(1000, 1000, 3);
    let app = TestApp::spawn_with(&pairs(&settings)).await;
    let from = |address: &str, bearer: Option<&str>| {
        let mut request = app
            .get("/api/v1/me")
            .header("x-forwarded-for", address.to_owned());
        if let Some(bearer) = bearer {
            request = request.bearer_auth(bearer);
        }
        request.send()
    };
    let address = "203.0.113.77";
    for (left, bearer) in [(2, None), (1, Some("salus_sk_not_yet_a_key")), (0, None)] {
        let answer = from(address, bearer).await.unwrap();
        assert_eq!(answer.status(), 401);
        assert_eq!(policy(&answer), "\"address\";q=3;w=60");
        let (name, r, _) = standing(&answer);
        assert_eq!((name.as_str(), r), ("address", left));
    }
    assert_refused(from(address, None).await.unwrap(), "address").await;
    let elsewhere = from("203.0.113.78", None).await.unwrap();
    assert_eq!(elsewhere.status(), 401);
    assert_eq!(standing(&elsewhere).1, 2);
}

/// An IPv6 client counts by its /64 network: a host holds a whole /64, so
/// moving to another of its addresses does not give it a new budget, while
/// the next /64 has one of its own.
#[tokio::test]
async fn an_ipv6_client_counts_by_its_64_network() {
    let settings = limits(1000, 1000, 2);
    let app = TestApp::spawn_with(&pairs(&settings)).await;
    let from = |address: &str| {
        app.get("/api/v1/me")
            .header("x-forwarded-for", address.to_owned())
            .send()
    };
    for (address, left) in [("2001:db8:7:1::1", 1), ("2001:db8:7:1:abcd::9", 0)] {
        let answer = from(address).await.unwrap();
        assert_eq!(answer.status(), 401);
        assert_eq!(standing(&answer).1, left, "{address}");
    }
    assert_refused(
        from("2001:db8:7:1:ffff:ffff:ffff:ffff").await.unwrap(),
        "address",
    )
    .await;
    let next = from("2001:db8:7:2::1").await.unwrap();
    assert_eq!(next.status(), 401);
    assert_eq!(standing(&next).1, 1);
}

/// A clinic's limit is its plan's: the node caches the plan and its sync round
/// reads it again in each new window, so a plan change applies from the first
/// round of the next window.
#[tokio::test]
async fn a_clinics_limit_is_its_plans() {
    let mut settings = limits(100, 5, 1000);
    settings.retain(|(name, _)| !name.starts_with("RATE_LIMIT_CLINIC_"));
    settings.extend([
        ("RATE_LIMIT_CLINIC_FREE", "5".to_owned()),
        ("RATE_LIMIT_CLINIC_PRO", "7".to_owned()),
        ("RATE_LIMIT_CLINIC_BUSINESS", "9".to_owned()),
        ("RATE_LIMIT_SYNC_MILLIS", "20".to_owned()),
    ]);
    let app = TestApp::spawn_with(&pairs(&settings)).await;
    let owner = app.owner_with_mfa("Business Clinic").await;
    let token = another_session(&app, &owner).await;
    let me_now = app.me(&owner).await;
    // The node has read the free plan in this window ...
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.set_plan(me_now["clinic"]["id"].as_str().unwrap(), "business");
    app.clock.advance(chrono::Duration::seconds(60));
    let cached = me(&app, &app.url, &token).await;
    assert_eq!(
        policy(&cached),
        "\"credential\";q=100;w=60, \"clinic\";q=5;w=60",
        "the plan read in the last window, until this window's round"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let read = me(&app, &app.url, &token).await;
    assert_eq!(
        policy(&read),
        "\"credential\";q=100;w=60, \"clinic\";q=9;w=60"
    );
}

/// A service account's key counts against its own id and its caller's
/// address, never its clinic: a key forged with the clinic's id (its secret is
/// checked only by the database) spends nothing of the clinic's members.
#[tokio::test]
async fn an_api_key_counts_against_itself_and_its_address_never_its_clinic() {
    let settings = limits(4, 3, 1000);
    let app = TestApp::spawn_with(&pairs(&settings)).await;
    let owner = app.owner_with_mfa("Keyed Clinic").await;
    // Each step of the set-up in a window of its own: the clinic may do three.
    app.clock.advance(chrono::Duration::seconds(60));
    let clinic = app.me(&owner).await["clinic"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.set_plan(&clinic, "business");
    let created: serde_json::Value = app
        .post_json_as(
            &owner.access,
            "/api/v1/service-accounts",
            &serde_json::json!({"name": "Lab", "permissions": ["patients.read"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let key = created["key"]["secret"].as_str().unwrap().to_owned();
    app.clock.advance(chrono::Duration::seconds(60));
    let member = me(&app, &app.url, &owner.access).await;
    assert_eq!(standing(&member).0, "clinic");
    assert_eq!(standing(&member).1, 2);
    for left in (0..4).rev() {
        let answer = app.get_as(&key, "/api/v1/patients").await;
        assert_eq!(answer.status(), 200);
        assert_eq!(
            policy(&answer),
            "\"credential\";q=4;w=60, \"address\";q=1000;w=60"
        );
        let (name, r, _) = standing(&answer);
        assert_eq!((name.as_str(), r), ("credential", left));
    }
    assert_refused(app.get_as(&key, "/api/v1/patients").await, "credential").await;
    // Keys forged in the clinic's name: refused, the clinic's count unmoved.
    let clinic_part = &key["salus_sk_".len().."salus_sk_".len() + 32];
    for n in 0..3 {
        let forged = format!("salus_sk_{clinic_part}_{:032x}_{}", n, "0".repeat(64));
        assert_eq!(app.get_as(&forged, "/api/v1/patients").await.status(), 401);
    }
    let member = me(&app, &app.url, &owner.access).await;
    assert_eq!(member.status(), 200);
    assert_eq!(standing(&member).1, 1, "only the member's own requests");
}
