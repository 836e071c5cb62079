//! The `salus` binary as an operator meets it.

// Test code: a failed set-up or assertion should panic with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

fn salus(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_salus"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .current_dir(std::env::temp_dir())
        .output()
        .expect("run salus");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.code().unwrap_or(-1), text)
}

#[test]
fn help_explains_every_sub_command() {
    let (code, text) = salus(&["--help"], &[]);
    assert_eq!(code, 0, "{text}");
    for command in ["serve", "migrate", "openapi", "check-config"] {
        assert!(
            text.contains(command),
            "--help does not mention {command}: {text}"
        );
    }
}

#[test]
fn production_without_secrets_refuses_to_start_naming_each_problem() {
    let (code, text) = salus(&["serve"], &[("APP_ENV", "production")]);
    assert_ne!(code, 0, "{text}");
    assert!(text.contains("DATABASE_URL is missing"), "{text}");
    assert!(text.contains("requires TLS"), "{text}");
    assert!(text.contains("SECURITY_CONTACT is missing"), "{text}");
}

#[test]
fn production_refuses_the_example_secrets() {
    let example = include_str!("../../../.env.example");
    let database_url = example
        .lines()
        .find_map(|l| l.strip_prefix("DATABASE_URL="))
        .unwrap();
    let (code, text) = salus(
        &["check-config"],
        &[
            ("APP_ENV", "staging"),
            ("DATABASE_URL", database_url),
            ("TRUST_PROXY_TLS", "true"),
            ("SECURITY_CONTACT", "mailto:security@clinic.test"),
        ],
    );
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("example password"), "{text}");
    assert!(
        !text.contains("salus-dev-api-password"),
        "a secret was printed: {text}"
    );
}

#[test]
fn check_config_accepts_a_development_configuration() {
    let (code, text) = salus(
        &["check-config"],
        &[
            ("APP_ENV", "development"),
            ("DATABASE_URL", "postgres://localhost/salus"),
        ],
    );
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("configuration OK"), "{text}");
}

#[test]
fn migrate_without_its_url_names_it() {
    let (code, text) = salus(&["migrate"], &[("APP_ENV", "test")]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("MIGRATION_DATABASE_URL is missing"), "{text}");
}

#[test]
fn openapi_prints_the_document() {
    let (code, text) = salus(&["openapi"], &[]);
    assert_eq!(code, 0);
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
}
