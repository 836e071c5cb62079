//! Fixtures for access control: members of each role, clinic plans.

use diesel::prelude::*;
use diesel::sql_types::{Text, Uuid as SqlUuid};
use serde_json::{Value, json};

use crate::app::TestApp;
use crate::identity::{Member, unique_email};

/// A password for invited members.
pub const MEMBER_PASSWORD: &str = "juniper kettle orbit saffron";

impl TestApp {
    /// Sets a clinic's plan directly in the database (as the operator command does).
    pub fn set_plan(&self, clinic_id: &str, plan: &str) {
        let mut conn = self.db.superuser();
        diesel::sql_query("UPDATE clinics SET plan = $1 WHERE id = $2")
            .bind::<Text, _>(plan)
            .bind::<SqlUuid, _>(uuid::Uuid::parse_str(clinic_id).expect("uuid"))
            .execute(&mut conn)
            .expect("set plan");
    }

    /// The `/me` of a member.
    pub async fn me(&self, member: &Member) -> Value {
        self.get_as(&member.access, "/api/v1/me")
            .await
            .json()
            .await
            .expect("json")
    }

    /// Invites someone with `role` as `inviter`, accepts as a new account, signs in
    /// (enrolling MFA when the role requires it) and returns the member.
    pub async fn join_as(&self, inviter: &Member, role: &str) -> Member {
        let email = unique_email(role);
        let invite = self
            .post("/api/v1/invitations")
            .bearer_auth(&inviter.access)
            .json(&json!({"email": email, "role": role}))
            .send()
            .await
            .expect("request");
        assert_eq!(
            invite.status(),
            201,
            "{}",
            invite.text().await.unwrap_or_default()
        );
        let token = self.token_sent(&email, "invited to join");
        let accept = self
            .post_json(
                "/api/v1/invitations/accept",
                json!({"token": token, "password": MEMBER_PASSWORD, "given_name": "Sam", "family_name": "Rivers"}),
            )
            .await;
        assert_eq!(
            accept.status(),
            204,
            "{}",
            accept.text().await.unwrap_or_default()
        );
        let login: Value = self
            .login(&email, MEMBER_PASSWORD)
            .await
            .json()
            .await
            .expect("json");
        assert_eq!(login["status"], "authenticated", "{login}");
        let mut member = Member {
            email,
            access: login["access_token"].as_str().expect("token").to_owned(),
            refresh: login["refresh_token"].as_str().expect("token").to_owned(),
            otpauth: None,
            recovery_codes: Vec::new(),
        };
        if role == "administrator" {
            self.enrol_mfa(&mut member).await;
        }
        member
    }
}
