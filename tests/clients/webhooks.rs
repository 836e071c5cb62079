//! The partner's guide's verification code (docs/api.md, "Webhooks"), run as
//! written: its Python function (under python3) and its TypeScript function
//! (compiled by the pinned tsc, strict, run by Node.js) accept a real delivery
//! of a server and refuse it altered, stale, or checked with another secret.

use std::process::Command;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use salus_domain::Clock;
use salus_tests::TestApp;
use salus_tests::webhooks::Receiver;
use serde_json::{Value, json};

use crate::tools::{Scratch, node, node_modules, node_tool, on_path, root, run};

/// The code block that follows `<!-- webhook-verify:LANGUAGE -->` in the guide.
fn guide_code(language: &str) -> String {
    let guide = std::fs::read_to_string(root().join("docs/api.md")).expect("docs/api.md");
    let marker = format!("<!-- webhook-verify:{language} -->");
    let (_, after) = guide
        .split_once(&marker)
        .unwrap_or_else(|| panic!("docs/api.md has no {marker}"));
    let fence = after.find("```").expect("a code block after the marker");
    let code = &after[fence..];
    let start = code.find('\n').expect("the fence's line") + 1;
    let end = code[start..].find("\n```").expect("the block's end");
    code[start..start + end].to_owned()
}

/// A delivery of a real server, as its receiver got it, and the secret.
async fn real_delivery() -> (String, Value, Vec<u8>, i64) {
    let app = TestApp::spawn().await;
    let owner = app.owner_with_mfa("Guide Clinic").await;
    let clinic = app.me(&owner).await["clinic"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.set_plan(&clinic, "business");
    let receiver = Receiver::start();
    let created: Value = app
        .post_json_as(
            &owner.access,
            "/api/v1/webhook-endpoints",
            &json!({"url": receiver.url(), "event_types": ["patient.created"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let secret = created["secret"].as_str().unwrap().to_owned();
    app.patient(
        &owner,
        json!({"family_name": "Guide", "given_name": "Ada", "birth_date": "1980-02-03", "sex": "female"}),
    )
    .await;
    assert_eq!(app.webhook_round().await.delivered, 1);
    let request = receiver.received().pop().unwrap();
    let headers = json!({
        "webhook-id": request.header("webhook-id"),
        "webhook-timestamp": request.header("webhook-timestamp"),
        "webhook-signature": request.header("webhook-signature"),
    });
    (secret, headers, request.body, app.clock.now().timestamp())
}

/// The cases each language's function is given, and what it must say.
fn cases(secret: &str, headers: &Value, body: &[u8], now: i64) -> (Value, Vec<&'static str>) {
    let mut altered = body.to_vec();
    altered.extend_from_slice(b" ");
    let other = format!("whsec_{}", STANDARD.encode([7u8; 32]));
    let case = |secret: &str, body: &[u8], now: i64| json!({"secret": secret, "headers": headers, "body": STANDARD.encode(body), "now": now});
    (
        json!([
            case(secret, body, now),
            case(secret, &altered, now),
            case(secret, body, now + 301),
            case(&other, body, now),
        ]),
        vec!["patient.created", "refused", "refused", "refused"],
    )
}

const PYTHON_DRIVER: &str = r#"
import base64, json, sys
from verify import verify_webhook

for case in json.load(open(sys.argv[1])):
    try:
        event = verify_webhook(case["secret"], case["headers"], base64.b64decode(case["body"]), now=case["now"])
        print(event["type"])
    except ValueError:
        print("refused")
"#;

const TYPESCRIPT_DRIVER: &str = r#"
import { readFileSync } from "node:fs";
import { verifyWebhook } from "./verify";

type Case = { secret: string; headers: Record<string, string>; body: string; now: number };
const cases = JSON.parse(readFileSync(process.argv[2] ?? "", "utf8")) as Case[];
for (const c of cases) {
  try {
    const event = verifyWebhook(c.secret, c.headers, Buffer.from(c.body, "base64"), c.now) as { type: string };
    console.log(event.type);
  } catch {
    console.log("refused");
  }
}
"#;

#[tokio::test]
async fn the_guides_verification_code_accepts_a_real_delivery_and_refuses_it_altered() {
    let (secret, headers, body, now) = real_delivery().await;
    let (cases, expected) = cases(&secret, &headers, &body, now);
    let work = Scratch::new("webhook-guide");
    let cases_file = work.path.join("cases.json");
    std::fs::write(&cases_file, cases.to_string()).unwrap();

    std::fs::write(work.path.join("verify.py"), guide_code("python")).unwrap();
    std::fs::write(work.path.join("driver.py"), PYTHON_DRIVER).unwrap();
    let mut python = Command::new(on_path("python3"));
    python
        .current_dir(&work.path)
        .arg("driver.py")
        .arg(&cases_file);
    let ran = run(python, Duration::from_secs(60)).await;
    ran.assert_success("the guide's Python verification failed to run");
    assert_eq!(ran.stdout.lines().collect::<Vec<_>>(), expected, "Python");

    std::fs::write(work.path.join("verify.ts"), guide_code("typescript")).unwrap();
    std::fs::write(work.path.join("driver.ts"), TYPESCRIPT_DRIVER).unwrap();
    let tsconfig = json!({"compilerOptions": {
        "strict": true, "noUncheckedIndexedAccess": true, "target": "ES2022", "lib": ["ES2022"],
        "module": "nodenext", "moduleResolution": "nodenext", "types": ["node"],
        "typeRoots": [node_modules().join("@types")], "rootDir": ".", "outDir": "dist",
        "noEmitOnError": true}, "include": ["*.ts"]});
    std::fs::write(work.path.join("tsconfig.json"), tsconfig.to_string()).unwrap();
    let mut tsc = Command::new(node_tool("tsc"));
    tsc.current_dir(&work.path)
        .args(["-p", ".", "--pretty", "false"]);
    run(tsc, Duration::from_secs(120))
        .await
        .assert_success("the guide's TypeScript does not compile strictly");
    let mut typescript = Command::new(node());
    typescript
        .current_dir(&work.path)
        .arg(work.path.join("dist/driver.js"))
        .arg(&cases_file);
    let ran = run(typescript, Duration::from_secs(60)).await;
    ran.assert_success("the guide's TypeScript verification failed to run");
    assert_eq!(
        ran.stdout.lines().collect::<Vec<_>>(),
        expected,
        "TypeScript"
    );
}
