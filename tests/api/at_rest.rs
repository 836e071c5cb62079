//! No secret a caller receives is kept in the clear (issue 17): after the
//! flows that hand out one-time tokens and codes (sign-up verification,
//! invitation, password reset, phone code, operator enrolment), sessions
//! (refresh tokens, an operator's token), recovery codes and an authenticator's
//! secret, a webhook endpoint's signing secret, a service account's API key,
//! and after the outbox has
//! delivered its messages, the raw database,
//! every text, JSON and binary column of every table of every schema, holds
//! none of the values the test received.

use diesel::prelude::*;
use diesel::sql_types::Text;
use salus_domain::platform::NewOperator;
use salus_domain::ports::operators::OperatorRole;
use salus_persistence::outbox_repo::deliver_due;
use salus_persistence::{PoolSettings, build_pool};
use salus_tests::TestApp;
use salus_tests::identity::token_in;
use secrecy::SecretString;
use serde_json::{Value, json};

#[derive(QueryableByName)]
struct Column {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    kind: String,
}

/// Every text, JSON and binary column outside the system's schemas.
fn columns(conn: &mut PgConnection) -> Vec<Column> {
    diesel::sql_query(
        "SELECT format('%I.%I', c.table_schema, c.table_name) AS table_name,
                format('%I', c.column_name) AS column_name,
                CASE WHEN c.data_type = 'bytea' THEN 'bytes' ELSE 'text' END AS kind
           FROM information_schema.columns c
           JOIN information_schema.tables t
             ON t.table_schema = c.table_schema AND t.table_name = c.table_name
          WHERE c.table_schema NOT IN ('pg_catalog', 'information_schema')
            AND t.table_type = 'BASE TABLE'
            AND (c.data_type IN ('text', 'character varying', 'json', 'jsonb', 'bytea')
                 OR c.data_type = 'ARRAY')
          ORDER BY 1, 2",
    )
    .load(conn)
    .unwrap()
}

#[tokio::test]
async fn no_token_code_or_secret_a_caller_received_is_stored_in_the_clear() {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Harbour Clinic").await;
    let clinic = app.me(&owner).await["clinic"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.set_plan(&clinic, "business");
    let webhook =
        json!({"url": "https://hooks.partner.example/salus", "event_types": ["patient.created"]});
    let webhook: Value = app
        .post_json_as(&owner.access, "/api/v1/webhook-endpoints", &webhook)
        .await
        .json()
        .await
        .unwrap();
    let webhook_secret = webhook["secret"].as_str().unwrap().to_owned();
    let service_account = json!({"name": "Lab", "permissions": ["patients.read"]});
    let service_account: Value = app
        .post_json_as(&owner.access, "/api/v1/service-accounts", &service_account)
        .await
        .json()
        .await
        .unwrap();
    let api_key = service_account["key"]["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(api_key.starts_with("salus_sk_"), "{service_account}");
    let nurse = app.join_as(&owner, "nurse").await;
    app.post_json("/api/v1/auth/password-reset", json!({"email": nurse.email}))
        .await;
    let phone = app
        .client
        .post(format!("{}/api/v1/me/phone", app.url))
        .bearer_auth(&owner.access)
        .json(&json!({"phone": "+33612345678"}))
        .send()
        .await
        .unwrap();
    assert_eq!(phone.status(), 202);
    let services = app.services();
    let enrolment = tokio::task::spawn_blocking(move || {
        let ends_at = services.now() + chrono::Duration::days(30);
        services.platform.add_operator(&NewOperator {
            email: "uli@ops.example".into(),
            role: OperatorRole::Support,
            ends_at,
            added_by: "ops-lead@salus.example".into(),
        })
    })
    .await
    .unwrap()
    .unwrap();
    let started: Value = app
        .post_json(
            "/api/v1/platform/enrolment",
            json!({"token": enrolment, "password": "slate harbour ninety cobalt"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let otpauth = started["otpauth_uri"].as_str().unwrap().to_owned();
    let totp_secret = url::Url::parse(&otpauth)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "secret")
        .map(|(_, v)| v.into_owned())
        .unwrap();

    // What the callers received: every token or code the messages carried,
    // the sessions' tokens, the recovery codes, the authenticators' secrets.
    let mut received: Vec<String> = Vec::new();
    let mut su = app.db.superuser();
    #[derive(QueryableByName)]
    struct Body {
        #[diesel(sql_type = Text)]
        body: String,
    }
    for message in diesel::sql_query("SELECT body FROM outbox")
        .load::<Body>(&mut su)
        .unwrap()
    {
        if let Some(token) = token_in(&message.body) {
            received.push(token);
        }
    }
    assert!(received.len() >= 5, "the flows' messages: {received:?}");
    for member in [&owner, &nurse] {
        received.push(member.refresh.clone());
        received.extend(member.recovery_codes.iter().cloned());
        if let Some(uri) = &member.otpauth {
            let secret = url::Url::parse(uri)
                .unwrap()
                .query_pairs()
                .find(|(k, _)| k == "secret")
                .map(|(_, v)| v.into_owned())
                .unwrap();
            received.push(secret);
        }
    }
    received.push(totp_secret);
    // A webhook endpoint's signing secret, as shown and as its base64.
    received.push(webhook_secret.trim_start_matches("whsec_").to_owned());
    received.push(webhook_secret);
    received.push(api_key.rsplit('_').next().unwrap().to_owned());
    received.push(api_key);
    received.push(enrolment.clone());
    assert!(!owner.recovery_codes.is_empty());

    // The outbox delivers (and with that drops the bodies that carried them).
    let pool = build_pool(
        &SecretString::from(app.db.api_url()),
        PoolSettings {
            max_size: 1,
            statement_timeout_ms: 5000,
            checkout_timeout: std::time::Duration::from_secs(5),
        },
    );
    let later = salus_domain::Clock::now(app.clock.as_ref()) + chrono::Duration::hours(1);
    let delivered = deliver_due(&pool, later, 1000, &|_| Ok(())).unwrap();
    assert!(delivered >= 5, "{delivered}");

    let columns = columns(&mut su);
    assert!(columns.len() > 50, "{}", columns.len());
    let mut found = Vec::new();
    for secret in &received {
        for column in &columns {
            let test = if column.kind == "bytes" {
                format!(
                    "position(convert_to($1, 'UTF8') in {}) > 0",
                    column.column_name
                )
            } else {
                format!("position($1 in {}::text) > 0", column.column_name)
            };
            #[derive(QueryableByName)]
            struct Hits {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                n: i64,
            }
            let hits = diesel::sql_query(format!(
                "SELECT count(*) AS n FROM {} WHERE {test}",
                column.table_name
            ))
            .bind::<Text, _>(secret)
            .get_result::<Hits>(&mut su)
            .unwrap()
            .n;
            if hits > 0 {
                found.push(format!("{}.{}", column.table_name, column.column_name));
            }
        }
    }
    assert!(
        found.is_empty(),
        "received values stored in the clear: {found:?}"
    );
}
