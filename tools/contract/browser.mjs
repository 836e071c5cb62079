// Headless Chromium (Debian's, driven by playwright-core) against a real Salus server,
// with no way out to any other host. Run by tests/clients (browser) as
//
//   node browser.mjs docs | cors-allowed | cors-denied
//
// docs          /docs renders one block per operation of the contract
//               (SALUS_EXPECTED_OPERATIONS), with every request staying on the server.
// cors-allowed  a page of an allowed origin (SALUS_PAGE_ORIGIN) reads ETag and
//               X-Request-Id from a cross-origin answer and sends an X-Request-Id.
// cors-denied   a page of another origin (SALUS_PAGE_ORIGIN) gets nothing.
//
// The environment also names the server (SALUS_URL), the browser (SALUS_CHROMIUM), a
// fresh profile directory (SALUS_PROFILE_DIR) and, for the CORS checks, an access token
// (SALUS_TOKEN, never printed) and a patient (SALUS_PATIENT_ID). A request to any origin
// other than the server's and the page's is a failure. Exit 1 on any failure.
import { chromium } from "playwright-core";

const failures = [];
let checks = 0;

function ok(what) {
  checks += 1;
  console.log(`ok ${checks} - ${what}`);
}

function fail(what) {
  failures.push(what);
  console.log(`not ok - ${what}`);
}

function expect(condition, what, detail = "") {
  if (condition) {
    ok(what);
  } else {
    fail(detail ? `${what}: ${detail}` : what);
  }
}

function env(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set`);
  }
  return value;
}

const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-default-apps",
  "--disable-extensions",
  "--metrics-recording-only",
  "--no-default-browser-check",
  "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
];

async function withBrowser(allowedOrigins, body) {
  const context = await chromium.launchPersistentContext(env("SALUS_PROFILE_DIR"), {
    executablePath: env("SALUS_CHROMIUM"),
    headless: true,
    args: FLAGS,
    timeout: 60_000,
  });
  const outside = [];
  const consoleLines = [];
  context.on("request", (request) => {
    const url = new URL(request.url());
    if (["data:", "blob:", "about:"].includes(url.protocol)) {
      return;
    }
    if (!allowedOrigins.includes(url.origin)) {
      outside.push(request.url());
    }
  });
  context.on("console", (message) => {
    if (message.type() === "error" || message.type() === "warning") {
      consoleLines.push(`${message.type()}: ${message.text()}`);
    }
  });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(20_000);
    await body(page);
  } finally {
    await context.close();
  }
  expect(outside.length === 0, "no request left the server's and the page's origins", outside.join(", "));
  if (consoleLines.length > 0) {
    console.log(`# browser console:\n# ${consoleLines.join("\n# ")}`);
  }
}

async function docs() {
  const server = new URL(env("SALUS_URL")).origin;
  const expected = Number(env("SALUS_EXPECTED_OPERATIONS"));
  await withBrowser([server], async (page) => {
    const response = await page.goto(`${server}/docs`, { waitUntil: "load" });
    expect(response !== null && response.status() === 200, "GET /docs answers 200", `${response?.status()}`);
    let rendered = 0;
    try {
      await page.waitForSelector(".opblock, .opblock-tag", { timeout: 20_000 });
      // Expand any collapsed tag section, so every operation's block is on the page.
      for (const tag of await page.$$(".opblock-tag-section:not(.is-open) .opblock-tag")) {
        await tag.click();
      }
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline) {
        rendered = await page.locator(".opblock").count();
        if (rendered >= expected) {
          break;
        }
        await page.waitForTimeout(250);
      }
    } catch {
      // Nothing rendered within 20 s: counted as 0 below.
    }
    const title = await page.title();
    expect(
      rendered === expected,
      `/docs renders the ${expected} operations of the contract (Swagger UI .opblock)`,
      `${rendered} rendered (page title "${title}")`,
    );
  });
}

async function crossOriginFetch(page, request) {
  return page.evaluate(async ({ url, headers }) => {
    try {
      const response = await fetch(url, { headers, mode: "cors" });
      return {
        ok: true,
        status: response.status,
        etag: response.headers.get("ETag"),
        requestId: response.headers.get("X-Request-Id"),
      };
    } catch (error) {
      return { ok: false, error: String(error) };
    }
  }, request);
}

async function cors(allowed) {
  const server = new URL(env("SALUS_URL")).origin;
  const origin = new URL(env("SALUS_PAGE_ORIGIN")).origin;
  const patientUrl = `${server}/api/v1/patients/${env("SALUS_PATIENT_ID")}`;
  const authorization = `Bearer ${env("SALUS_TOKEN")}`;
  await withBrowser([server, origin], async (page) => {
    const response = await page.goto(`${origin}/`, { waitUntil: "load" });
    expect(response !== null && response.status() === 200, `the page of ${origin} loaded`);
    const plain = await crossOriginFetch(page, { url: patientUrl, headers: { Authorization: authorization } });
    const sent = await crossOriginFetch(page, {
      url: patientUrl,
      headers: { Authorization: authorization, "X-Request-Id": "browser-check-42" },
    });
    const simple = await crossOriginFetch(page, { url: `${server}/health/live`, headers: {} });
    if (allowed) {
      expect(plain.ok && plain.status === 200, `${origin} reads a patient cross-origin (200)`, JSON.stringify(plain));
      expect(plain.ok && typeof plain.etag === "string" && plain.etag.length > 0, "the page reads ETag", `ETag ${plain.etag}`);
      expect(
        plain.ok && typeof plain.requestId === "string" && plain.requestId.length > 0,
        "the page reads X-Request-Id (Access-Control-Expose-Headers)",
        `X-Request-Id ${plain.requestId}`,
      );
      expect(
        sent.ok && sent.status === 200,
        "the page may send X-Request-Id (Access-Control-Allow-Headers)",
        JSON.stringify(sent),
      );
      expect(
        sent.ok && sent.requestId === "browser-check-42",
        "the X-Request-Id the page sent comes back",
        JSON.stringify(sent),
      );
    } else {
      expect(!plain.ok, `${origin} (not allowed) cannot read a patient`, JSON.stringify(plain));
      expect(!sent.ok, `${origin} (not allowed) cannot send X-Request-Id`, JSON.stringify(sent));
      expect(!simple.ok, `${origin} (not allowed) cannot read even a simple GET /health/live`, JSON.stringify(simple));
    }
  });
}

const checksByName = {
  docs,
  "cors-allowed": () => cors(true),
  "cors-denied": () => cors(false),
};

const name = process.argv[2] ?? "";
const run = checksByName[name];
if (run === undefined) {
  console.error(`usage: node browser.mjs ${Object.keys(checksByName).join(" | ")}`);
  process.exit(2);
}
try {
  await run();
} catch (error) {
  fail(`${name}: ${error instanceof Error ? error.stack : String(error)}`);
}
console.log(`browser ${name}: ${checks} passed, ${failures.length} failed`);
process.exitCode = failures.length === 0 ? 0 : 1;
