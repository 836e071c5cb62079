//! Every operation the per-address authentication rate limit counts, walked from
//! the one list the contract declares their 429 from
//! (`salus_http::rate_limited::RATE_LIMITED_OPERATIONS`): each answers a 429
//! `rate_limited` problem with `Retry-After` once the limit is passed, and not
//! before. Each operation is called from an address of its own
//! (`X-Forwarded-For` behind a trusted proxy), so no operation spends another's
//! budget and the set-up's requests spend none.

use salus_http::rate_limited::RATE_LIMITED_OPERATIONS;
use salus_tests::TestApp;
use salus_tests::contract::{document, example, operations};
use serde_json::Value;

/// The limit the server runs with: requests per address per operation's bucket.
const LIMIT: usize = 2;

#[tokio::test]
async fn every_rate_limited_operation_answers_429_past_the_limit() {
    let limit = LIMIT.to_string();
    let app = TestApp::spawn_with(&[
        ("AUTH_RATE_LIMIT_PER_MINUTE", limit.as_str()),
        ("TRUST_PROXY_TLS", "true"),
    ])
    .await;
    // A member who may call every authenticated operation of the list.
    let member = app.owner_with_mfa("Limits Clinic").await;
    let doc = document();
    let contract = operations();
    for (n, (method, path)) in RATE_LIMITED_OPERATIONS.iter().enumerate() {
        let op = contract
            .iter()
            .find(|o| o.method == *method && o.path == *path)
            .unwrap_or_else(|| panic!("{method} {path} is not an operation of the contract"));
        let declared = &doc["paths"][path][method.to_lowercase()]["responses"]["429"];
        assert!(
            declared.is_object(),
            "{}: no 429 in the contract",
            op.name()
        );
        let address = format!("203.0.113.{}", n + 1);
        let send = || {
            let method = reqwest::Method::from_bytes(op.method.as_bytes()).unwrap();
            let mut request = app
                .client
                .request(method, format!("{}{}", app.url, op.path))
                .header("x-forwarded-for", &address);
            if !op.public {
                request = request.bearer_auth(&member.access);
            }
            if let Some(schema) = &op.body {
                request = request.json(&example(schema));
            }
            request.send()
        };
        for attempt in 1..=LIMIT {
            let within = send().await.unwrap();
            let status = within.status();
            let body = within.text().await.unwrap();
            assert_ne!(
                status,
                429,
                "{}: attempt {attempt} of {LIMIT} is within the limit: {body}",
                op.name()
            );
        }
        let limited = send().await.unwrap();
        assert_eq!(limited.status(), 429, "{}: past the limit", op.name());
        let content_type = limited.headers()["content-type"].to_str().unwrap();
        assert_eq!(content_type, "application/problem+json", "{}", op.name());
        let retry_after: u64 = limited
            .headers()
            .get("retry-after")
            .unwrap_or_else(|| panic!("{}: no Retry-After", op.name()))
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            (1..=60).contains(&retry_after),
            "{}: {retry_after}",
            op.name()
        );
        let body: Value = limited.json().await.unwrap();
        assert_eq!(body["code"], "rate_limited", "{}: {body}", op.name());
    }
}

/// The list's reverse: no operation outside it answers 429, however often it is
/// called from one address past the limit, so an operation a service starts
/// throttling without joining the list (and so without its 429 in the
/// contract) fails here. Sign-out goes last: it ends the session the walk uses.
#[tokio::test]
async fn no_operation_outside_the_list_answers_429() {
    let limit = LIMIT.to_string();
    let app = TestApp::spawn_with(&[
        ("AUTH_RATE_LIMIT_PER_MINUTE", limit.as_str()),
        ("TRUST_PROXY_TLS", "true"),
    ])
    .await;
    let member = app.owner_with_mfa("Unlimited Clinic").await;
    let mut outside: Vec<_> = operations()
        .into_iter()
        .filter(|o| {
            !RATE_LIMITED_OPERATIONS
                .iter()
                .any(|(m, p)| *m == o.method && *p == o.path)
        })
        .collect();
    outside.sort_by_key(|o| o.path.ends_with("/logout"));
    assert!(outside.len() > 50, "{}", outside.len());
    for (n, op) in outside.iter().enumerate() {
        let address = format!("198.51.{}.{}", n / 250, n % 250 + 1);
        for attempt in 1..=LIMIT + 2 {
            let method = reqwest::Method::from_bytes(op.method.as_bytes()).unwrap();
            let mut request = app
                .client
                .request(
                    method,
                    format!(
                        "{}{}",
                        app.url,
                        op.path_with(&uuid::Uuid::now_v7().to_string())
                    ),
                )
                .header("x-forwarded-for", &address)
                .bearer_auth(&member.access);
            if let Some(schema) = &op.body {
                request = request.json(&example(schema));
            }
            let answer = request.send().await.unwrap();
            assert_ne!(
                answer.status(),
                429,
                "{}: attempt {attempt} answered 429 but the operation is not in \
                 RATE_LIMITED_OPERATIONS (nor its 429 in the contract)",
                op.name()
            );
        }
    }
}
