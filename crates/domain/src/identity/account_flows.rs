//! Password change and reset, email verification (and its resending) and email
//! change.

use crate::DomainError;
use crate::actor::Actor;
use crate::audit::AuditRecord;
use crate::crypto::sha256;
use crate::identity::email;
use crate::identity::links::Flow;
use crate::identity::model::ClientInfo;
use crate::identity::one_time::{CHANGE_EMAIL_TTL, RESET_TTL, VERIFY_EMAIL_TTL, invalid_token};
use crate::identity::password::{PersonalWords, Verified, check_policy};
use crate::identity::service::Auth;
use crate::ids::ClinicId;
use crate::ports::identity::TokenPurpose;
use crate::store::Scope;

impl Auth {
    /// Changes the password (current one required); other sessions end and the
    /// person is told by email.
    pub fn change_password(
        &self,
        actor: &Actor,
        current: &str,
        new: &str,
        client: &ClientInfo,
    ) -> Result<(), DomainError> {
        let now = self.core.now();
        let account = self.tx(Scope::Platform, |tx| {
            tx.account(actor.account_id)?
                .ok_or(DomainError::Unauthenticated)
        })?;
        if self
            .core
            .hasher()
            .verify(current, Some(&account.password_hash))
            == Verified::No
        {
            return Err(DomainError::invalid(
                "current_password",
                "incorrect",
                "is not your current password",
            ));
        }
        check_policy(
            "new_password",
            new,
            &PersonalWords {
                email: &account.email,
                words: vec![&account.given_name, &account.family_name],
            },
        )?;
        let hash = self.core.hasher().hash(new, self.core.random())?;
        self.tx(Scope::Account(account.id), |tx| {
            tx.set_password_hash(account.id, &hash, now)?;
            tx.revoke_account_sessions(
                account.id,
                Some(actor.session_id),
                now,
                "password_changed",
            )?;
            self.core.audit(
                tx,
                AuditRecord::by(actor, crate::audit::actions::ACCOUNT_PASSWORD_CHANGED)
                    .in_clinic(None),
                client,
            )?;
            self.core.email(tx, &account.email, "Your Salus password was changed", "Your password was changed and your other sessions were signed out. If this was not you, reset your password now.\n".to_owned())
        })
    }

    /// Starts a password reset. Every address gets the same answer after the same
    /// work: one token, and one transaction of the same statements (the token is
    /// stored only if an account has the address; one audit event; one email: the
    /// code, or word that no account uses the address).
    pub fn request_password_reset(
        &self,
        email_raw: &str,
        client: &ClientInfo,
    ) -> Result<(), DomainError> {
        self.core.throttle("reset", client)?;
        let Ok(email) = email::normalise("email", email_raw) else {
            return Ok(());
        };
        let now = self.core.now();
        let (token, hash) = self.core.token_pair();
        let instruction = self
            .core
            .settings()
            .links
            .instruction(Flow::ResetPassword, &token);
        self.tx(Scope::Platform, |tx| {
            let account = tx.insert_one_time_token_for_email(
                &hash,
                &email,
                TokenPurpose::ResetPassword,
                false,
                now,
                now + RESET_TTL,
            )?;
            let record = AuditRecord::account(
                crate::audit::actions::ACCOUNT_PASSWORD_RESET_REQUESTED,
                account,
            )
            .in_clinic(None);
            let (record, subject, body) = match account {
                Some(_) => (
                    record,
                    "Reset your Salus password",
                    format!(
                        "Use this code to choose a new password (valid 30 minutes, once):\n\n{token}\n\n{instruction}\nIf you did not ask for it, ignore this message.\n"
                    ),
                ),
                None => (
                    record.failed().detail("reason", "unknown_account"),
                    "Password reset for an address without a Salus account",
                    "Someone asked to reset the Salus password of this address, but no Salus account uses it. If it was you, you may have signed up with another address. If not, ignore this message.\n".to_owned(),
                ),
            };
            self.core.audit(tx, record, client)?;
            self.core.email(tx, &email, subject, body)
        })
    }

    /// Completes a reset: new password, lock cleared, every session ended. MFA is
    /// untouched, so the next sign-in still asks for it.
    pub fn confirm_password_reset(
        &self,
        token: &str,
        new: &str,
        client: &ClientInfo,
    ) -> Result<(), DomainError> {
        self.core.throttle("reset", client)?;
        let hash = sha256(token.as_bytes());
        let now = self.core.now();
        let found = self.tx(Scope::Platform, |tx| {
            let Some(t) = tx.one_time_token(&hash, TokenPurpose::ResetPassword)? else {
                return Ok(None);
            };
            Ok(tx.account(t.account_id)?.map(|a| (t, a)))
        })?;
        let Some((t, account)) = found else {
            return Err(invalid_token());
        };
        if t.used_at.is_some() || t.expires_at <= now {
            return Err(invalid_token());
        }
        check_policy(
            "new_password",
            new,
            &PersonalWords {
                email: &account.email,
                words: vec![&account.given_name, &account.family_name],
            },
        )?;
        let new_hash = self.core.hasher().hash(new, self.core.random())?;
        self.committed(Scope::Account(account.id), |tx| {
            match tx.one_time_token(&hash, TokenPurpose::ResetPassword)? {
                Some(t) if t.used_at.is_none() => {}
                _ => return Ok(Err(invalid_token())),
            }
            tx.use_one_time_token(&hash, now)?;
            tx.set_password_hash(account.id, &new_hash, now)?;
            tx.clear_login_failures(account.id)?;
            tx.revoke_account_sessions(account.id, None, now, "password_reset")?;
            self.core.audit(
                tx,
                AuditRecord::account(
                    crate::audit::actions::ACCOUNT_PASSWORD_RESET,
                    Some(account.id),
                )
                .in_clinic(None),
                client,
            )?;
            self.core.email(
                tx,
                &account.email,
                "Your Salus password was reset",
                "Your password was reset and every session was signed out.\n".to_owned(),
            )?;
            Ok(Ok(()))
        })
    }

    /// Confirms an address with the token sent to it: a sign-up's token creates
    /// the account and the clinic ([`Auth::sign_up`]); a token sent to an
    /// account from before verification was required verifies its address.
    pub fn verify_email(&self, token: &str, client: &ClientInfo) -> Result<(), DomainError> {
        self.core.throttle("verify", client)?;
        let hash = sha256(token.as_bytes());
        let now = self.core.now();
        // The scope of the clinic a sign-up creates (unused by any other token).
        let clinic = ClinicId(self.core.new_id());
        self.committed(Scope::Clinic(clinic), |tx| {
            if let Some(sign_up) = tx.sign_up_by_token(&hash)? {
                if sign_up.token_expires_at <= now || sign_up.expires_at <= now {
                    return Ok(Err(invalid_token()));
                }
                return self.complete_sign_up(tx, &sign_up, clinic, client);
            }
            let Some(t) = tx.one_time_token(&hash, TokenPurpose::VerifyEmail)? else {
                return Ok(Err(invalid_token()));
            };
            if t.used_at.is_some() || t.expires_at <= now {
                return Ok(Err(invalid_token()));
            }
            tx.use_one_time_token(&hash, now)?;
            tx.set_email_verified(t.account_id, now)?;
            self.core.audit(
                tx,
                AuditRecord::account(
                    crate::audit::actions::ACCOUNT_EMAIL_VERIFIED,
                    Some(t.account_id),
                )
                .in_clinic(None),
                client,
            )?;
            Ok(Ok(()))
        })
    }

    /// Sends a new verification code to an address with a sign-up that has not
    /// lapsed, or with an account whose address is not verified; earlier codes of
    /// that sign-up stop working. Every address gets the same answer after the same
    /// work (one token, one transaction of the same statements, one email: the code,
    /// or word that there is nothing to verify).
    pub fn resend_verification(
        &self,
        email_raw: &str,
        client: &ClientInfo,
    ) -> Result<(), DomainError> {
        self.core.throttle("verify_resend", client)?;
        let Ok(email) = email::normalise("email", email_raw) else {
            return Ok(());
        };
        let now = self.core.now();
        let (token, hash) = self.core.token_pair();
        let instruction = self
            .core
            .settings()
            .links
            .instruction(Flow::VerifyEmail, &token);
        self.tx(Scope::Platform, |tx| {
            let sign_up = tx.reissue_sign_up_token(&email, &hash, now, now + VERIFY_EMAIL_TTL)?;
            let account = tx.insert_one_time_token_for_email(
                &hash,
                &email,
                TokenPurpose::VerifyEmail,
                true,
                now,
                now + VERIFY_EMAIL_TTL,
            )?;
            let record =
                AuditRecord::account(crate::audit::actions::AUTH_VERIFICATION_RESENT, account)
                    .in_clinic(None);
            let (record, subject, body) = if sign_up || account.is_some() {
                (
                    record,
                    "Verify your email for Salus",
                    format!(
                        "Confirm this address with the code below (valid 48 hours):\n\n{token}\n\n{instruction}"
                    ),
                )
            } else {
                (
                    record.failed().detail("reason", "nothing_to_verify"),
                    "Nothing to verify on Salus",
                    "Someone asked for a new code to verify this address on Salus, but there is nothing to verify: the address is verified already, or it has no sign-up from the last 7 days (sign up again to create a clinic). If it was not you, ignore this message.\n".to_owned(),
                )
            };
            self.core.audit(tx, record, client)?;
            self.core.email(tx, &email, subject, body)
        })
    }

    /// Starts an email change: password and step-up required; the new address gets
    /// a token, the old one is told.
    pub fn request_email_change(
        &self,
        actor: &Actor,
        password: &str,
        new_email: &str,
        client: &ClientInfo,
    ) -> Result<(), DomainError> {
        let now = self.core.now();
        actor.require_step_up(now)?;
        let new_email = email::normalise("new_email", new_email)?;
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
            return Err(DomainError::invalid(
                "password",
                "incorrect",
                "is not your current password",
            ));
        }
        let (token, hash) = self.core.token_pair();
        self.tx(Scope::Platform, |tx| {
            tx.insert_one_time_token(
                &hash,
                account.id,
                TokenPurpose::ChangeEmail,
                Some(&new_email),
                now,
                now + CHANGE_EMAIL_TTL,
            )?;
            self.core.email(tx, &new_email, "Confirm your new email for Salus", format!(
                "Confirm this address for your Salus account with this code (valid 24 hours):\n\n{token}\n\n{}",
                self.core.settings().links.instruction(Flow::ConfirmEmailChange, &token)
            ))?;
            self.core.audit(
                tx,
                AuditRecord::by(actor, crate::audit::actions::ACCOUNT_EMAIL_CHANGE_REQUESTED)
                    .in_clinic(None),
                client,
            )?;
            self.core.email(tx, &account.email, "Your Salus email is being changed", format!("A change of your account's email to {new_email} was requested. If this was not you, change your password now.\n"))
        })
    }

    /// Confirms an email change with the token sent to the new address.
    pub fn confirm_email_change(
        &self,
        token: &str,
        client: &ClientInfo,
    ) -> Result<(), DomainError> {
        self.core.throttle("verify", client)?;
        let hash = sha256(token.as_bytes());
        let now = self.core.now();
        self.committed(Scope::Platform, |tx| {
            let Some(t) = tx.one_time_token(&hash, TokenPurpose::ChangeEmail)? else {
                return Ok(Err(invalid_token()));
            };
            let Some(new_email) = t
                .new_email
                .clone()
                .filter(|_| t.used_at.is_none() && t.expires_at > now)
            else {
                return Ok(Err(invalid_token()));
            };
            if tx.account_by_email(&new_email)?.is_some() {
                return Ok(Err(DomainError::Conflict {
                    code: "email_taken",
                    detail: "Another account uses this email.".into(),
                }));
            }
            tx.use_one_time_token(&hash, now)?;
            tx.set_email(t.account_id, &new_email, now)?;
            self.core.audit(
                tx,
                AuditRecord::account(
                    crate::audit::actions::ACCOUNT_EMAIL_CHANGED,
                    Some(t.account_id),
                )
                .in_clinic(None),
                client,
            )?;
            Ok(Ok(()))
        })
    }
}
