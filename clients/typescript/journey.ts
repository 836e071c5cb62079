// A client's whole journey through the API, typed end to end by the generated client:
// clinic sign-up, email verification (the token read from the outbox mail file), sign-in,
// TOTP enrolment and an MFA sign-in, patients with ETag/If-Match, a patient list paged
// to its end, a booking, and the typed problems 409, 412 and 422.
//
// Run by tests/clients (the_journey_runs_against_a_real_server) against a server it
// starts: SALUS_URL is the server, SALUS_OUTBOX_DIR where it writes its mails
// (OUTBOX_EMAIL_PROVIDER=file). Each step prints what it checked; any failure exits 1.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

import * as OTPAuth from "otpauth";

import { createSalusClient, type SalusClient, type components } from "./client";

type PatientRequest = components["schemas"]["PatientRequest"];
type PatientResponse = components["schemas"]["PatientResponse"];

const PASSWORD = "violet quarry mango zephyr";

let steps = 0;

function check(condition: boolean, what: string): asserts condition {
  if (!condition) {
    throw new Error(what);
  }
}

function ok(what: string): void {
  steps += 1;
  console.log(`ok ${steps} - ${what}`);
}

function env(name: string): string {
  const value = process.env[name];
  check(value !== undefined && value !== "", `${name} is not set`);
  return value;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The token of the last mail to `to` whose subject contains `subject`, from the outbox files. */
async function tokenFromOutbox(dir: string, to: string, subject: string): Promise<string> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    let names: string[] = [];
    try {
      names = readdirSync(dir).filter((n) => n.endsWith("-email.txt")).sort();
    } catch {
      names = [];
    }
    for (const name of names.reverse()) {
      const text = readFileSync(join(dir, name), "utf8");
      const blank = text.indexOf("\n\n");
      const head = blank < 0 ? text : text.slice(0, blank);
      const body = blank < 0 ? "" : text.slice(blank + 2);
      const headers = new Map(
        head.split("\n").map((line): [string, string] => {
          const at = line.indexOf(":");
          return [line.slice(0, at).trim(), line.slice(at + 1).trim()];
        }),
      );
      if (headers.get("to") !== to || !(headers.get("subject") ?? "").includes(subject)) {
        continue;
      }
      const token = body
        .split("\n")
        .map((l) => l.trim())
        .find((l) => l.length >= 6 && !l.includes(" ") && !l.includes("://") && !l.endsWith("."));
      check(token !== undefined, `no token in the mail ${name}`);
      return token;
    }
    await sleep(250);
  }
  throw new Error(`no mail "${subject}" to ${to} in ${dir} within 20 s`);
}

function totpOf(uri: string): OTPAuth.TOTP {
  const parsed = OTPAuth.URI.parse(uri);
  check(parsed instanceof OTPAuth.TOTP, "the otpauth URI is a TOTP one");
  return parsed;
}

function patient(family: string, given: string): PatientRequest {
  return {
    family_name: family,
    given_name: given,
    birth_date: "1985-12-10",
    sex: "female",
    phone: "+33612345678",
    email: "patient@example.test",
    address: { lines: ["12 rue des Lilas"], postal_code: "75011", city: "Paris", country: "FR" },
    medical_history: { allergies: ["penicillin"], conditions: ["asthma"], medications: [], notes: "journey" },
  };
}

async function signUpAndVerify(anon: SalusClient, outbox: string, email: string): Promise<void> {
  const signUp = await anon.POST("/api/v1/clinics", {
    body: {
      clinic_name: "Journey Clinic",
      email,
      password: PASSWORD,
      given_name: "Grace",
      family_name: "Hopper",
    },
  });
  check(signUp.response.status === 202, `sign-up answered ${signUp.response.status}`);
  check(signUp.data?.status === "accepted", "sign-up body says accepted");
  ok("clinic sign-up: 202, typed Accepted body");

  const token = await tokenFromOutbox(outbox, email, "Verify your email");
  ok("verification mail found in the outbox directory, token read from it");
  const verify = await anon.POST("/api/v1/auth/verify-email", { body: { token } });
  check(verify.response.status === 204, `verify-email answered ${verify.response.status}`);
  const again = await anon.POST("/api/v1/auth/verify-email", { body: { token } });
  check(again.response.status === 422, `a second verification answered ${again.response.status}`);
  check(again.error?.code === "validation_failed", `reused token: code ${again.error?.code}`);
  ok("email verified (204); the token works once (typed 422 the second time)");
}

/** Signs in an owner without MFA, enrols TOTP; returns the authenticator. */
async function enrolTotp(base: string, anon: SalusClient, email: string): Promise<OTPAuth.TOTP> {
  const login = await anon.POST("/api/v1/auth/login", { body: { email, password: PASSWORD } });
  check(login.response.status === 200, `sign-in answered ${login.response.status}`);
  check(login.data !== undefined, "sign-in has a body");
  check(login.data.status === "authenticated", `an owner without MFA gets status ${login.data.status}`);
  const enrolling = createSalusClient(base, { token: login.data.access_token });
  ok(`sign-in: status authenticated, a session that may only enrol (expires in ${login.data.expires_in} s)`);

  const me = await enrolling.GET("/api/v1/me");
  check(me.response.status === 403, `GET /me before enrolment answered ${me.response.status}`);
  check(me.error?.code === "mfa_enrollment_required", `code ${me.error?.code}`);
  ok("the owner must enrol first: typed 403 mfa_enrollment_required");

  const start = await enrolling.POST("/api/v1/me/mfa/totp");
  check(start.data !== undefined, `start TOTP answered ${start.response.status}`);
  check(start.data.qr_svg.includes("<svg"), "a QR code comes with the URI");
  const totp = totpOf(start.data.otpauth_uri);
  const confirm = await enrolling.POST("/api/v1/me/mfa/totp/confirm", { body: { code: totp.generate() } });
  check(confirm.data !== undefined, `confirm TOTP answered ${confirm.response.status}`);
  check(confirm.data.recovery_codes.length === 10, `${confirm.data.recovery_codes.length} recovery codes`);
  ok("TOTP enrolled with a code computed from the otpauth URI; 10 recovery codes");
  return totp;
}

/** Signs in with password and a TOTP code of the next step (the current one was used). */
async function signInWithMfa(base: string, anon: SalusClient, email: string, totp: OTPAuth.TOTP): Promise<SalusClient> {
  const login = await anon.POST("/api/v1/auth/login", { body: { email, password: PASSWORD } });
  check(login.data !== undefined, `sign-in answered ${login.response.status}`);
  check(login.data.status === "mfa_required", `an enrolled owner gets status ${login.data.status}`);
  ok("sign-in after enrolment: status mfa_required with a challenge");
  const code = totp.generate({ timestamp: Date.now() + totp.period * 1000 });
  const mfa = await anon.POST("/api/v1/auth/mfa", { body: { mfa_token: login.data.mfa_token, code } });
  check(mfa.data !== undefined, `POST /auth/mfa answered ${mfa.response.status} ${mfa.error?.code}`);
  check(mfa.data.status === "authenticated", `MFA sign-in status ${mfa.data.status}`);
  check(mfa.data.token_type === "Bearer", "a bearer token");
  ok("MFA sign-in: typed TokenResponse");
  return createSalusClient(base, { token: mfa.data.access_token });
}

async function patientsWithEtags(api: SalusClient): Promise<PatientResponse> {
  const created = await api.POST("/api/v1/patients", { body: patient("Lovelace", "Ada") });
  check(created.response.status === 201, `create answered ${created.response.status} ${created.error?.code}`);
  check(created.data !== undefined, "created patient body");
  const etag = created.response.headers.get("ETag");
  const location = created.response.headers.get("Location");
  check(etag !== null && etag !== "", "the created patient has an ETag");
  check(location === `/api/v1/patients/${created.data.id}`, `Location ${location}`);
  check(created.data.medical_history?.allergies[0] === "penicillin", "the medical history round-trips");
  ok(`patient created: 201, ETag and Location ${location}`);

  const read = await api.GET("/api/v1/patients/{id}", {
    params: { path: { id: created.data.id }, header: { "X-Request-Id": "journey-read-1" } },
  });
  check(read.data !== undefined, `read answered ${read.response.status}`);
  check(read.response.headers.get("ETag") === etag, "the read ETag is the created one");
  check(read.response.headers.get("X-Request-Id") === "journey-read-1", "X-Request-Id echoed");
  check(read.data.family_name === "Lovelace", "read back");
  ok("patient read: same ETag, our X-Request-Id echoed");

  const changed: PatientRequest = { ...patient("Lovelace", "Ada"), phone: "+33600000000" };
  const updated = await api.PUT("/api/v1/patients/{id}", {
    params: { path: { id: created.data.id }, header: { "If-Match": etag } },
    body: changed,
  });
  check(updated.data !== undefined, `update answered ${updated.response.status} ${updated.error?.code}`);
  const newEtag = updated.response.headers.get("ETag");
  check(newEtag !== null && newEtag !== etag, "the update made a new ETag");
  check(updated.data.phone === "+33600000000", "the phone changed");
  ok("patient updated with If-Match: 200, new ETag");

  const stale = await api.PUT("/api/v1/patients/{id}", {
    params: { path: { id: created.data.id }, header: { "If-Match": etag } },
    body: changed,
  });
  check(stale.response.status === 412, `a stale If-Match answered ${stale.response.status}`);
  check(stale.error?.code === "precondition_failed", `stale If-Match: code ${stale.error?.code}`);
  check(stale.data === undefined, "no data with a problem");
  ok("a stale If-Match: typed 412 precondition_failed");
  return updated.data;
}

async function pagination(api: SalusClient): Promise<void> {
  const total = 7;
  for (let i = 0; i < total; i += 1) {
    const made = await api.POST("/api/v1/patients", { body: patient(`Pageant${i}`, "Paula") });
    check(made.response.status === 201, `create #${i} answered ${made.response.status}`);
  }
  const seen = new Set<string>();
  let cursor: string | undefined;
  let pages = 0;
  for (;;) {
    const page = await api.GET("/api/v1/patients", {
      params: { query: { name: "pageant", limit: 3, ...(cursor === undefined ? {} : { cursor }) } },
    });
    check(page.data !== undefined, `list answered ${page.response.status} ${page.error?.code}`);
    pages += 1;
    check(page.data.items.length <= 3, "a page holds at most limit items");
    for (const p of page.data.items) {
      check(!seen.has(p.id), `patient ${p.id} listed twice`);
      seen.add(p.id);
    }
    const next = page.data.next_cursor;
    if (next === null || next === undefined) {
      break;
    }
    check(pages < 10, "the cursor chain ends");
    cursor = next;
  }
  check(seen.size === total, `${seen.size} patients listed, ${total} created`);
  check(pages === 3, `${pages} pages of 3 for ${total}`);
  ok(`patient list paged to its end: ${total} patients in ${pages} pages, next_cursor null at the end`);
}

async function booking(api: SalusClient, patientId: string): Promise<void> {
  const me = await api.GET("/api/v1/me");
  check(me.data !== undefined, `GET /me answered ${me.response.status}`);
  check(me.data.role === "owner" && me.data.mfa_enrolled, "an owner with MFA");
  // The practitioner profile is part of the membership: its version is the ETag.
  const staff = await api.GET("/api/v1/staff");
  check(staff.data !== undefined, `GET /staff answered ${staff.response.status}`);
  const mine = staff.data.items.find((m) => m.id === me.data.membership_id);
  check(mine !== undefined, "the owner is in the staff list");
  const flag = await api.PUT("/api/v1/practitioners/{id}", {
    params: { path: { id: me.data.membership_id }, header: { "If-Match": `"v${mine.version}"` } },
    body: { specialty: "General practice" },
  });
  check(flag.response.status === 204, `flag practitioner answered ${flag.response.status} ${flag.error?.code}`);
  check(
    flag.response.headers.get("ETag") === `"v${mine.version + 1}"`,
    `the membership's new ETag is ${flag.response.headers.get("ETag")}`,
  );
  ok("the owner is a practitioner (204, the membership's new ETag)");

  const body: components["schemas"]["BookRequest"] = {
    patient_id: patientId,
    practitioner_id: me.data.membership_id,
    starts_at: "2031-01-06T09:00:00Z",
    ends_at: "2031-01-06T09:30:00Z",
    reason: "persistent cough",
  };
  const booked = await api.POST("/api/v1/appointments", { body });
  check(booked.data !== undefined, `booking answered ${booked.response.status} ${booked.error?.code}`);
  check(booked.response.status === 201, `booking status ${booked.response.status}`);
  check(booked.data.status === "scheduled", `booked status ${booked.data.status}`);
  ok("appointment booked: 201, status scheduled");

  const twice = await api.POST("/api/v1/appointments", {
    body: { ...body, starts_at: "2031-01-06T09:15:00Z", ends_at: "2031-01-06T09:45:00Z" },
  });
  check(twice.response.status === 409, `a double booking answered ${twice.response.status}`);
  check(twice.error?.code === "slot_taken", `double booking: code ${twice.error?.code}`);
  ok("a double booking: typed 409 slot_taken");
}

async function invalidBody(api: SalusClient): Promise<void> {
  const invalid = await api.POST("/api/v1/patients", {
    body: { ...patient("", "Ada"), birth_date: "1985-13-45" },
  });
  check(invalid.response.status === 422, `an invalid patient answered ${invalid.response.status}`);
  check(invalid.error?.code === "validation_failed", `invalid body: code ${invalid.error?.code}`);
  const fields = (invalid.error?.errors ?? []).map((e) => e.field);
  check(fields.length > 0, "the problem names the invalid fields");
  ok(`an invalid body: typed 422 validation_failed naming ${fields.join(", ")}`);
}

async function main(): Promise<void> {
  const base = env("SALUS_URL");
  const outbox = env("SALUS_OUTBOX_DIR");
  const email = `journey.${Date.now()}.${process.pid}@clinic.test`;
  const anon = createSalusClient(base);

  await signUpAndVerify(anon, outbox, email);
  const totp = await enrolTotp(base, anon, email);
  const api = await signInWithMfa(base, anon, email, totp);
  const ada = await patientsWithEtags(api);
  await pagination(api);
  await booking(api, ada.id);
  await invalidBody(api);
  console.log(`journey: ${steps} checks passed`);
}

main().then(
  () => {
    process.exitCode = 0;
  },
  (error: unknown) => {
    console.error(`not ok - ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  },
);
