//! Redocly's `recommended` ruleset over the committed contract: no errors and no
//! warnings (`--max-problems` aside, a warning also fails: none is justified today;
//! docs/api.md lists any that ever is, with its rule turned off in redocly.yaml).

use std::process::Command;
use std::time::Duration;

use crate::tools::{contract_dir, node_tool, run};

/// Redocly sends neither telemetry nor update checks (the tests reach no other host).
pub fn quiet_redocly(command: &mut Command) {
    command
        .env("REDOCLY_TELEMETRY", "off")
        .env("REDOCLY_SUPPRESS_UPDATE_NOTICE", "true");
}

#[tokio::test]
async fn redocly_recommended_finds_no_errors_or_warnings() {
    let mut lint = Command::new(node_tool("redocly"));
    lint.current_dir(contract_dir()).args([
        "lint",
        "../../openapi/openapi.json",
        "--config",
        "redocly.yaml",
        "--format",
        "stylish",
        "--max-problems",
        "1000",
    ]);
    quiet_redocly(&mut lint);
    let ran = run(lint, Duration::from_secs(120)).await;
    ran.assert_success(
        "Redocly lint (tools/contract/redocly.yaml) found errors in openapi/openapi.json: \
         fix the code that generates it, then `make openapi`",
    );
    let output = ran.output();
    assert!(
        !output.contains("You have "),
        "Redocly lint warns about openapi/openapi.json: fix the code that generates it \
         (or turn the rule off in redocly.yaml with its reason in docs/api.md)\n{output}"
    );
}
