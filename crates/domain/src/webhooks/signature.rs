//! Standard Webhooks signatures (<https://www.standardwebhooks.com/>): an
//! endpoint's secret is shown as `whsec_` and the base64 of its bytes; each
//! delivery is signed with HMAC-SHA256 over `"<webhook-id>.<webhook-timestamp>.<body>"`
//! and the `webhook-signature` header is `v1,<base64 signature>`, one per valid
//! secret, separated by spaces (two while a rotation's previous secret is
//! still valid).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::Random;

/// What every secret shows first.
pub const SECRET_PREFIX: &str = "whsec_";

/// Random bytes in a secret (256 bits).
pub const SECRET_BYTES: usize = 32;

/// An endpoint's signing secret. Its `Debug` shows nothing of it.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret(Vec<u8>);

impl std::fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningSecret([REDACTED])")
    }
}

impl SigningSecret {
    /// A new random secret.
    pub fn generate(random: &dyn Random) -> Self {
        Self(crate::random::bytes(random, SECRET_BYTES))
    }

    /// A secret from its bytes (as opened from storage).
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// Its bytes (to seal).
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// As the clinic is shown it, once: `whsec_<base64>`.
    pub fn shown(&self) -> String {
        format!("{SECRET_PREFIX}{}", STANDARD.encode(&self.0))
    }

    /// `v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

/// The `webhook-signature` header: a signature by each secret, space-separated.
pub fn signature_header(
    secrets: &[SigningSecret],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    secrets
        .iter()
        .map(|s| s.sign(id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification (and of its reference
    /// libraries' tests), signed here and compared.
    #[test]
    fn signs_the_specifications_example() {
        let secret = STANDARD.decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            SigningSecret::from_bytes(secret).sign(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                body
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn a_secret_shows_its_prefix_and_hides_from_debug() {
        let secret = SigningSecret::from_bytes(vec![7; SECRET_BYTES]);
        assert!(secret.shown().starts_with("whsec_"));
        assert_eq!(STANDARD.decode(&secret.shown()[6..]).unwrap(), vec![7; 32]);
        assert!(!format!("{secret:?}").contains("BwcH"));
        let two = signature_header(
            &[secret.clone(), SigningSecret::from_bytes(vec![8; 32])],
            "id",
            1,
            b"{}",
        );
        let parts: Vec<&str> = two.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], secret.sign("id", 1, b"{}"));
        assert!(parts.iter().all(|p| p.starts_with("v1,")));
    }
}
