//! The SMS gateway provider: each text message is an HMAC-signed JSON POST.
//!
//! ```text
//! POST <SMS_GATEWAY_URL>
//! Content-Type: application/json
//! X-Salus-Timestamp: 1767225600
//! X-Salus-Signature: v1=<hex HMAC-SHA256(SMS_GATEWAY_SECRET, "1767225600.<raw body>")>
//!
//! {"id":"<message uuid>","to":"+33612345678","body":"..."}
//! ```
//!
//! Any 2xx answer is a delivery; anything else (another status, a redirect, a
//! network error or the 10 s timeout) is an error the worker retries with back-off,
//! so the gateway may see a message more than once and should deduplicate by `id`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use salus_domain::Clock;
use salus_domain::outbox::{Deliver, PendingMessage};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

/// How long one POST may take, connection included.
const TIMEOUT: Duration = Duration::from_secs(10);

/// The `X-Salus-Signature` value for `body` sent at `timestamp` (unix seconds):
/// `v1=` and the lowercase hex HMAC-SHA256 of `"<timestamp>.<body>"` under `secret`.
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut out = String::with_capacity(3 + 2 * digest.len());
    out.push_str("v1=");
    for byte in digest {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Delivers text messages to an HTTP gateway (`SMS_GATEWAY_URL`), signed with
/// `SMS_GATEWAY_SECRET`.
pub struct SmsGatewayProvider {
    agent: ureq::Agent,
    url: String,
    secret: SecretString,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for SmsGatewayProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmsGatewayProvider")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl SmsGatewayProvider {
    /// A provider posting to `url`; timestamps come from `clock`.
    pub fn new(url: String, secret: SecretString, clock: Arc<dyn Clock>) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(TIMEOUT))
            // Statuses are judged below; a redirect is not followed (it is an error).
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .new_agent();
        Self {
            agent,
            url,
            secret,
            clock,
        }
    }
}

impl Deliver for SmsGatewayProvider {
    fn deliver(&self, message: &PendingMessage) -> Result<(), String> {
        let body = serde_json::to_vec(&serde_json::json!({
            "id": message.id,
            "to": message.recipient,
            "body": message.body,
        }))
        .map_err(|e| format!("cannot encode the SMS: {e}"))?;
        let timestamp = self.clock.now().timestamp();
        let signature = signature(self.secret.expose_secret().as_bytes(), timestamp, &body);
        // Errors name the status or the transport failure, never the body or the secret.
        let response = self
            .agent
            .post(&self.url)
            .header("Content-Type", "application/json")
            .header("X-Salus-Timestamp", timestamp.to_string())
            .header("X-Salus-Signature", signature)
            .send(&body[..])
            .map_err(|e| format!("SMS gateway unreachable: {e}"))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("SMS gateway answered {status}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_v1_and_hex_hmac_sha256_of_timestamp_dot_body() {
        // Computed independently (Python's hmac module).
        let body = br#"{"id":"0196","to":"+33612345678","body":"Your code is 123456"}"#;
        assert_eq!(
            signature(b"gateway-secret", 1_767_225_600, body),
            "v1=ae76bd292000cecc42c7ad2a94e6ddcbf4959ca8db1c9a3fdd9193b098328313"
        );
        assert_ne!(
            signature(b"gateway-secret", 1_767_225_601, body),
            signature(b"gateway-secret", 1_767_225_600, body),
            "the timestamp is signed"
        );
    }
}
