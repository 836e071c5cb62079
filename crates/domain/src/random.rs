//! Randomness as an injected port, and the opaque tokens made from it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

/// A cryptographically secure source of random bytes.
pub trait Random: Send + Sync {
    /// Fills `buf` with random bytes.
    fn fill(&self, buf: &mut [u8]);
}

/// `n` random bytes.
pub fn bytes(random: &dyn Random, n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    random.fill(&mut buf);
    buf
}

/// A 256-bit random secret, base64url without padding (43 characters).
pub fn secret_token(random: &dyn Random) -> String {
    URL_SAFE_NO_PAD.encode(bytes(random, 32))
}

/// A UUIDv7 whose random bits come from the port and time bits from `now`.
pub fn uuid_v7(random: &dyn Random, now: chrono::DateTime<chrono::Utc>) -> Uuid {
    let mut rand = [0u8; 10];
    random.fill(&mut rand);
    let millis = u64::try_from(now.timestamp_millis()).unwrap_or(0);
    uuid::Builder::from_unix_timestamp_millis(millis, &rand).into_uuid()
}

/// A string of `digits` decimal digits (one-time codes), without modulo bias.
pub fn numeric_code(random: &dyn Random, digits: usize) -> String {
    let mut out = String::with_capacity(digits);
    while out.len() < digits {
        let mut byte = [0u8; 1];
        random.fill(&mut byte);
        if byte[0] < 250 {
            out.push(char::from(b'0' + byte[0] % 10));
        }
    }
    out
}
