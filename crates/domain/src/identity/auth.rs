//! Sign-up, sign-in (with MFA and clinic choice), refresh, the per-request session
//! check, and sign-out.

use chrono::{DateTime, Duration, Utc};

use crate::DomainError;
use crate::access::effective;
use crate::actor::Actor;
use crate::audit::AuditRecord;
use crate::crypto::sha256;
use crate::identity::email;
use crate::identity::links::Flow;
use crate::identity::model::{Account, ClientInfo, Clinic, MembershipSummary, Role, Session};
use crate::identity::password::{PersonalWords, Verified, check_policy};
use crate::identity::ports::{NewAccount, TokenPurpose};
use crate::identity::service::{Identity, committed};
use crate::identity::throttle::Gate;
use crate::ids::{AccountId, ClinicId, MembershipId, SessionId};
use crate::store::{Scope, Tx, in_tx};

/// Activity is written to the session at most this often.
pub const TOUCH_INTERVAL: Duration = Duration::minutes(1);
/// Verification links stay valid this long.
pub const VERIFY_EMAIL_TTL: Duration = Duration::hours(48);

/// A clinic sign-up.
#[derive(Debug, Clone)]
pub struct SignUp {
    /// The clinic's name.
    pub clinic_name: String,
    /// The owner's email.
    pub email: String,
    /// The owner's password (new account) or current password (existing account).
    pub password: String,
    /// Given name.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
}

/// A successful sign-in: the session and its refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionGrant {
    /// The account.
    pub account_id: AccountId,
    /// The clinic.
    pub clinic_id: ClinicId,
    /// The session.
    pub session_id: SessionId,
    /// When the person authenticated (for `auth_time`).
    pub auth_time: DateTime<Utc>,
    /// Whether MFA was part of it (for `amr`).
    pub with_mfa: bool,
    /// The opaque refresh token (shown once).
    pub refresh_token: String,
    /// When the session ends at the latest.
    pub absolute_expires_at: DateTime<Utc>,
}

/// What a password sign-in leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginOutcome {
    /// Signed in.
    Session(SessionGrant),
    /// Several memberships: sign in again naming one.
    ChooseClinic(Vec<MembershipSummary>),
    /// MFA enrolled: complete with a code.
    MfaRequired {
        /// The challenge token.
        challenge: String,
        /// When it expires.
        expires_at: DateTime<Utc>,
    },
}

/// The clinic a clinic-bound token (`<clinic>.<secret>`) belongs to: it names the
/// row-level-security scope its lookup runs in.
pub fn clinic_of_token(token: &str) -> Option<ClinicId> {
    let (clinic, secret) = token.split_once('.')?;
    let clinic = uuid::Uuid::parse_str(clinic).ok()?;
    (!secret.is_empty()).then_some(ClinicId(clinic))
}

impl Identity {
    /// Signs up a clinic with its owner. Answers the same whether or not the email
    /// already has an account: a new account is created and asked to verify its
    /// email; an existing one must prove its password, and is told by email either way.
    pub fn sign_up(&self, cmd: &SignUp, client: &ClientInfo) -> Result<(), DomainError> {
        self.throttle("signup", client)?;
        let email = email::normalise("email", &cmd.email)?;
        let personal = PersonalWords {
            email: &email,
            words: vec![&cmd.given_name, &cmd.family_name, &cmd.clinic_name],
        };
        check_policy("password", &cmd.password, &personal)?;
        let existing = in_tx(self.store.as_ref(), Scope::Platform, |tx| {
            tx.account_by_email(&email)
        })?;
        let now = self.now();
        match existing {
            None => {
                let hash = self.hasher.hash(&cmd.password, self.random.as_ref())?;
                let account_id = AccountId(self.new_id());
                let clinic_id = ClinicId(self.new_id());
                in_tx(self.store.as_ref(), Scope::Clinic(clinic_id), |tx| {
                    tx.insert_account(&NewAccount {
                        id: account_id,
                        email: email.clone(),
                        given_name: cmd.given_name.trim().to_owned(),
                        family_name: cmd.family_name.trim().to_owned(),
                        password_hash: hash,
                        created_at: now,
                    })?;
                    let clinic = self.create_clinic(tx, clinic_id, &cmd.clinic_name, account_id)?;
                    self.audit(
                        tx,
                        AuditRecord::account("clinic.created", Some(account_id))
                            .in_clinic(Some(clinic_id))
                            .on("clinic", clinic_id.0),
                        client,
                    )?;
                    let (token, token_hash) = self.token_pair();
                    tx.insert_one_time_token(
                        &token_hash,
                        account_id,
                        TokenPurpose::VerifyEmail,
                        None,
                        now,
                        now + VERIFY_EMAIL_TTL,
                    )?;
                    self.email(
                        tx,
                        &email,
                        "Verify your email for Salus",
                        format!(
                            "Welcome to Salus. Your clinic \"{}\" is ready.\n\nConfirm this address with the code below (valid 48 hours):\n\n{token}\n\n{}",
                            clinic.name,
                            self.settings.links.instruction(Flow::VerifyEmail, &token)
                        ),
                    )
                })
            }
            Some(account) => {
                let verified = self
                    .hasher
                    .verify(&cmd.password, Some(&account.password_hash));
                let clinic_id = ClinicId(self.new_id());
                in_tx(self.store.as_ref(), Scope::Clinic(clinic_id), |tx| {
                    if verified == Verified::No {
                        self.audit(
                            tx,
                            AuditRecord::account(
                                "auth.signup_with_existing_email",
                                Some(account.id),
                            )
                            .in_clinic(None)
                            .failed(),
                            client,
                        )?;
                        return self.email(
                            tx,
                            &account.email,
                            "Someone tried to sign up with your email",
                            "Someone tried to create a clinic on Salus with your email address. \
                             If it was you, sign up again with your current password. \
                             If not, you can ignore this message.\n"
                                .to_owned(),
                        );
                    }
                    let clinic = self.create_clinic(tx, clinic_id, &cmd.clinic_name, account.id)?;
                    self.audit(
                        tx,
                        AuditRecord::account("clinic.created", Some(account.id))
                            .in_clinic(Some(clinic_id))
                            .on("clinic", clinic_id.0),
                        client,
                    )?;
                    self.email(
                        tx,
                        &account.email,
                        "Your new clinic on Salus",
                        format!(
                            "The clinic \"{}\" was created with you as its owner.\n",
                            clinic.name
                        ),
                    )
                })
            }
        }
    }

    fn create_clinic(
        &self,
        tx: &mut dyn Tx,
        id: ClinicId,
        name: &str,
        owner: AccountId,
    ) -> Result<Clinic, DomainError> {
        let now = self.now();
        let clinic = Clinic {
            id,
            name: name.trim().to_owned(),
            plan: "free".to_owned(),
            idle_timeout_minutes: 30,
            require_mfa: false,
            time_zone: "UTC".to_owned(),
            reminder_offset_hours: 24,
            version: 1,
        };
        tx.insert_clinic(&clinic, now)?;
        self.clinic_keys(tx, clinic.id)?;
        tx.insert_membership(
            clinic.id,
            MembershipId(self.new_id()),
            owner,
            Role::Owner,
            now,
        )?;
        Ok(clinic)
    }

    /// Records a refused sign-in that changed nothing else (unknown email, locked
    /// account), with its reason category; never the password or the email.
    fn record_login_failure(
        &self,
        account: Option<AccountId>,
        reason: &'static str,
        client: &ClientInfo,
    ) -> Result<(), DomainError> {
        in_tx(self.store.as_ref(), Scope::Platform, |tx| {
            self.audit(
                tx,
                AuditRecord::account("auth.login_failed", account)
                    .failed()
                    .detail("reason", reason),
                client,
            )
        })
    }

    /// Signs in with email and password (and optionally the clinic to act in).
    /// Unknown email, wrong password and locked account all answer
    /// `InvalidCredentials` after the same work.
    pub fn login(
        &self,
        email_raw: &str,
        password: &str,
        clinic: Option<ClinicId>,
        client: &ClientInfo,
    ) -> Result<LoginOutcome, DomainError> {
        self.throttle("login", client)?;
        let email = email::normalise("email", email_raw).unwrap_or_default();
        let now = self.now();
        let account = in_tx(self.store.as_ref(), Scope::Platform, |tx| {
            tx.account_by_email(&email)
        })?;
        let Some(account) = account else {
            self.hasher.verify(password, None);
            self.record_login_failure(None, "unknown_account", client)?;
            return Err(DomainError::InvalidCredentials);
        };
        let policy = self.settings.lockout;
        let gate = policy.gate(
            account.failed_logins,
            account.last_failed_login_at,
            account.locked_until,
            now,
        );
        if gate != Gate::Open {
            self.hasher.verify(password, None);
            self.record_login_failure(Some(account.id), "locked", client)?;
            return Err(DomainError::InvalidCredentials);
        }
        let verified = self.hasher.verify(password, Some(&account.password_hash));
        if verified == Verified::No {
            let (failures, lock) = policy.after_failure(account.failed_logins, now);
            in_tx(self.store.as_ref(), Scope::Platform, |tx| {
                tx.record_login_failure(account.id, failures, now, lock)?;
                self.audit(
                    tx,
                    AuditRecord::account("auth.login_failed", Some(account.id))
                        .failed()
                        .detail("reason", "wrong_password"),
                    client,
                )?;
                if lock.is_some() {
                    self.audit(
                        tx,
                        AuditRecord::account("auth.account_locked", Some(account.id)).failed(),
                        client,
                    )?;
                }
                Ok(())
            })?;
            return Err(DomainError::InvalidCredentials);
        }
        let rehash = match verified {
            Verified::YesRehash => Some(self.hasher.hash(password, self.random.as_ref())?),
            _ => None,
        };
        let memberships = in_tx(self.store.as_ref(), Scope::Account(account.id), |tx| {
            tx.clear_login_failures(account.id)?;
            if let Some(hash) = &rehash {
                tx.set_password_hash(account.id, hash, now)?;
            }
            tx.memberships_of(account.id)
        })?;
        let chosen = match (clinic, memberships.as_slice()) {
            (_, []) => {
                return Err(DomainError::forbidden(
                    "no_active_membership",
                    "This account is not an active member of any clinic.",
                ));
            }
            (None, [only]) => only.clone(),
            (None, _) => return Ok(LoginOutcome::ChooseClinic(memberships)),
            (Some(id), all) => match all.iter().find(|m| m.clinic_id == id) {
                Some(m) => m.clone(),
                None => return Ok(LoginOutcome::ChooseClinic(memberships)),
            },
        };
        if account.totp_confirmed_at.is_some() {
            let (challenge, hash) = self.clinic_token_pair(chosen.clinic_id);
            let expires_at = now + self.settings.mfa_challenge_ttl;
            in_tx(self.store.as_ref(), Scope::Clinic(chosen.clinic_id), |tx| {
                tx.insert_mfa_challenge(
                    &hash,
                    account.id,
                    chosen.clinic_id,
                    now,
                    expires_at,
                    client,
                )
            })?;
            return Ok(LoginOutcome::MfaRequired {
                challenge,
                expires_at,
            });
        }
        let grant = self.open_session(&account, chosen.clinic_id, chosen.id, false, client)?;
        Ok(LoginOutcome::Session(grant))
    }

    /// Opens a session (and notifies a sign-in from a new device).
    pub fn open_session(
        &self,
        account: &Account,
        clinic: ClinicId,
        membership: MembershipId,
        with_mfa: bool,
        client: &ClientInfo,
    ) -> Result<SessionGrant, DomainError> {
        let now = self.now();
        let session_id = SessionId(self.new_id());
        let absolute = now + self.settings.session_lifetime;
        let (refresh_token, refresh_hash) = self.clinic_token_pair(clinic);
        in_tx(self.store.as_ref(), Scope::Clinic(clinic), |tx| {
            let idle_minutes = tx.clinic(clinic)?.map_or(30, |c| c.idle_timeout_minutes);
            tx.insert_session(&Session {
                id: session_id,
                clinic_id: clinic,
                membership_id: membership,
                account_id: account.id,
                created_at: now,
                last_seen_at: now,
                idle_expires_at: (now + Duration::minutes(i64::from(idle_minutes))).min(absolute),
                absolute_expires_at: absolute,
                revoked_at: None,
                revoked_reason: None,
                ip: client.ip.clone(),
                user_agent: client.user_agent.clone(),
                mfa_at: with_mfa.then_some(now),
            })?;
            tx.insert_refresh_token(clinic, &refresh_hash, session_id, now)?;
            self.audit(
                tx,
                AuditRecord::account("auth.login_succeeded", Some(account.id))
                    .in_clinic(Some(clinic)),
                client,
            )?;
            let fingerprint = sha256(
                format!(
                    "{}|{}",
                    client.ip.as_deref().unwrap_or_default(),
                    client.user_agent.as_deref().unwrap_or_default()
                )
                .as_bytes(),
            );
            if tx.remember_device(account.id, &fingerprint, now)? {
                self.email(
                    tx,
                    &account.email,
                    "New sign-in to your Salus account",
                    format!(
                        "Your account was used to sign in from a device or address not seen before:\n\n\
                         address: {}\ndevice: {}\ntime: {}\n\n\
                         If this was not you, change your password and sign out your other sessions.\n",
                        client.ip.as_deref().unwrap_or("unknown"),
                        client.user_agent.as_deref().unwrap_or("unknown"),
                        now.format("%Y-%m-%d %H:%M UTC"),
                    ),
                )?;
            }
            Ok(())
        })?;
        Ok(SessionGrant {
            account_id: account.id,
            clinic_id: clinic,
            session_id,
            auth_time: now,
            with_mfa,
            refresh_token,
            absolute_expires_at: absolute,
        })
    }

    /// Exchanges a refresh token for a new one (rotation). A token presented a
    /// second time revokes its session and raises a security event.
    pub fn refresh(&self, token: &str, client: &ClientInfo) -> Result<SessionGrant, DomainError> {
        self.throttle("refresh", client)?;
        let clinic = clinic_of_token(token).ok_or(DomainError::Unauthenticated)?;
        let hash = sha256(token.as_bytes());
        let now = self.now();
        let (new_token, new_hash) = self.clinic_token_pair(clinic);
        committed(self.store.as_ref(), Scope::Clinic(clinic), |tx| {
            let Some(found) = tx.refresh_token(clinic, &hash)? else {
                return Ok(Err(DomainError::Unauthenticated));
            };
            let Some(ctx) = tx.session_context(clinic, found.session_id)? else {
                return Ok(Err(DomainError::Unauthenticated));
            };
            let session = &ctx.session;
            if found.used_at.is_some() {
                tx.revoke_session(
                    clinic,
                    session.id,
                    session.account_id,
                    now,
                    "refresh_token_reuse",
                )?;
                self.audit(
                    tx,
                    AuditRecord::account("auth.refresh_token_reuse", Some(session.account_id))
                        .in_clinic(Some(clinic))
                        .failed(),
                    client,
                )?;
                return Ok(Err(DomainError::Unauthenticated));
            }
            if !session.is_live(now) || !ctx.membership_active {
                return Ok(Err(DomainError::Unauthenticated));
            }
            tx.use_refresh_token(clinic, &hash, now)?;
            tx.insert_refresh_token(clinic, &new_hash, session.id, now)?;
            let idle = (now + Duration::minutes(i64::from(ctx.idle_timeout_minutes)))
                .min(session.absolute_expires_at);
            tx.touch_session(clinic, session.id, now, idle)?;
            Ok(Ok(SessionGrant {
                account_id: session.account_id,
                clinic_id: clinic,
                session_id: session.id,
                auth_time: session.created_at,
                with_mfa: session.mfa_at.is_some(),
                refresh_token: new_token.clone(),
                absolute_expires_at: session.absolute_expires_at,
            }))
        })
    }

    /// The per-request check behind every authenticated route: the session must be
    /// live (not revoked, not idle- or absolutely expired) and its membership
    /// active. Activity extends the idle expiry, written at most once a minute.
    pub fn authenticate(&self, clinic: ClinicId, session: SessionId) -> Result<Actor, DomainError> {
        let now = self.now();
        in_tx(self.store.as_ref(), Scope::Clinic(clinic), |tx| {
            let ctx = tx
                .session_context(clinic, session)?
                .ok_or(DomainError::Unauthenticated)?;
            let s = &ctx.session;
            if !s.is_live(now) || !ctx.membership_active {
                return Err(DomainError::Unauthenticated);
            }
            if now - s.last_seen_at >= TOUCH_INTERVAL {
                let idle = (now + Duration::minutes(i64::from(ctx.idle_timeout_minutes)))
                    .min(s.absolute_expires_at);
                tx.touch_session(clinic, session, now, idle)?;
            }
            Ok(Actor {
                account_id: s.account_id,
                clinic_id: clinic,
                membership_id: s.membership_id,
                session_id: s.id,
                role: ctx.role,
                mfa_at: s.mfa_at,
                mfa_enrolled: ctx.mfa_enrolled,
                mfa_required: ctx.role.requires_mfa() || ctx.clinic_requires_mfa,
                permissions: effective(ctx.role, ctx.extras),
            })
        })
    }

    /// Signs out this session.
    pub fn logout(&self, actor: &Actor, client: &ClientInfo) -> Result<(), DomainError> {
        let now = self.now();
        in_tx(self.store.as_ref(), Scope::Clinic(actor.clinic_id), |tx| {
            tx.revoke_session(
                actor.clinic_id,
                actor.session_id,
                actor.account_id,
                now,
                "logout",
            )?;
            self.audit(tx, AuditRecord::by(actor, "auth.logout"), client)
        })
    }

    /// Signs out every other session of this account, in every clinic.
    pub fn logout_others(&self, actor: &Actor, client: &ClientInfo) -> Result<usize, DomainError> {
        let now = self.now();
        in_tx(
            self.store.as_ref(),
            Scope::Account(actor.account_id),
            |tx| {
                let n = tx.revoke_account_sessions(
                    actor.account_id,
                    Some(actor.session_id),
                    now,
                    "logout_others",
                )?;
                self.audit(
                    tx,
                    AuditRecord::by(actor, "auth.logout_others")
                        .in_clinic(None)
                        .detail("sessions", n),
                    client,
                )?;
                Ok(n)
            },
        )
    }

    /// The account's sessions in the current clinic.
    pub fn sessions(&self, actor: &Actor) -> Result<Vec<Session>, DomainError> {
        in_tx(self.store.as_ref(), Scope::Clinic(actor.clinic_id), |tx| {
            tx.sessions_of(actor.clinic_id, actor.account_id)
        })
    }

    /// Revokes one of the account's own sessions; another's or an unknown id is 404.
    pub fn revoke_own_session(
        &self,
        actor: &Actor,
        id: SessionId,
        client: &ClientInfo,
    ) -> Result<(), DomainError> {
        let now = self.now();
        committed(self.store.as_ref(), Scope::Clinic(actor.clinic_id), |tx| {
            if !tx.revoke_session(
                actor.clinic_id,
                id,
                actor.account_id,
                now,
                "revoked_by_user",
            )? {
                return Ok(Err(DomainError::NotFound));
            }
            self.audit(
                tx,
                AuditRecord::by(actor, "session.revoked").on("session", id.0),
                client,
            )?;
            Ok(Ok(()))
        })
    }

    /// The signed-in person and membership.
    pub fn me(&self, actor: &Actor) -> Result<(Account, Clinic), DomainError> {
        in_tx(self.store.as_ref(), Scope::Clinic(actor.clinic_id), |tx| {
            let account = tx
                .account(actor.account_id)?
                .ok_or(DomainError::Unauthenticated)?;
            let clinic = tx
                .clinic(actor.clinic_id)?
                .ok_or(DomainError::Unauthenticated)?;
            Ok((account, clinic))
        })
    }
}
