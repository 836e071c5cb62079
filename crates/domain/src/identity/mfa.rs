//! TOTP (RFC 6238: SHA-1, 6 digits, 30 s, ±1 step) with single-use codes, recovery
//! codes, the MFA step of sign-in, and step-up.

use chrono::{DateTime, Utc};
use qrcode::QrCode;
use qrcode::render::svg;
use totp_rs::{Algorithm, Builder, Totp};

use crate::DomainError;
use crate::actor::Actor;
use crate::audit::AuditRecord;
use crate::crypto::sha256;
use crate::identity::auth::{SessionGrant, clinic_of_token};
use crate::identity::model::{Account, ClientInfo};
use crate::identity::password::Verified;
use crate::identity::service::Auth;
use crate::ids::AccountId;
use crate::random::bytes;
use crate::store::{AuthTx, Scope};

/// Bytes of a TOTP secret (160 bits).
pub const SECRET_BYTES: usize = 20;
/// Recovery codes issued at a time.
pub const RECOVERY_CODES: usize = 10;

/// What enrolment returns: the secret as URI and QR code.
#[derive(Debug, Clone)]
pub struct Enrolment {
    /// `otpauth://totp/...`
    pub otpauth_uri: String,
    /// The URI as an SVG QR code.
    pub qr_svg: String,
}

/// A second factor presented at sign-in or step-up.
#[derive(Debug, Clone)]
pub enum SecondFactor {
    /// A 6-digit TOTP code.
    Code(String),
    /// A recovery code.
    Recovery(String),
}

/// The AAD binding a sealed TOTP secret to its account.
pub(crate) fn aad(account: AccountId) -> Vec<u8> {
    format!("accounts.totp_secret:{account}").into_bytes()
}

/// A TOTP of 6 digits, 30-second steps and one step of skew (RFC 6238's
/// defaults, what authenticator apps expect).
pub fn totp(secret: Vec<u8>, issuer: &str, label: &str) -> Result<Totp, DomainError> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(secret)
        .with_issuer(Some(issuer))
        .with_account_name(label)
        .build()
        .map_err(|e| DomainError::Internal(format!("totp: {e}")))
}

/// The step a code as typed matches at `now` (surrounding spaces ignored), if
/// any: the one parser of TOTP codes a caller sends.
pub fn code_step(totp: &Totp, code: &str, now: DateTime<Utc>) -> Option<i64> {
    let time = u64::try_from(now.timestamp()).unwrap_or(0);
    totp.check(code.trim(), time)
        .and_then(|step| i64::try_from(step).ok())
}

/// What an authenticator app scans: the `otpauth://` URI and its QR code.
pub(crate) fn enrolment(totp: &Totp) -> Result<Enrolment, DomainError> {
    let otpauth_uri = totp
        .to_url()
        .map_err(|e| DomainError::Internal(format!("otpauth: {e}")))?;
    let qr_svg = QrCode::new(otpauth_uri.as_bytes())
        .map_err(|e| DomainError::Internal(format!("qr: {e}")))?
        .render::<svg::Color<'_>>()
        .min_dimensions(200, 200)
        .build();
    Ok(Enrolment {
        otpauth_uri,
        qr_svg,
    })
}

/// A recovery code as typed, reduced to what is compared: its letters and digits,
/// lower case (spaces, dashes and case do not matter).
pub fn normalise_recovery(code: &str) -> String {
    code.chars()
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_lowercase()
}

impl Auth {
    fn sealed_totp(
        &self,
        account: &Account,
        sealed: Option<&[u8]>,
    ) -> Result<Option<Totp>, DomainError> {
        let Some(sealed) = sealed else {
            return Ok(None);
        };
        let secret = self.core.master_keys().open(sealed, &aad(account.id))?;
        totp(secret, &self.core.settings().totp_issuer, &account.email).map(Some)
    }

    /// The TOTP step a code of the confirmed authenticator matches at `now`, if any.
    fn match_code(
        &self,
        account: &Account,
        code: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>, DomainError> {
        let confirmed = account
            .totp_secret
            .as_deref()
            .filter(|_| account.totp_confirmed_at.is_some());
        self.match_totp(self.sealed_totp(account, confirmed)?, code, now)
    }

    /// The TOTP step a code of the pending enrolment matches at `now`, if any.
    fn match_pending_code(
        &self,
        account: &Account,
        code: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>, DomainError> {
        let pending = account.totp_pending_secret.as_deref();
        self.match_totp(self.sealed_totp(account, pending)?, code, now)
    }

    fn match_totp(
        &self,
        totp: Option<Totp>,
        code: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>, DomainError> {
        Ok(totp.and_then(|totp| code_step(&totp, code, now)))
    }

    /// Checks a second factor, consuming it (a TOTP step or recovery code works once).
    fn verify_second_factor(
        &self,
        tx: &mut dyn AuthTx,
        account: &Account,
        factor: &SecondFactor,
    ) -> Result<bool, DomainError> {
        let now = self.core.now();
        match factor {
            SecondFactor::Code(code) => match self.match_code(account, code, now)? {
                Some(step) if account.totp_confirmed_at.is_some() => {
                    tx.advance_totp_step(account.id, step)
                }
                _ => Ok(false),
            },
            SecondFactor::Recovery(code) => tx.use_recovery_code(
                account.id,
                &sha256(normalise_recovery(code).as_bytes()),
                now,
            ),
        }
    }

    /// Completes a sign-in that required MFA.
    pub fn complete_mfa(
        &self,
        challenge: &str,
        factor: &SecondFactor,
        client: &ClientInfo,
    ) -> Result<SessionGrant, DomainError> {
        self.core.throttle("mfa", client)?;
        let clinic = clinic_of_token(challenge).ok_or(DomainError::Unauthenticated)?;
        let hash = sha256(challenge.as_bytes());
        let now = self.core.now();
        let max = self.core.settings().mfa_max_attempts;
        let (account, clinic, membership) = self.committed(Scope::Clinic(clinic), |tx| {
            let Some(found) = tx.mfa_challenge(clinic, &hash)? else {
                return Ok(Err(DomainError::Unauthenticated));
            };
            if found.consumed_at.is_some() || found.expires_at <= now || found.attempts >= max {
                return Ok(Err(DomainError::Unauthenticated));
            }
            let account = tx
                .account(found.account_id)?
                .ok_or(DomainError::Unauthenticated)?;
            if !self.verify_second_factor(tx, &account, factor)? {
                tx.fail_mfa_challenge(clinic, &hash)?;
                self.core.audit(
                    tx,
                    AuditRecord::account(crate::audit::actions::MFA_FAILED, Some(account.id))
                        .in_clinic(Some(found.clinic_id))
                        .failed(),
                    client,
                )?;
                return Ok(Err(DomainError::InvalidCredentials));
            }
            tx.consume_mfa_challenge(clinic, &hash, now)?;
            self.core.audit(
                tx,
                AuditRecord::account(crate::audit::actions::MFA_PASSED, Some(account.id))
                    .in_clinic(Some(found.clinic_id)),
                client,
            )?;
            let membership = tx
                .memberships_of(account.id)?
                .into_iter()
                .find(|m| m.clinic_id == found.clinic_id)
                .ok_or(DomainError::Unauthenticated)?;
            Ok(Ok((account, found.clinic_id, membership.id)))
        })?;
        self.open_session(&account, clinic, membership, true, client)
    }

    /// Starts TOTP enrolment (or replaces a pending one). Changing a confirmed
    /// authenticator needs step-up.
    pub fn start_totp(&self, actor: &Actor) -> Result<Enrolment, DomainError> {
        let now = self.core.now();
        if actor.mfa_enrolled {
            actor.require_step_up(now)?;
        }
        let secret = bytes(self.core.random(), SECRET_BYTES);
        let account = self.tx(Scope::Platform, |tx| {
            tx.account(actor.account_id)?
                .ok_or(DomainError::Unauthenticated)
        })?;
        let sealed = self
            .core
            .master_keys()
            .seal(self.core.random(), &secret, &aad(account.id))?;
        let enrolment = enrolment(&totp(
            secret,
            &self.core.settings().totp_issuer,
            &account.email,
        )?)?;
        // The confirmed authenticator (if any) stays in force until this one is
        // confirmed by its first code.
        self.tx(Scope::Platform, |tx| {
            tx.set_pending_totp_secret(account.id, &sealed)
        })?;
        Ok(enrolment)
    }

    /// Confirms enrolment with a first code; returns the recovery codes (shown once).
    pub fn confirm_totp(
        &self,
        actor: &Actor,
        code: &str,
        client: &ClientInfo,
    ) -> Result<Vec<String>, DomainError> {
        let now = self.core.now();
        let codes = self.new_recovery_codes();
        self.committed(Scope::Clinic(actor.clinic_id), |tx| {
            let account = tx
                .account(actor.account_id)?
                .ok_or(DomainError::Unauthenticated)?;
            let Some(step) = self.match_pending_code(&account, code, now)? else {
                return Ok(Err(DomainError::invalid(
                    "code",
                    "invalid_code",
                    "does not match the authenticator",
                )));
            };
            if !tx.confirm_pending_totp_secret(account.id, now, step)? {
                return Ok(Err(DomainError::invalid(
                    "code",
                    "invalid_code",
                    "does not match the authenticator",
                )));
            }
            tx.replace_recovery_codes(account.id, &codes.1)?;
            tx.set_session_mfa(actor.clinic_id, actor.session_id, now)?;
            self.core.audit(
                tx,
                AuditRecord::by(actor, crate::audit::actions::MFA_ENROLLED),
                client,
            )?;
            self.core.email(tx, &account.email, "Two-step sign-in turned on", "An authenticator app was added to your Salus account. If this was not you, contact your clinic's administrator.\n".to_owned())?;
            Ok(Ok(()))
        })?;
        Ok(codes.0)
    }

    fn new_recovery_codes(&self) -> (Vec<String>, Vec<Vec<u8>>) {
        const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
        let codes: Vec<String> = (0..RECOVERY_CODES)
            .map(|_| {
                let raw: String = bytes(self.core.random(), 10)
                    .into_iter()
                    .map(|b| char::from(ALPHABET[usize::from(b) % ALPHABET.len()]))
                    .collect();
                format!("{}-{}", &raw[..5], &raw[5..])
            })
            .collect();
        let hashes = codes
            .iter()
            .map(|c| sha256(normalise_recovery(c).as_bytes()))
            .collect();
        (codes, hashes)
    }

    /// Replaces the recovery codes (step-up required); the old ones stop working.
    pub fn regenerate_recovery_codes(
        &self,
        actor: &Actor,
        client: &ClientInfo,
    ) -> Result<Vec<String>, DomainError> {
        actor.require_step_up(self.core.now())?;
        let codes = self.new_recovery_codes();
        self.tx(Scope::Clinic(actor.clinic_id), |tx| {
            tx.replace_recovery_codes(actor.account_id, &codes.1)?;
            self.core.audit(
                tx,
                AuditRecord::by(actor, crate::audit::actions::MFA_RECOVERY_CODES_REGENERATED),
                client,
            )
        })?;
        Ok(codes.0)
    }

    /// Records a fresh MFA check on the session (step-up).
    pub fn step_up(
        &self,
        actor: &Actor,
        factor: &SecondFactor,
        client: &ClientInfo,
    ) -> Result<(), DomainError> {
        self.core.throttle("mfa", client)?;
        let now = self.core.now();
        self.committed(Scope::Clinic(actor.clinic_id), |tx| {
            let account = tx
                .account(actor.account_id)?
                .ok_or(DomainError::Unauthenticated)?;
            if !self.verify_second_factor(tx, &account, factor)? {
                self.core.audit(
                    tx,
                    AuditRecord::account(crate::audit::actions::MFA_FAILED, Some(account.id))
                        .in_clinic(Some(actor.clinic_id))
                        .failed(),
                    client,
                )?;
                return Ok(Err(DomainError::InvalidCredentials));
            }
            tx.set_session_mfa(actor.clinic_id, actor.session_id, now)?;
            self.core.audit(
                tx,
                AuditRecord::account(crate::audit::actions::MFA_PASSED, Some(account.id))
                    .in_clinic(Some(actor.clinic_id)),
                client,
            )?;
            Ok(Ok(()))
        })
    }

    /// Removes TOTP (password and a code required); refused while the membership
    /// requires MFA.
    pub fn disable_totp(
        &self,
        actor: &Actor,
        password: &str,
        factor: &SecondFactor,
        client: &ClientInfo,
    ) -> Result<(), DomainError> {
        if actor.mfa_required {
            return Err(DomainError::forbidden(
                "mfa_required_by_membership",
                "This membership requires multi-factor authentication; it cannot be turned off.",
            ));
        }
        let account = self.tx(Scope::Platform, |tx| {
            tx.account(actor.account_id)?
                .ok_or(DomainError::Unauthenticated)
        })?;
        if self
            .core
            .hasher()
            .verify(password, Some(&account.password_hash))
            == Verified::No
        {
            return Err(DomainError::InvalidCredentials);
        }
        self.committed(Scope::Clinic(actor.clinic_id), |tx| {
            if !self.verify_second_factor(tx, &account, factor)? {
                return Ok(Err(DomainError::InvalidCredentials));
            }
            tx.remove_totp(account.id)?;
            tx.replace_recovery_codes(account.id, &[])?;
            self.core.audit(
                tx,
                AuditRecord::by(actor, crate::audit::actions::MFA_REMOVED),
                client,
            )?;
            self.core.email(tx, &account.email, "Two-step sign-in turned off", "The authenticator app was removed from your Salus account. If this was not you, contact your clinic's administrator.\n".to_owned())?;
            Ok(Ok(()))
        })
    }
}
