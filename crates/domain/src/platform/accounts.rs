//! Operator accounts: added and revoked by the CLI (which names who ran it),
//! enrolled by the operator with the one-time link (a password and an
//! authenticator, both before the first sign-in).

use chrono::{DateTime, Duration, Utc};

use super::Platform;
use crate::DomainError;
use crate::audit::AuditRecord;
use crate::audit::actions;
use crate::crypto::sha256;
use crate::identity::links::Flow;
use crate::identity::mfa::{Enrolment, SECRET_BYTES, enrolment, totp};
use crate::identity::model::ClientInfo;
use crate::identity::password::{PersonalWords, check_policy};
use crate::ports::operators::{Operator, OperatorLifetimes, OperatorRole};
use crate::random::bytes;
use crate::store::Scope;

/// The longest an operator account may run before it must be renewed.
pub const MAX_ACCOUNT_DAYS: i64 = 366;

/// A new operator, as the CLI gives it.
#[derive(Debug, Clone)]
pub struct NewOperator {
    /// Their address (the enrolment link goes there).
    pub email: String,
    /// Their role.
    pub role: OperatorRole,
    /// When their access ends (at most a year ahead).
    pub ends_at: DateTime<Utc>,
    /// Who adds them (the CLI's `--operator`).
    pub added_by: String,
}

/// The AAD binding a sealed TOTP secret to its operator.
fn aad(operator: &Operator) -> Vec<u8> {
    format!("operators.totp_secret:{}", operator.id).into_bytes()
}

fn invalid_link() -> DomainError {
    DomainError::invalid(
        "token",
        "invalid_token",
        "is not a valid enrolment link, or it lapsed: ask for a new one",
    )
}

impl Platform {
    /// The sessions' and links' lifetimes.
    pub fn lifetimes(&self) -> OperatorLifetimes {
        self.core.settings().operator_lifetimes
    }

    /// Adds an operator and emails them their one-time enrolment link; the
    /// enrolment token, for the CLI to show once.
    pub fn add_operator(&self, new: &NewOperator) -> Result<String, DomainError> {
        let now = self.core.now();
        let email = new.email.trim().to_lowercase();
        if !email.contains('@') || email.len() > 254 {
            return Err(DomainError::invalid(
                "email",
                "invalid",
                "is not an address",
            ));
        }
        if new.ends_at <= now || new.ends_at > now + Duration::days(MAX_ACCOUNT_DAYS) {
            return Err(DomainError::invalid(
                "until",
                "range",
                "must be in the future and at most a year ahead",
            ));
        }
        let (token, hash) = self.core.token_pair();
        let operator = Operator {
            id: self.core.new_id(),
            email: email.clone(),
            role: new.role,
            password_hash: None,
            totp_secret: None,
            totp_confirmed_at: None,
            totp_last_step: None,
            enrolment_token_hash: Some(hash),
            enrolment_expires_at: Some(now + self.lifetimes().enrolment),
            failed_logins: 0,
            locked_until: None,
            ends_at: new.ends_at,
            revoked_at: None,
            created_at: now,
            created_by: new.added_by.clone(),
        };
        self.committed(Scope::Platform, |tx| {
            if !tx.insert_operator(&operator)? {
                return Ok(Err(DomainError::Conflict {
                    code: "operator_exists",
                    detail: format!("An operator with the address {email} exists."),
                }));
            }
            let links = &self.core.settings().links;
            self.core.email(
                tx,
                &email,
                "Your Salus operator account",
                format!(
                    "An operator account ({}) was opened for you by {}; it ends on {}.\n\n\
                     Your enrolment code (valid for {} hours, once):\n\n{token}\n\n{}\n\
                     You choose a password and add an authenticator app; both are needed \
                     from your first sign-in.\n",
                    operator.role.as_str(),
                    operator.created_by,
                    operator.ends_at.to_rfc3339(),
                    self.lifetimes().enrolment.num_hours(),
                    links.instruction(Flow::OperatorEnrolment, &token),
                ),
            )?;
            self.core.audit(
                tx,
                AuditRecord::account(actions::OPERATOR_ADDED, None)
                    .on("operator", operator.id)
                    .detail("role", operator.role.as_str())
                    .detail("ends_at", operator.ends_at.to_rfc3339())
                    .detail("added_by", operator.created_by.as_str()),
                &cli(),
            )?;
            Ok(Ok(()))
        })?;
        Ok(token)
    }

    /// Ends an operator's access at once: the account and every session.
    pub fn revoke_operator(&self, email: &str, by: &str) -> Result<usize, DomainError> {
        let now = self.core.now();
        let email = email.trim().to_lowercase();
        self.tx(Scope::Platform, |tx| {
            let mut operator = tx.operator_by_email(&email)?.ok_or(DomainError::NotFound)?;
            operator.revoked_at.get_or_insert(now);
            operator.enrolment_token_hash = None;
            tx.update_operator(&operator)?;
            let ended = tx.revoke_operator_sessions(operator.id, now)?;
            self.core.audit(
                tx,
                AuditRecord::account(actions::OPERATOR_REVOKED, None)
                    .on("operator", operator.id)
                    .detail("sessions_ended", ended)
                    .detail("revoked_by", by),
                &cli(),
            )?;
            Ok(ended)
        })
    }

    /// Counts an enrolment request against the per-address limit.
    pub fn throttled_enrolment(&self, client: &ClientInfo) -> Result<(), DomainError> {
        self.core.throttle("platform_enrolment", client)
    }

    /// Every operator (for the CLI's list).
    pub fn operators(&self) -> Result<Vec<Operator>, DomainError> {
        self.tx(Scope::Platform, |tx| tx.operators())
    }

    /// First step of enrolment: the operator sets a password with the link's
    /// token and gets an authenticator to add (again until it is confirmed).
    pub fn start_enrolment(&self, token: &str, password: &str) -> Result<Enrolment, DomainError> {
        let now = self.core.now();
        let mut operator = self.pending(token, now)?;
        check_policy(
            "password",
            password,
            &PersonalWords {
                email: &operator.email,
                words: vec!["salus", "operator"],
            },
        )?;
        let secret = bytes(self.core.random(), SECRET_BYTES);
        operator.totp_secret = Some(self.core.master_keys().seal(
            self.core.random(),
            &secret,
            &aad(&operator),
        )?);
        operator.password_hash = Some(self.core.hasher().hash(password, self.core.random())?);
        let scanned = enrolment(&self.operator_totp(secret, &operator)?)?;
        self.tx(Scope::Platform, |tx| tx.update_operator(&operator))?;
        Ok(scanned)
    }

    /// Last step of enrolment: the first code of the authenticator confirms it
    /// and spends the link.
    pub fn confirm_enrolment(
        &self,
        token: &str,
        code: &str,
        client: &ClientInfo,
    ) -> Result<(), DomainError> {
        let now = self.core.now();
        let mut operator = self.pending(token, now)?;
        if operator.totp_secret.is_none() {
            return Err(DomainError::Conflict {
                code: "enrolment_not_started",
                detail: "Set a password first (POST /api/v1/platform/enrolment).".into(),
            });
        }
        let secret = self.operator_secret(&operator)?;
        let totp = self.operator_totp(secret, &operator)?;
        let time = u64::try_from(now.timestamp()).unwrap_or(0);
        let Some(step) = totp
            .check(code.trim(), time)
            .and_then(|s| i64::try_from(s).ok())
        else {
            return Err(DomainError::invalid(
                "code",
                "invalid_code",
                "does not match the authenticator",
            ));
        };
        operator.totp_confirmed_at = Some(now);
        operator.totp_last_step = Some(step);
        operator.enrolment_token_hash = None;
        operator.enrolment_expires_at = None;
        self.tx(Scope::Platform, |tx| {
            tx.update_operator(&operator)?;
            self.core.audit(
                tx,
                AuditRecord::account(actions::OPERATOR_ENROLLED, None).on("operator", operator.id),
                client,
            )
        })
    }

    /// An operator's authenticator, named apart from their member accounts'.
    pub(super) fn operator_totp(
        &self,
        secret: Vec<u8>,
        operator: &Operator,
    ) -> Result<totp_rs::Totp, DomainError> {
        totp(
            secret,
            &format!("{} operators", self.core.settings().totp_issuer),
            &operator.email,
        )
    }

    /// The sealed TOTP secret of an operator, opened.
    pub(super) fn operator_secret(&self, operator: &Operator) -> Result<Vec<u8>, DomainError> {
        let sealed = operator.totp_secret.as_deref().unwrap_or_default();
        self.core.master_keys().open(sealed, &aad(operator))
    }

    /// The operator a live enrolment token names.
    fn pending(&self, token: &str, now: DateTime<Utc>) -> Result<Operator, DomainError> {
        let hash = sha256(token.trim().as_bytes());
        let operator = self
            .tx(Scope::Platform, |tx| tx.operator_by_enrolment(&hash))?
            .ok_or_else(invalid_link)?;
        let live = operator.revoked_at.is_none()
            && operator.ends_at > now
            && operator.enrolment_expires_at.is_some_and(|t| t > now);
        if !live {
            return Err(invalid_link());
        }
        Ok(operator)
    }
}

/// The client of a CLI command.
fn cli() -> ClientInfo {
    ClientInfo {
        user_agent: Some("salus operator".to_owned()),
        ..ClientInfo::default()
    }
}
