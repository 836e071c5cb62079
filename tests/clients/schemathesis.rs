//! schemathesis over every operation of the served contract, with every check and
//! every phase (stateful included), authenticated as a clinic owner created through
//! the API. Its reports are kept under the target directory
//! (`target/tmp/contract-reports/schemathesis`).

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use salus_domain::Clock;
use salus_tests::identity::{Member, PASSWORD, unique_email};
use serde_json::{Value, json};

use crate::tools::{Scratch, WallClock, contract_dir, run, spawn, venv_tool};

/// Test cases per operation and phase (`SALUS_ST_MAX_EXAMPLES` overrides).
const MAX_EXAMPLES: &str = "100";
/// The generation seed, so a run can be repeated (`SALUS_ST_SEED` overrides).
const SEED: &str = "20261";

fn setting(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// Where the run's reports are kept.
pub fn reports_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("contract-reports/schemathesis")
}

#[tokio::test]
async fn schemathesis_finds_no_failures() {
    let reports = reports_dir();
    let _ = std::fs::remove_dir_all(&reports);
    std::fs::create_dir_all(&reports).expect("the reports directory");
    let work = Scratch::new("schemathesis");
    let app = spawn(&[
        ("HTTP_WORKERS", "2".to_owned()),
        ("DB_POOL_SIZE", "8".to_owned()),
    ])
    .await;
    let _clock = WallClock::follow(&app);

    // The principal, through the API: sign-up, verification, sign-in, TOTP.
    let email = unique_email("fuzz");
    assert_eq!(
        app.sign_up("Fuzz Clinic", &email, PASSWORD).await.status(),
        202
    );
    let token = app.token_sent(&email, "Verify your email");
    let verified = app
        .post_json("/api/v1/auth/verify-email", json!({"token": token}))
        .await;
    assert_eq!(verified.status(), 204);
    let login: Value = app.login(&email, PASSWORD).await.json().await.unwrap();
    assert_eq!(login["status"], "authenticated", "{login}");
    let mut owner = Member {
        email: email.clone(),
        access: login["access_token"].as_str().unwrap().to_owned(),
        refresh: login["refresh_token"].as_str().unwrap().to_owned(),
        otpauth: None,
        recovery_codes: Vec::new(),
    };
    app.enrol_mfa(&mut owner).await;
    let last_step = app.clock.now().timestamp() / 30;

    let mut st = Command::new(venv_tool("st"));
    st.current_dir(&work.path)
        .arg("--config-file")
        .arg(contract_dir().join("schemathesis.toml"))
        .arg("run")
        .arg(format!("{}/openapi.json", app.url))
        .args([
            "--checks",
            "all",
            "--phases",
            "examples,coverage,fuzzing,stateful",
            "--workers",
            "2",
            "--request-timeout",
            "10",
            "--generation-database",
            "none",
            "--no-color",
            "--report",
            "junit,har",
            "--max-examples",
        ])
        .arg(setting("SALUS_ST_MAX_EXAMPLES", MAX_EXAMPLES))
        .arg("--seed")
        .arg(setting("SALUS_ST_SEED", SEED))
        .arg("--report-dir")
        .arg(&reports)
        .env("SCHEMATHESIS_HOOKS", contract_dir().join("hooks.py"))
        .env("SALUS_URL", &app.url)
        .env("SALUS_ST_EMAIL", &owner.email)
        .env("SALUS_ST_PASSWORD", PASSWORD)
        .env("SALUS_ST_TOTP_URI", owner.otpauth.as_deref().unwrap())
        .env("SALUS_ST_RECOVERY_CODES", owner.recovery_codes.join(","))
        .env("SALUS_ST_LAST_STEP", last_step.to_string())
        .env("PYTHONDONTWRITEBYTECODE", "1");
    // A bound on a hang, not a measure: 123 operations take 8 to 9 minutes on
    // a loaded two-core machine.
    let ran = run(st, Duration::from_secs(1200)).await;
    std::fs::write(reports.join("st-output.txt"), ran.output()).expect("save the output");

    // Redact the principal's secrets out of the reports, and group the failures.
    let mut summarise = Command::new(venv_tool("python"));
    summarise
        .arg(contract_dir().join("st_summary.py"))
        .arg(&reports);
    let summary = run(summarise, Duration::from_secs(60)).await;
    summary.assert_success("tools/contract/st_summary.py could not read the report");
    std::fs::write(reports.join("summary.md"), &summary.stdout).expect("save the summary");
    let redacted = std::fs::read_to_string(reports.join("st-output.txt")).unwrap_or_default();
    let lines: Vec<&str> = redacted.lines().collect();
    let tail = lines[lines.len().saturating_sub(40)..].join("\n");
    assert!(
        ran.success(),
        "schemathesis found failures; the full output, the JUnit report and this summary are in {}\n\n{}\n--- the end of its output ---\n{tail}",
        reports.display(),
        summary.stdout,
    );
    println!("{}\n{tail}", summary.stdout);
}
