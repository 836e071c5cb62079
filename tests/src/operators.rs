//! Platform operators as the tests make them: added as the CLI adds them,
//! enrolled with the emailed link and signed in with their authenticator.

use chrono::{DateTime, Duration, Utc};
use salus_domain::platform::NewOperator;
use salus_domain::ports::operators::OperatorRole;
use serde_json::{Value, json};

use crate::TestApp;

/// Every test operator's password.
pub const OPERATOR_PASSWORD: &str = "slate harbour ninety cobalt";

impl TestApp {
    /// The services' clock now.
    pub fn now(&self) -> DateTime<Utc> {
        salus_domain::Clock::now(self.clock.as_ref())
    }

    /// Adds an operator as the CLI does; their enrolment code.
    pub async fn add_operator(
        &self,
        email: &str,
        role: OperatorRole,
        ends_at: DateTime<Utc>,
    ) -> String {
        let services = self.services();
        let email = email.to_owned();
        tokio::task::spawn_blocking(move || {
            services.platform.add_operator(&NewOperator {
                email,
                role,
                ends_at,
                added_by: "ops-lead@salus.example".into(),
            })
        })
        .await
        .unwrap()
        .unwrap()
    }

    /// The first step of enrolment: the code and the password.
    pub async fn start_operator_enrolment(&self, code: &str) -> reqwest::Response {
        self.post_json_as(
            "",
            "/api/v1/platform/enrolment",
            &json!({"token": code, "password": OPERATOR_PASSWORD}),
        )
        .await
    }

    /// Enrols with the code; the authenticator's `otpauth://` URI.
    pub async fn enrol_operator(&self, code: &str) -> String {
        let started = self.start_operator_enrolment(code).await;
        assert_eq!(started.status(), 200);
        let otpauth = started.json::<Value>().await.unwrap()["otpauth_uri"]
            .as_str()
            .unwrap()
            .to_owned();
        let confirmed = self
            .post_json_as(
                "",
                "/api/v1/platform/enrolment/confirm",
                &json!({"token": code, "code": self.totp_code(&otpauth, 0)}),
            )
            .await;
        assert_eq!(confirmed.status(), 204);
        otpauth
    }

    /// An operator's sign-in with `code`.
    pub async fn operator_login(&self, email: &str, code: &str) -> reqwest::Response {
        self.post_json_as(
            "",
            "/api/v1/platform/auth/login",
            &json!({"email": email, "password": OPERATOR_PASSWORD, "code": code}),
        )
        .await
    }

    /// Signs in with the authenticator's next code (the current one may be
    /// spent); the bearer token.
    pub async fn operator_sign_in(&self, email: &str, otpauth: &str) -> String {
        let answer = self
            .operator_login(email, &self.totp_code(otpauth, 1))
            .await;
        assert_eq!(answer.status(), 200);
        answer.json::<Value>().await.unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// An enrolled, signed-in operator: authenticator and token.
    pub async fn operator(&self, email: &str, role: OperatorRole) -> (String, String) {
        let code = self
            .add_operator(email, role, self.now() + Duration::days(30))
            .await;
        let otpauth = self.enrol_operator(&code).await;
        let token = self.operator_sign_in(email, &otpauth).await;
        (otpauth, token)
    }
}
