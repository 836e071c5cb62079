//! Phone verification by a 6-digit code sent by SMS.

use chrono::Duration;

use crate::DomainError;
use crate::actor::Actor;
use crate::audit::AuditRecord;
use crate::crypto::sha256;
use crate::identity::model::ClientInfo;
use crate::identity::service::Auth;
use crate::ids::AccountId;
use crate::ports::identity::PhoneChallenge;
use crate::random::numeric_code;
use crate::store::Scope;

/// Codes expire after this long.
pub const CODE_TTL: Duration = Duration::minutes(10);
/// Wrong codes allowed per challenge.
pub const MAX_ATTEMPTS: i32 = 5;
/// Minimum time between two sends.
pub const RESEND_INTERVAL: Duration = Duration::seconds(60);

/// Checks an E.164 number: `+`, then 8 to 15 digits, the first not zero.
///
/// The format is [`crate::formats::PHONE_PATTERN`]; the separators are removed.
pub fn parse_e164(raw: &str) -> Result<String, DomainError> {
    if crate::formats::is_phone(raw) {
        Ok(raw
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '(' | ')'))
            .collect())
    } else {
        Err(DomainError::invalid(
            "phone",
            "e164",
            "must be an international number such as +33612345678",
        ))
    }
}

fn code_hash(account: AccountId, code: &str) -> Vec<u8> {
    sha256(format!("{account}:{code}").as_bytes())
}

impl Auth {
    /// Sends a code to a new phone number. Resending is throttled and keeps the
    /// attempt count.
    pub fn start_phone_verification(
        &self,
        actor: &Actor,
        raw_phone: &str,
        client: &ClientInfo,
    ) -> Result<(), DomainError> {
        self.core.throttle("otp", client)?;
        let phone = parse_e164(raw_phone)?;
        let now = self.core.now();
        let code = numeric_code(self.core.random(), 6);
        self.committed(Scope::Platform, |tx| {
            let existing = tx.phone_challenge(actor.account_id)?;
            if let Some(previous) = &existing
                && now - previous.last_sent_at < RESEND_INTERVAL
            {
                let wait = (previous.last_sent_at + RESEND_INTERVAL - now)
                    .num_seconds()
                    .max(1);
                return Ok(Err(DomainError::RateLimited {
                    retry_after_secs: u64::try_from(wait).unwrap_or(1),
                }));
            }
            let attempts = existing
                .filter(|p| p.phone == phone && p.expires_at > now)
                .map_or(0, |p| p.attempts);
            tx.put_phone_challenge(
                actor.account_id,
                &PhoneChallenge {
                    phone: phone.clone(),
                    code_hash: code_hash(actor.account_id, &code),
                    expires_at: now + CODE_TTL,
                    attempts,
                    last_sent_at: now,
                },
            )?;
            self.core.sms(
                tx,
                &phone,
                format!("Your Salus verification code is {code}. It expires in 10 minutes."),
            )?;
            Ok(Ok(()))
        })
    }

    /// Verifies the phone with the code.
    pub fn verify_phone(
        &self,
        actor: &Actor,
        code: &str,
        client: &ClientInfo,
    ) -> Result<(), DomainError> {
        self.core.throttle("otp", client)?;
        let now = self.core.now();
        let wrong = || {
            DomainError::invalid(
                "code",
                "invalid_code",
                "is wrong, expired or has no attempts left",
            )
        };
        self.committed(Scope::Platform, |tx| {
            let Some(challenge) = tx.phone_challenge(actor.account_id)? else {
                return Ok(Err(wrong()));
            };
            if challenge.expires_at <= now || challenge.attempts >= MAX_ATTEMPTS {
                return Ok(Err(wrong()));
            }
            if challenge.code_hash != code_hash(actor.account_id, code.trim()) {
                tx.put_phone_challenge(
                    actor.account_id,
                    &PhoneChallenge {
                        attempts: challenge.attempts + 1,
                        ..challenge
                    },
                )?;
                return Ok(Err(wrong()));
            }
            tx.delete_phone_challenge(actor.account_id)?;
            tx.set_phone_verified(actor.account_id, &challenge.phone, now)?;
            self.core.audit(
                tx,
                AuditRecord::by(actor, crate::audit::actions::ACCOUNT_PHONE_VERIFIED)
                    .in_clinic(None),
                client,
            )?;
            Ok(Ok(()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::parse_e164;

    #[test]
    fn e164_numbers() {
        assert_eq!(parse_e164("+33 6 12 34 56 78").unwrap(), "+33612345678");
        for bad in [
            "0612345678",
            "+0612345678",
            "+12",
            "+1234567890123456",
            "+33a612345678",
        ] {
            assert!(parse_e164(bad).is_err(), "{bad}");
        }
    }
}
