//! A Python client generated from the contract at test time parses real answers.

use std::process::Command;
use std::time::Duration;

use salus_tests::identity::{PASSWORD, unique_email};

use crate::tools::{Scratch, contract_dir, root, run, spawn, venv_tool};

#[tokio::test]
async fn the_generated_python_client_parses_real_sign_in_answers() {
    let scratch = Scratch::new("python-client");
    let generator = venv_tool("openapi-python-client");
    let venv_bin = generator.parent().expect("the venv's bin").to_path_buf();
    let path = std::env::join_paths(std::iter::once(venv_bin.clone()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .expect("PATH");
    let mut generate = Command::new(&generator);
    generate
        .current_dir(root())
        .env("PATH", &path)
        .args([
            "generate",
            "--path",
            "openapi/openapi.json",
            "--meta",
            "none",
        ])
        .arg("--output-path")
        .arg(scratch.path.join("salus_api_client"));
    let generated = run(generate, Duration::from_secs(180)).await;
    generated.assert_success("openapi-python-client could not generate a client");
    assert!(
        !generated.stdout.contains("Warning") && !generated.stderr.contains("Warning"),
        "openapi-python-client left parts of the contract out:\n{}",
        generated.output()
    );

    let app = spawn(&[]).await;
    let plain = app.new_owner("Python Clinic").await;
    let enrolled = app.owner_with_mfa("Python MFA Clinic").await;
    let unverified = unique_email("unverified");
    assert_eq!(
        app.sign_up("Python Pending Clinic", &unverified, PASSWORD)
            .await
            .status(),
        202
    );
    let mut check = Command::new(venv_bin.join("python"));
    check
        .current_dir(root())
        .arg(contract_dir().join("python_client.py"))
        .arg(&scratch.path)
        .env("SALUS_URL", &app.url)
        .env("SALUS_PASSWORD", PASSWORD)
        .env("SALUS_PLAIN_EMAIL", &plain.email)
        .env("SALUS_MFA_EMAIL", &enrolled.email)
        .env("SALUS_UNVERIFIED_EMAIL", &unverified);
    run(check, Duration::from_secs(120))
        .await
        .assert_success("the generated Python client failed on real answers");
}
