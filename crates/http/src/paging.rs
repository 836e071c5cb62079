//! Cursor pagination shared by the list routes: a page size checked against its
//! cap, and sealed cursors.
//!
//! The domain gives each page the sort key its next page starts after
//! ([`salus_domain::paging::Page`]). Here that key is sealed (AES-256-GCM under a
//! server key) into an opaque cursor bound to the list and the clinic: it reveals
//! nothing (a patient list's cursor would otherwise carry a patient's name into
//! URLs and logs), and a cursor altered, of another list or of another clinic is a
//! 422.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use salus_domain::Random;
use salus_domain::crypto::MasterKeys;
use salus_domain::ids::ClinicId;
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

use crate::problem::{ApiError, FieldError};

/// Largest page any list serves.
pub const MAX_LIMIT: i64 = salus_domain::paging::MAX_PAGE;

fn invalid(field: &str, code: &str, message: &str) -> ApiError {
    ApiError::Validation(vec![FieldError {
        field: field.into(),
        code: code.into(),
        message: message.into(),
    }])
}

/// The page size asked for (or `default`), refused (422) outside 1 to 100.
pub fn page_limit(limit: Option<i64>, default: i64) -> Result<i64, ApiError> {
    let limit = limit.unwrap_or(default);
    if (1..=MAX_LIMIT).contains(&limit) {
        Ok(limit)
    } else {
        Err(invalid("limit", "range", "must be between 1 and 100"))
    }
}

/// Which list a cursor belongs to: its name, the clinic, and the resource it is
/// the list of, for lists below one (a patient's access log).
#[derive(Debug, Clone, Copy)]
pub struct ListScope {
    /// The list's name (its operation id).
    pub list: &'static str,
    /// The caller's clinic.
    pub clinic: ClinicId,
    /// The resource the list belongs to, if any.
    pub within: Option<Uuid>,
}

impl ListScope {
    /// A clinic-wide list.
    pub fn of(list: &'static str, clinic: ClinicId) -> Self {
        Self {
            list,
            clinic,
            within: None,
        }
    }

    /// A list below one resource.
    pub fn within(list: &'static str, clinic: ClinicId, resource: Uuid) -> Self {
        Self {
            list,
            clinic,
            within: Some(resource),
        }
    }

    /// The associated data every cursor of this list is sealed with.
    fn aad(&self) -> Vec<u8> {
        let within = self.within.map(|u| u.to_string()).unwrap_or_default();
        format!(
            "salus/cursor/v1\u{1f}{}\u{1f}{}\u{1f}{within}",
            self.list, self.clinic.0
        )
        .into_bytes()
    }
}

/// Seals sort keys into cursors and opens them again.
pub struct Cursors {
    ring: MasterKeys,
    random: Arc<dyn Random>,
}

impl std::fmt::Debug for Cursors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Cursors({:?})", self.ring)
    }
}

impl Cursors {
    /// Cursors under `ring` (its first key seals, all open), nonces from `random`.
    pub fn new(ring: MasterKeys, random: Arc<dyn Random>) -> Self {
        Self { ring, random }
    }

    /// The cursor of a next-page key, or `None` when there is no next page.
    pub fn seal<K: Serialize>(
        &self,
        scope: &ListScope,
        next: Option<&K>,
    ) -> Result<Option<String>, ApiError> {
        let Some(key) = next else {
            return Ok(None);
        };
        let plaintext = serde_json::to_vec(key).map_err(ApiError::internal)?;
        let sealed = self
            .ring
            .seal(self.random.as_ref(), &plaintext, &scope.aad())
            .map_err(ApiError::internal)?;
        Ok(Some(URL_SAFE_NO_PAD.encode(sealed)))
    }

    /// The key a cursor of this list and clinic carries; 422 for anything else. An
    /// empty cursor is no cursor (the first page).
    pub fn open<K: DeserializeOwned>(
        &self,
        scope: &ListScope,
        cursor: Option<&str>,
    ) -> Result<Option<K>, ApiError> {
        cursor
            .filter(|c| !c.is_empty())
            .map(|c| {
                URL_SAFE_NO_PAD
                    .decode(c)
                    .ok()
                    .and_then(|sealed| self.ring.open(&sealed, &scope.aad()).ok())
                    .and_then(|plain| serde_json::from_slice(&plain).ok())
                    .ok_or_else(|| invalid("cursor", "invalid", "is not a cursor of this list"))
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use salus_domain::crypto::MasterKey;

    use super::*;

    struct Counter(std::sync::atomic::AtomicU8);

    impl Random for Counter {
        fn fill(&self, buf: &mut [u8]) {
            let n = self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            buf.fill(n);
        }
    }

    fn sealer(key: u8) -> Cursors {
        let ring = MasterKeys::new(vec![MasterKey {
            id: "c1".into(),
            key: [key; 32],
        }]);
        Cursors::new(
            ring.unwrap(),
            Arc::new(Counter(std::sync::atomic::AtomicU8::new(0))),
        )
    }

    #[test]
    fn a_cursor_opens_only_for_its_list_and_clinic_and_reveals_nothing() {
        let cursors = sealer(7);
        let clinic = ClinicId(Uuid::now_v7());
        let scope = ListScope::of("patients_list", clinic);
        let key = (String::from("lovelace"), 7i64);
        let cursor = cursors.seal(&scope, Some(&key)).unwrap().unwrap();
        assert!(!cursor.contains("lovelace"));
        let plain = URL_SAFE_NO_PAD.decode(&cursor).unwrap();
        assert!(!String::from_utf8_lossy(&plain).contains("lovelace"));
        assert_eq!(
            cursors
                .open::<(String, i64)>(&scope, Some(&cursor))
                .unwrap(),
            Some(key)
        );
        let other_list = ListScope::of("appointments_list", clinic);
        let other_clinic = ListScope::of("patients_list", ClinicId(Uuid::now_v7()));
        let within = ListScope::within("patients_list", clinic, Uuid::now_v7());
        for scope in [other_list, other_clinic, within] {
            assert!(
                cursors
                    .open::<(String, i64)>(&scope, Some(&cursor))
                    .is_err()
            );
        }
        assert!(
            sealer(8)
                .open::<(String, i64)>(&scope, Some(&cursor))
                .is_err(),
            "another server key opened it"
        );
        assert!(
            cursors
                .open::<(String, i64)>(&scope, Some("bm90LWEtY3Vyc29y"))
                .is_err()
        );
        assert_eq!(cursors.seal::<i64>(&scope, None).unwrap(), None);
        assert!(page_limit(Some(0), 20).is_err() && page_limit(None, 20).ok() == Some(20));
    }
}
