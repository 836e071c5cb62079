//! Operators' sign-in and sessions: email, password and a TOTP code in one
//! request (MFA is never optional for an operator), an opaque bearer token
//! (`salus_op_...`, kept as its SHA-256) checked against its session on every
//! request, so revocation and the account's end take effect on the next one.

use chrono::{DateTime, Duration, Utc};

use super::{OperatorActor, Platform, TOKEN_PREFIX, by_operator};
use crate::DomainError;
use crate::audit::AuditRecord;
use crate::audit::actions;
use crate::crypto::sha256;
use crate::identity::model::ClientInfo;
use crate::identity::password::Verified;
use crate::ports::operators::{Operator, OperatorSession};
use crate::store::{OperatorsTx, Scope};

/// Activity is written at most this often.
const TOUCH_INTERVAL: Duration = Duration::minutes(1);

/// A signed-in operator's token, shown once.
#[derive(Debug, Clone)]
pub struct OperatorGrant {
    /// The bearer token.
    pub token: String,
    /// When the session ends at the latest.
    pub absolute_expires_at: DateTime<Utc>,
    /// When it ends without activity.
    pub idle_expires_at: DateTime<Utc>,
}

fn refused() -> DomainError {
    DomainError::InvalidCredentials
}

impl Platform {
    /// Signs an operator in: address, password and a code of their
    /// authenticator; one answer for every failure, each counted (the account
    /// locks like a member's) and audited.
    pub fn sign_in(
        &self,
        email: &str,
        password: &str,
        code: &str,
        client: &ClientInfo,
    ) -> Result<OperatorGrant, DomainError> {
        self.core.throttle("platform_login", client)?;
        let now = self.core.now();
        let email = email.trim().to_lowercase();
        let found = self.tx(Scope::Platform, |tx| tx.operator_by_email(&email))?;
        // The same hashing work whether or not the address is an operator's.
        let verified = self.core.hasher().verify(
            password,
            found.as_ref().and_then(|o| o.password_hash.as_deref()),
        );
        let Some(mut operator) = found else {
            return Err(refused());
        };
        let lifetimes = self.lifetimes();
        let (token, hash) = {
            let (raw, _) = self.core.token_pair();
            let token = format!("{TOKEN_PREFIX}{raw}");
            let hash = sha256(token.as_bytes());
            (token, hash)
        };
        self.committed(Scope::Platform, |tx| {
            let usable = operator.revoked_at.is_none()
                && operator.ends_at > now
                && operator.totp_confirmed_at.is_some()
                && operator.locked_until.is_none_or(|t| t <= now);
            let right = usable
                && !matches!(verified, Verified::No)
                && self.code_matches(tx, &operator, code, now)?;
            if !right {
                self.count_failure(tx, &mut operator, now, usable, client)?;
                return Ok(Err(refused()));
            }
            operator.failed_logins = 0;
            operator.locked_until = None;
            tx.update_operator(&operator)?;
            let absolute = (now + lifetimes.absolute).min(operator.ends_at);
            let idle = (now + lifetimes.idle).min(absolute);
            let session = OperatorSession {
                id: self.core.new_id(),
                operator_id: operator.id,
                token_hash: hash.clone(),
                created_at: now,
                last_seen_at: now,
                idle_expires_at: idle,
                absolute_expires_at: absolute,
                revoked_at: None,
                ip: client.ip.clone(),
                user_agent: client.user_agent.clone(),
            };
            tx.insert_operator_session(&session)?;
            let actor = actor_of(&operator, &session);
            self.core
                .audit(tx, by_operator(&actor, actions::OPERATOR_SIGNED_IN), client)?;
            Ok(Ok(OperatorGrant {
                token: token.clone(),
                absolute_expires_at: absolute,
                idle_expires_at: idle,
            }))
        })
    }

    /// Whether `code` is a fresh code of the operator's authenticator (each
    /// step works once).
    fn code_matches(
        &self,
        tx: &mut dyn OperatorsTx,
        operator: &Operator,
        code: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, DomainError> {
        let totp = self.operator_totp(self.operator_secret(operator)?, operator)?;
        let time = u64::try_from(now.timestamp()).unwrap_or(0);
        match totp
            .check(code.trim(), time)
            .and_then(|s| i64::try_from(s).ok())
        {
            Some(step) => tx.advance_operator_totp_step(operator.id, step),
            None => Ok(false),
        }
    }

    fn count_failure(
        &self,
        tx: &mut dyn OperatorsTx,
        operator: &mut Operator,
        now: DateTime<Utc>,
        usable: bool,
        client: &ClientInfo,
    ) -> Result<(), DomainError> {
        let policy = self.core.settings().lockout;
        operator.failed_logins += 1;
        if operator.failed_logins >= policy.lock_after {
            operator.locked_until = Some(now + policy.lock_for);
        }
        tx.update_operator(operator)?;
        self.core.audit(
            tx,
            AuditRecord::account(actions::OPERATOR_SIGN_IN_FAILED, None)
                .on("operator", operator.id)
                .outcome(crate::audit::Outcome::Failure)
                .detail("account_usable", usable),
            client,
        )
    }

    /// The per-request check of every platform operation: the token's session
    /// must be live (not revoked, not idle or past its end) and its operator's
    /// access too. Activity extends the idle end, written at most once a minute.
    pub fn authenticate(&self, token: &str) -> Result<OperatorActor, DomainError> {
        if !token.starts_with(TOKEN_PREFIX) {
            return Err(DomainError::Unauthenticated);
        }
        let now = self.core.now();
        let hash = sha256(token.as_bytes());
        let idle = self.lifetimes().idle;
        self.tx(Scope::Platform, |tx| {
            let (session, operator) = tx
                .operator_session(&hash)?
                .ok_or(DomainError::Unauthenticated)?;
            let live = session.revoked_at.is_none()
                && session.idle_expires_at > now
                && session.absolute_expires_at > now
                && operator.revoked_at.is_none()
                && operator.ends_at > now;
            if !live {
                return Err(DomainError::Unauthenticated);
            }
            if now - session.last_seen_at >= TOUCH_INTERVAL {
                let until = (now + idle).min(session.absolute_expires_at);
                tx.touch_operator_session(session.id, now, until)?;
            }
            Ok(actor_of(&operator, &session))
        })
    }

    /// Signs the operator's session out.
    pub fn sign_out(&self, actor: &OperatorActor, client: &ClientInfo) -> Result<(), DomainError> {
        let now = self.core.now();
        self.tx(Scope::Platform, |tx| {
            tx.revoke_operator_session(actor.session_id, now)?;
            self.core
                .audit(tx, by_operator(actor, actions::OPERATOR_SIGNED_OUT), client)
        })
    }
}

fn actor_of(operator: &Operator, session: &OperatorSession) -> OperatorActor {
    OperatorActor {
        operator_id: operator.id,
        email: operator.email.clone(),
        role: operator.role,
        session_id: session.id,
        ends_at: operator.ends_at,
    }
}
