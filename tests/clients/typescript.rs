//! The TypeScript client: its generated types are current, it compiles under
//! `strict` without skipLibCheck, and a whole client journey runs against a server.

use std::process::Command;
use std::time::Duration;

use crate::lint::quiet_redocly;
use crate::tools::{
    Scratch, WallClock, node, node_modules, node_tool, outbox_overrides, root, run, spawn,
};

#[tokio::test]
async fn the_committed_typescript_types_match_the_contract() {
    let scratch = Scratch::new("ts-drift");
    let fresh = scratch.path.join("schema.d.ts");
    let mut generate = Command::new(node_tool("openapi-typescript"));
    generate
        .current_dir(root())
        .arg("openapi/openapi.json")
        .arg("-o")
        .arg(&fresh);
    quiet_redocly(&mut generate);
    run(generate, Duration::from_secs(120))
        .await
        .assert_success("openapi-typescript failed on openapi/openapi.json");
    let committed =
        std::fs::read_to_string(root().join("clients/typescript/schema.d.ts")).unwrap_or_default();
    let generated = std::fs::read_to_string(&fresh).expect("the generated types");
    assert!(
        committed == generated,
        "clients/typescript/schema.d.ts is out of date with openapi/openapi.json: run `make clients` and commit the result"
    );
}

#[tokio::test]
async fn the_typescript_client_compiles_strictly() {
    let text = std::fs::read_to_string(root().join("clients/typescript/tsconfig.json"))
        .expect("clients/typescript/tsconfig.json");
    let config: serde_json::Value = serde_json::from_str(&text).expect("tsconfig is JSON");
    let options = &config["compilerOptions"];
    assert_eq!(options["strict"], true, "tsconfig.json must set strict");
    assert!(
        options.get("skipLibCheck").is_none_or(|v| v == false),
        "tsconfig.json must not skip checking the declarations"
    );
    let mut tsc = Command::new(node_tool("tsc"));
    tsc.current_dir(root())
        .args(["-p", "clients/typescript", "--noEmit", "--pretty", "false"]);
    run(tsc, Duration::from_secs(180))
        .await
        .assert_success("tsc --strict found errors in clients/typescript");
}

#[tokio::test]
async fn the_typescript_journey_runs_against_a_real_server() {
    let build = Scratch::new("ts-journey");
    let outbox = Scratch::new("ts-journey-outbox");
    let mut tsc = Command::new(node_tool("tsc"));
    tsc.current_dir(root())
        .args(["-p", "clients/typescript", "--pretty", "false", "--outDir"])
        .arg(&build.path);
    run(tsc, Duration::from_secs(180))
        .await
        .assert_success("tsc could not build clients/typescript/journey.ts");

    let app = spawn(&outbox_overrides(&outbox)).await;
    let _clock = WallClock::follow(&app);
    let mut journey = Command::new(node());
    journey
        .current_dir(root())
        .arg(build.path.join("journey.js"))
        .env("NODE_PATH", node_modules())
        .env("SALUS_URL", &app.url)
        .env("SALUS_OUTBOX_DIR", &outbox.path);
    run(journey, Duration::from_secs(180))
        .await
        .assert_success("the TypeScript journey failed against the server");
}
