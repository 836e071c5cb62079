//! Fixtures for identity: sign-ups, sign-ins, MFA enrolment, and reading the
//! messages the server queued (as a superuser reading the outbox table).

use diesel::prelude::*;
use diesel::sql_types::Text;
use serde_json::{Value, json};

use crate::app::TestApp;

/// A password the policy accepts.
pub const PASSWORD: &str = "correct orbit lantern psalm";
/// Another accepted password.
pub const OTHER_PASSWORD: &str = "tangerine wobble fjord cactus";

/// A member signed in through the API.
#[derive(Debug, Clone)]
pub struct Member {
    /// Their email.
    pub email: String,
    /// Access token.
    pub access: String,
    /// Refresh token.
    pub refresh: String,
    /// The `otpauth://` URI when MFA is enrolled.
    pub otpauth: Option<String>,
    /// Recovery codes when MFA is enrolled.
    pub recovery_codes: Vec<String>,
}

#[derive(QueryableByName)]
struct Message {
    #[diesel(sql_type = Text)]
    subject: String,
    #[diesel(sql_type = Text)]
    body: String,
}

/// A unique email for a test.
pub fn unique_email(name: &str) -> String {
    format!("{name}.{}@clinic.test", uuid::Uuid::new_v4().simple())
}

/// The one-time token or code a message body carries: its first line that is one
/// word, or else its first six-digit number.
pub fn token_in(body: &str) -> Option<String> {
    body.lines()
        .map(str::trim)
        .find(|l| l.len() >= 6 && !l.contains(' ') && !l.contains("://") && !l.ends_with('.'))
        .map(str::to_owned)
        .or_else(|| {
            body.split(|c: char| !c.is_ascii_digit())
                .find(|w| w.len() == 6)
                .map(str::to_owned)
        })
}

impl TestApp {
    /// Messages queued for `recipient` (subject, body), oldest first.
    pub fn outbox(&self, recipient: &str) -> Vec<(String, String)> {
        let mut conn = self.db.superuser();
        diesel::sql_query(
            "SELECT subject, body FROM outbox WHERE recipient = $1 ORDER BY created_at, id",
        )
        .bind::<Text, _>(recipient)
        .load::<Message>(&mut conn)
        .expect("read outbox")
        .into_iter()
        .map(|m| (m.subject, m.body))
        .collect()
    }

    /// The token or code in the last message to `recipient` whose subject contains `subject`.
    pub fn token_sent(&self, recipient: &str, subject: &str) -> String {
        let messages = self.outbox(recipient);
        let (_, body) = messages
            .iter()
            .rev()
            .find(|(s, _)| s.contains(subject))
            .unwrap_or_else(|| panic!("no message '{subject}' to {recipient}: {messages:?}"));
        token_in(body).unwrap_or_else(|| panic!("no token in {body}"))
    }

    /// POSTs JSON.
    pub async fn post_json(&self, path: &str, body: Value) -> reqwest::Response {
        self.post(path).json(&body).send().await.expect("request")
    }

    /// Signs up a clinic; returns the response.
    pub async fn sign_up(&self, clinic: &str, email: &str, password: &str) -> reqwest::Response {
        self.post_json(
            "/api/v1/clinics",
            json!({"clinic_name": clinic, "email": email, "password": password, "given_name": "Ada", "family_name": "Quill"}),
        )
        .await
    }

    /// Signs in; returns the response.
    pub async fn login(&self, email: &str, password: &str) -> reqwest::Response {
        self.post_json(
            "/api/v1/auth/login",
            json!({"email": email, "password": password}),
        )
        .await
    }

    /// The current TOTP code of an `otpauth://` URI, at the server's clock.
    pub fn totp_code(&self, otpauth: &str, offset_steps: i64) -> String {
        let totp = totp_rs::Totp::from_url(otpauth).expect("otpauth URI");
        let now = salus_domain::Clock::now(self.clock.as_ref()).timestamp() + offset_steps * 30;
        totp.generate(u64::try_from(now).expect("time")).to_string()
    }

    /// Confirms the last sign-up of `email` with the code the server mailed it
    /// (what creates the account and the clinic): the code for an address that
    /// has an account comes in a mail of its own.
    pub async fn confirm_sign_up(&self, email: &str) {
        let has_account = self
            .outbox(email)
            .iter()
            .any(|(s, _)| s.contains("tried to sign up"));
        let subject = if has_account {
            "tried to sign up"
        } else {
            "Verify your email"
        };
        let token = self.token_sent(email, subject);
        let confirmed = self
            .post_json("/api/v1/auth/verify-email", json!({ "token": token }))
            .await;
        assert_eq!(
            confirmed.status(),
            204,
            "{}",
            confirmed.text().await.unwrap_or_default()
        );
    }

    /// Signs in an owner who has one clinic and no MFA yet: such a session may
    /// only enrol.
    pub async fn sign_in_owner(&self, email: &str) -> Member {
        let body: Value = self
            .login(email, PASSWORD)
            .await
            .json()
            .await
            .expect("json");
        assert_eq!(body["status"], "authenticated", "{body}");
        Member {
            email: email.to_owned(),
            access: body["access_token"].as_str().expect("token").to_owned(),
            refresh: body["refresh_token"].as_str().expect("token").to_owned(),
            otpauth: None,
            recovery_codes: Vec::new(),
        }
    }

    /// Signs `member` in again with their password and authenticator (a new
    /// session with a fresh MFA check), 30 seconds on so the code is a new one.
    pub async fn sign_in_again(&self, member: &mut Member) {
        self.clock.advance(chrono::Duration::seconds(30));
        let code = self.totp_code(member.otpauth.as_deref().expect("MFA enrolled"), 0);
        let challenge: Value = self
            .login(&member.email, PASSWORD)
            .await
            .json()
            .await
            .expect("json");
        let session: Value = self
            .post_json(
                "/api/v1/auth/mfa",
                json!({"mfa_token": challenge["mfa_token"], "code": code}),
            )
            .await
            .json()
            .await
            .expect("json");
        member.access = session["access_token"].as_str().expect("token").to_owned();
    }

    /// Signs up a clinic, confirms its address from the outbox and signs its owner
    /// in (MFA not enrolled yet: such a session may only enrol).
    pub async fn new_owner(&self, clinic: &str) -> Member {
        let email = unique_email("owner");
        assert_eq!(self.sign_up(clinic, &email, PASSWORD).await.status(), 202);
        self.confirm_sign_up(&email).await;
        self.sign_in_owner(&email).await
    }

    /// Enrols TOTP for a signed-in member.
    pub async fn enrol_mfa(&self, member: &mut Member) {
        let start: Value = self
            .post("/api/v1/me/mfa/totp")
            .bearer_auth(&member.access)
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("json");
        let uri = start["otpauth_uri"].as_str().expect("uri").to_owned();
        let code = self.totp_code(&uri, 0);
        let confirm = self
            .post("/api/v1/me/mfa/totp/confirm")
            .bearer_auth(&member.access)
            .json(&json!({"code": code}))
            .send()
            .await
            .expect("request");
        assert_eq!(confirm.status(), 200);
        let body: Value = confirm.json().await.expect("json");
        member.recovery_codes = body["recovery_codes"]
            .as_array()
            .expect("codes")
            .iter()
            .map(|c| c.as_str().expect("code").to_owned())
            .collect();
        member.otpauth = Some(uri);
    }

    /// A clinic owner with MFA enrolled and a session that may do everything.
    pub async fn owner_with_mfa(&self, clinic: &str) -> Member {
        let mut owner = self.new_owner(clinic).await;
        self.enrol_mfa(&mut owner).await;
        owner
    }

    /// POSTs JSON with a bearer token.
    pub async fn post_json_as(&self, token: &str, path: &str, body: &Value) -> reqwest::Response {
        self.post(path)
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    /// GET with a bearer token.
    pub async fn get_as(&self, token: &str, path: &str) -> reqwest::Response {
        self.get(path)
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }
}
