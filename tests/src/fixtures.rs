//! Fixtures for a clinic's records, created through the API as a signed-in member:
//! patients, practitioners, bookings, notes and queue entries. Each asserts that
//! the server created what was asked, so a test's set-up fails where it fails.

use serde_json::{Value, json};

use crate::app::TestApp;
use crate::identity::Member;

/// A patient created through the API.
#[derive(Debug, Clone)]
pub struct Patient {
    /// Its id.
    pub id: String,
    /// The `ETag` of the version the create answered with.
    pub etag: String,
}

impl TestApp {
    /// POSTs `body` to `path` as `member`, asserts a 201 and returns the answer's
    /// headers and the id it names.
    async fn create(
        &self,
        member: &Member,
        path: &str,
        body: &Value,
    ) -> (reqwest::header::HeaderMap, String) {
        let response = self.post_json_as(&member.access, path, body).await;
        let status = response.status();
        let headers = response.headers().clone();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        assert_eq!(status, 201, "POST {path}: {answer}");
        let id = answer["id"].as_str().expect("id").to_owned();
        (headers, id)
    }

    /// Creates the patient `body` describes, as `member`: its id and ETag.
    pub async fn patient(&self, member: &Member, body: Value) -> Patient {
        let (headers, id) = self.create(member, "/api/v1/patients", &body).await;
        Patient {
            id,
            etag: headers["etag"].to_str().expect("etag").to_owned(),
        }
    }

    /// Makes `member` a practitioner of their clinic (in general practice): their
    /// membership id, the `practitioner_id` of their bookings.
    pub async fn practitioner(&self, member: &Member) -> String {
        let membership = self.me(member).await["membership_id"]
            .as_str()
            .expect("membership id")
            .to_owned();
        let flagged = self
            .client
            .put(format!("{}/api/v1/practitioners/{membership}", self.url))
            .header("if-match", "*")
            .bearer_auth(&member.access)
            .json(&json!({"specialty": "General practice"}))
            .send()
            .await
            .expect("request");
        assert_eq!(
            flagged.status(),
            204,
            "{}",
            flagged.text().await.unwrap_or_default()
        );
        membership
    }

    /// Books the appointment `body` describes, as `member`: its id.
    pub async fn booking(&self, member: &Member, body: Value) -> String {
        self.create(member, "/api/v1/appointments", &body).await.1
    }

    /// Writes a draft note of `text` on `patient`'s record, as `member`: its id.
    pub async fn note(&self, member: &Member, patient: &str, text: &str) -> String {
        let path = format!("/api/v1/patients/{patient}/notes");
        self.create(member, &path, &json!({ "body": text })).await.1
    }

    /// Checks `patient` into the waiting queue (no appointment), as `member`: the
    /// entry's id.
    pub async fn queue_entry(&self, member: &Member, patient: &str) -> String {
        let body = json!({ "patient_id": patient });
        self.create(member, "/api/v1/queue", &body).await.1
    }
}
