//! The API key's text: `salus_sk_<clinic>_<key id>_<secret>` (the two ids as
//! 32 hex digits, the secret as 64: 256 random bits). The fixed prefix lets
//! secret scanners recognise a leaked key; the clinic in clear lets the server
//! set the clinic's scope before it reads the key; only the SHA-256 of the
//! whole text is stored, compared in constant time.

use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::crypto::sha256;
use crate::ids::{ApiKeyId, ClinicId};
use crate::random::{Random, bytes};

/// What every API key starts with.
pub const PREFIX: &str = "salus_sk_";

/// Random bytes in a key's secret part.
const SECRET_BYTES: usize = 32;

/// A key as a caller presents it: its clinic and id, and the hash of the whole
/// text (the text itself is not kept).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PresentedKey {
    /// The clinic the key belongs to.
    pub clinic: ClinicId,
    /// The key's id.
    pub id: ApiKeyId,
    /// The SHA-256 of the whole key.
    pub sha256: [u8; 32],
}

impl std::fmt::Debug for PresentedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PresentedKey")
            .field("clinic", &self.clinic)
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl PresentedKey {
    /// Whether `stored` is this key's hash (constant time).
    pub fn matches(&self, stored: &[u8]) -> bool {
        stored.len() == self.sha256.len() && bool::from(self.sha256.ct_eq(stored))
    }
}

/// A key just issued: its text (shown once) and the hash to store. Its
/// `Debug` hides the text.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedKey {
    /// The whole key, for the caller.
    pub text: String,
    /// Its SHA-256, for the store.
    pub sha256: Vec<u8>,
}

impl std::fmt::Debug for IssuedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IssuedKey([REDACTED])")
    }
}

fn hex(data: &[u8]) -> String {
    data.iter().map(|b| format!("{b:02x}")).collect()
}

/// A new key `id` of `clinic`.
pub fn issue(random: &dyn Random, clinic: ClinicId, id: ApiKeyId) -> IssuedKey {
    let text = format!(
        "{PREFIX}{}_{}_{}",
        clinic.0.simple(),
        id.0.simple(),
        hex(&bytes(random, SECRET_BYTES))
    );
    IssuedKey {
        sha256: sha256(text.as_bytes()),
        text,
    }
}

/// Whether a bearer credential is meant as an API key (it has the prefix).
pub fn looks_like_key(bearer: &str) -> bool {
    bearer.starts_with(PREFIX)
}

fn lower_hex(part: &str, len: usize) -> bool {
    part.len() == len && part.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The clinic, id and hash of a presented key; `None` unless it has the
/// exact shape of one.
pub fn parse(bearer: &str) -> Option<PresentedKey> {
    let rest = bearer.strip_prefix(PREFIX)?;
    let mut parts = rest.split('_');
    let (clinic, id, secret) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some()
        || !lower_hex(clinic, 32)
        || !lower_hex(id, 32)
        || !lower_hex(secret, 2 * SECRET_BYTES)
    {
        return None;
    }
    let digest = sha256(bearer.as_bytes());
    Some(PresentedKey {
        clinic: ClinicId(Uuid::parse_str(clinic).ok()?),
        id: ApiKeyId(Uuid::parse_str(id).ok()?),
        sha256: <[u8; 32]>::try_from(digest.as_slice()).ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Counting(std::sync::atomic::AtomicU8);

    impl Random for Counting {
        fn fill(&self, buf: &mut [u8]) {
            for b in buf {
                *b = self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }

    fn ids() -> (ClinicId, ApiKeyId) {
        (
            ClinicId(Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_0001)),
            ApiKeyId(Uuid::from_u128(0x0193_0000_0000_7000_8000_0000_0000_0002)),
        )
    }

    #[test]
    fn an_issued_key_parses_back_to_its_clinic_id_and_hash() {
        let (clinic, id) = ids();
        let issued = issue(&Counting(0.into()), clinic, id);
        assert!(issued.text.starts_with(PREFIX));
        assert_eq!(issued.text.len(), PREFIX.len() + 32 + 1 + 32 + 1 + 64);
        let presented = parse(&issued.text).expect("parses");
        assert_eq!((presented.clinic, presented.id), (clinic, id));
        assert!(presented.matches(&issued.sha256));
        assert!(!format!("{issued:?}{presented:?}").contains(&issued.text[PREFIX.len()..]));
    }

    #[test]
    fn two_keys_differ_and_one_does_not_match_the_others_hash() {
        let (clinic, id) = ids();
        let random = Counting(0.into());
        let (a, b) = (issue(&random, clinic, id), issue(&random, clinic, id));
        assert_ne!(a.text, b.text);
        assert!(!parse(&a.text).unwrap().matches(&b.sha256));
        assert!(!parse(&a.text).unwrap().matches(&b.sha256[..31]));
    }

    #[test]
    fn anything_but_the_exact_shape_is_not_a_key() {
        let (clinic, id) = ids();
        let text = issue(&Counting(7.into()), clinic, id).text;
        let upper = text.to_uppercase().replace("SALUS_SK_", PREFIX);
        for bad in [
            "",
            PREFIX,
            &text[..text.len() - 1],
            &format!("{text}0"),
            &format!("{text}_00"),
            &text.replacen(PREFIX, "salus_pk_", 1),
            &upper,
            &text.replace('_', "-"),
        ] {
            assert!(parse(bad).is_none(), "{bad:?}");
        }
    }
}
