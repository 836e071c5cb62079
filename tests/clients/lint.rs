//! Redocly's `recommended` ruleset over the committed contract: no errors.

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
async fn redocly_recommended_finds_no_errors() {
    let mut lint = Command::new(node_tool("redocly"));
    lint.current_dir(contract_dir()).args([
        "lint",
        "../../openapi/openapi.json",
        "--config",
        "redocly.yaml",
        "--format",
        "stylish",
    ]);
    quiet_redocly(&mut lint);
    run(lint, Duration::from_secs(120)).await.assert_success(
        "Redocly lint (tools/contract/redocly.yaml) found errors in openapi/openapi.json: \
         fix the code that generates it, then `make openapi`",
    );
}
