//! Access tokens: HS256 JWTs of at most 15 minutes with a `kid` from a key ring.
//! One key signs; every key of the ring verifies, so keys rotate without signing
//! anyone out. Only HS256 is accepted (no `none`, no algorithm switching); `typ`,
//! `iss`, `aud`, `exp` and `nbf` are checked, times against the injected clock.

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{
    Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, decode_header, encode,
};
use salus_domain::identity::auth::SessionGrant;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The `typ` header of access tokens (RFC 9068).
pub const TOKEN_TYPE: &str = "at+jwt";
/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECS: i64 = 30;

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Issuer.
    pub iss: String,
    /// Audience.
    pub aud: String,
    /// The account.
    pub sub: Uuid,
    /// The session.
    pub sid: Uuid,
    /// The clinic the token acts in.
    pub cid: Uuid,
    /// Authentication methods (`pwd`, `otp`).
    pub amr: Vec<String>,
    /// When the person authenticated (seconds since the epoch).
    pub auth_time: i64,
    /// Issued at.
    pub iat: i64,
    /// Not before.
    pub nbf: i64,
    /// Expires.
    pub exp: i64,
}

/// A signing key: its id and secret (at least 32 bytes).
#[derive(Clone)]
pub struct SigningKey {
    /// The `kid`.
    pub id: String,
    /// The HMAC secret.
    pub secret: Vec<u8>,
}

/// The key ring and the token parameters.
#[derive(Clone)]
pub struct TokenKeys {
    keys: Vec<SigningKey>,
    issuer: String,
    audience: String,
    ttl: Duration,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|k| k.id.as_str()).collect();
        write!(f, "TokenKeys {{ kids: {ids:?}, secrets: [REDACTED] }}")
    }
}

/// Why a token was refused (for the log; the client only sees 401).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    /// Not a well-formed JWT, bad signature or claims.
    #[error("malformed or tampered token")]
    Invalid,
    /// `alg` other than HS256.
    #[error("algorithm not allowed")]
    Algorithm,
    /// Unknown `kid`.
    #[error("unknown key id")]
    UnknownKey,
    /// `typ` is not `at+jwt`.
    #[error("wrong token type")]
    Type,
    /// Past `exp` or before `nbf`.
    #[error("expired or not yet valid")]
    Expired,
}

impl TokenKeys {
    /// A ring whose first key signs. `ttl` is capped at 15 minutes.
    pub fn new(
        keys: Vec<SigningKey>,
        issuer: String,
        audience: String,
        ttl: Duration,
    ) -> Option<Self> {
        (!keys.is_empty()).then(|| Self {
            keys,
            issuer,
            audience,
            ttl: ttl.min(Duration::minutes(15)),
        })
    }

    /// How long access tokens live.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Mints an access token for a session.
    pub fn issue(
        &self,
        grant: &SessionGrant,
        now: DateTime<Utc>,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let key = &self.keys[0];
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(key.id.clone());
        header.typ = Some(TOKEN_TYPE.to_owned());
        let amr = if grant.with_mfa {
            vec!["pwd".into(), "otp".into()]
        } else {
            vec!["pwd".into()]
        };
        let exp = (now + self.ttl).min(grant.absolute_expires_at.max(now));
        let claims = AccessClaims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: grant.account_id.uuid(),
            sid: grant.session_id.uuid(),
            cid: grant.clinic_id.uuid(),
            amr,
            auth_time: grant.auth_time.timestamp(),
            iat: now.timestamp(),
            nbf: now.timestamp(),
            exp: exp.timestamp(),
        };
        encode(&header, &claims, &EncodingKey::from_secret(&key.secret))
    }

    /// Verifies a token and returns its claims.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<AccessClaims, TokenError> {
        let header = decode_header(token).map_err(|_| TokenError::Invalid)?;
        if header.alg != Algorithm::HS256 {
            return Err(TokenError::Algorithm);
        }
        if header.typ.as_deref() != Some(TOKEN_TYPE) {
            return Err(TokenError::Type);
        }
        let kid = header.kid.ok_or(TokenError::UnknownKey)?;
        let key = self
            .keys
            .iter()
            .find(|k| k.id == kid)
            .ok_or(TokenError::UnknownKey)?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        let claims =
            decode::<AccessClaims>(token, &DecodingKey::from_secret(&key.secret), &validation)
                .map_err(|_| TokenError::Invalid)?
                .claims;
        let now = now.timestamp();
        if claims.exp + LEEWAY_SECS <= now || claims.nbf - LEEWAY_SECS > now {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use salus_domain::ids::{AccountId, ClinicId, SessionId};

    use super::*;

    fn ring(ids: &[&str]) -> TokenKeys {
        let keys = ids
            .iter()
            .map(|id| SigningKey {
                id: (*id).to_owned(),
                secret: format!("{id}-secret-0123456789abcdef0123456789").into_bytes(),
            })
            .collect();
        TokenKeys::new(
            keys,
            "https://api.test".into(),
            "salus".into(),
            Duration::minutes(15),
        )
        .unwrap()
    }

    fn grant() -> SessionGrant {
        SessionGrant {
            account_id: AccountId(Uuid::now_v7()),
            clinic_id: ClinicId(Uuid::now_v7()),
            session_id: SessionId(Uuid::now_v7()),
            auth_time: Utc::now(),
            with_mfa: false,
            refresh_token: "x".into(),
            absolute_expires_at: Utc::now() + Duration::hours(12),
        }
    }

    #[test]
    fn a_token_verifies_under_a_rotated_ring() {
        let now = Utc::now();
        let token = ring(&["k1"]).issue(&grant(), now).unwrap();
        let rotated = ring(&["k2", "k1"]);
        assert!(rotated.verify(&token, now).is_ok());
        assert_eq!(
            ring(&["k2"]).verify(&token, now),
            Err(TokenError::UnknownKey)
        );
    }

    #[test]
    fn expiry_follows_the_clock() {
        let now = Utc::now();
        let keys = ring(&["k1"]);
        let token = keys.issue(&grant(), now).unwrap();
        assert!(keys.verify(&token, now + Duration::minutes(14)).is_ok());
        assert_eq!(
            keys.verify(&token, now + Duration::minutes(16)),
            Err(TokenError::Expired)
        );
        assert_eq!(
            keys.verify(&token, now - Duration::minutes(5)),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn a_token_lives_15_minutes_at_most_never_past_its_session_and_names_its_factors() {
        let now = Utc::now();
        let keys = TokenKeys::new(
            ring(&["k1"]).keys,
            "https://api.test".into(),
            "salus".into(),
            Duration::hours(1),
        )
        .unwrap();
        assert_eq!(keys.ttl(), Duration::minutes(15));
        let claims = keys
            .verify(&keys.issue(&grant(), now).unwrap(), now)
            .unwrap();
        assert_eq!(claims.exp, (now + Duration::minutes(15)).timestamp());
        assert_eq!((claims.iat, claims.nbf), (now.timestamp(), now.timestamp()));
        assert_eq!(claims.amr, ["pwd"]);
        let ending = SessionGrant {
            with_mfa: true,
            absolute_expires_at: now + Duration::minutes(5),
            ..grant()
        };
        let claims = keys
            .verify(&keys.issue(&ending, now).unwrap(), now)
            .unwrap();
        assert_eq!(claims.exp, (now + Duration::minutes(5)).timestamp());
        assert_eq!(claims.amr, ["pwd", "otp"]);
    }

    #[test]
    fn thirty_seconds_of_skew_are_tolerated_and_not_one_more() {
        let now = Utc::now();
        let keys = ring(&["k1"]);
        let token = keys.issue(&grant(), now).unwrap();
        let exp = now + Duration::minutes(15);
        assert!(keys.verify(&token, exp + Duration::seconds(29)).is_ok());
        assert_eq!(
            keys.verify(&token, exp + Duration::seconds(30)),
            Err(TokenError::Expired)
        );
        assert!(keys.verify(&token, now - Duration::seconds(30)).is_ok());
        assert_eq!(
            keys.verify(&token, now - Duration::seconds(31)),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn another_type_or_no_key_id_is_refused_and_secrets_stay_out_of_debug() {
        let now = Utc::now();
        let keys = ring(&["k1"]);
        let claims = keys
            .verify(&keys.issue(&grant(), now).unwrap(), now)
            .unwrap();
        let secret = EncodingKey::from_secret(b"k1-secret-0123456789abcdef0123456789");
        let signed = |header: Header| encode(&header, &claims, &secret).unwrap();
        let id_token = signed(Header {
            kid: Some("k1".into()),
            typ: Some("JWT".into()),
            ..Header::new(Algorithm::HS256)
        });
        assert_eq!(keys.verify(&id_token, now), Err(TokenError::Type));
        let no_kid = signed(Header {
            typ: Some(TOKEN_TYPE.into()),
            ..Header::new(Algorithm::HS256)
        });
        assert_eq!(keys.verify(&no_kid, now), Err(TokenError::UnknownKey));
        let shown = format!("{keys:?}");
        assert_eq!(shown, r#"TokenKeys { kids: ["k1"], secrets: [REDACTED] }"#);
    }

    #[test]
    fn tampering_none_and_other_algorithms_are_refused() {
        let now = Utc::now();
        let keys = ring(&["k1"]);
        let token = keys.issue(&grant(), now).unwrap();
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut claims: serde_json::Value =
            serde_json::from_slice(&engine.decode(&parts[1]).unwrap()).unwrap();
        claims["cid"] = serde_json::json!(Uuid::now_v7());
        parts[1] = engine.encode(claims.to_string());
        assert_eq!(keys.verify(&parts.join("."), now), Err(TokenError::Invalid));

        let none_header = engine.encode(r#"{"alg":"none","typ":"at+jwt","kid":"k1"}"#);
        let unsigned = format!("{none_header}.{}.", engine.encode(claims.to_string()));
        assert!(keys.verify(&unsigned, now).is_err());

        let hs512 = encode(
            &Header {
                kid: Some("k1".into()),
                typ: Some(TOKEN_TYPE.into()),
                ..Header::new(Algorithm::HS512)
            },
            &claims,
            &EncodingKey::from_secret(b"k1-secret-0123456789abcdef0123456789"),
        )
        .unwrap();
        assert_eq!(keys.verify(&hs512, now), Err(TokenError::Algorithm));
    }
}
