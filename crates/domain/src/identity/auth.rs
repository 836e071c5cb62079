//! Sign-up, sign-in (with MFA and clinic choice), refresh, the per-request session
//! check, and sign-out.

use chrono::{DateTime, Duration, Utc};

use crate::DomainError;
use crate::access::effective;
use crate::actor::{Actor, ActorKind};
use crate::audit::AuditRecord;
use crate::crypto::sha256;
use crate::identity::email;
use crate::identity::links::Flow;
use crate::identity::model::{Account, ClientInfo, Clinic, MembershipSummary, Role, Session};
use crate::identity::one_time::{SIGN_UP_TTL, VERIFY_EMAIL_TTL, invalid_token};
use crate::identity::password::{PersonalWords, Verified, check_policy};
use crate::identity::service::Auth;
use crate::identity::throttle::Gate;
use crate::ids::{AccountId, ClinicId, MembershipId, SessionId};
use crate::integrations::api_key::PresentedKey;
use crate::integrations::authenticate::check_key;
use crate::ports::identity::{NewAccount, PendingSignUp};
use crate::store::{AuthTx, Scope};

/// Activity is written to the session at most this often.
pub const TOUCH_INTERVAL: Duration = Duration::minutes(1);

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
    /// The address is not verified yet: nothing is open to the account until it is
    /// (verify it, or ask for a new link).
    EmailVerificationRequired,
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

impl Auth {
    /// Asks for a clinic with its owner. Nothing is created yet: the address gets a
    /// token, and confirming it ([`Auth::verify_email`]) creates the account
    /// (its email verified) and the clinic, or, when the address already has an
    /// account, adds the clinic to it. Every address costs the same work (one
    /// password hash, one token, one transaction of the same statements) and gets
    /// the same answer, so neither the answer nor its timing tells whether the
    /// address has an account.
    pub fn sign_up(&self, cmd: &SignUp, client: &ClientInfo) -> Result<(), DomainError> {
        self.core.throttle("signup", client)?;
        let email = email::normalise("email", &cmd.email)?;
        let personal = PersonalWords {
            email: &email,
            words: vec![&cmd.given_name, &cmd.family_name, &cmd.clinic_name],
        };
        check_policy("password", &cmd.password, &personal)?;
        let existing = self.tx(Scope::Platform, |tx| tx.account_by_email(&email))?;
        let now = self.core.now();
        // Hashed for every address; used only when confirming creates the account.
        let password_hash = self.core.hasher().hash(&cmd.password, self.core.random())?;
        let (token, token_hash) = self.core.token_pair();
        let sign_up = PendingSignUp {
            id: self.core.new_id(),
            email: email.clone(),
            account_id: existing.as_ref().map(|a| a.id),
            clinic_name: cmd.clinic_name.trim().to_owned(),
            given_name: cmd.given_name.trim().to_owned(),
            family_name: cmd.family_name.trim().to_owned(),
            password_hash,
            token_expires_at: now + VERIFY_EMAIL_TTL,
            created_at: now,
            expires_at: now + SIGN_UP_TTL,
        };
        let instruction = self
            .core
            .settings()
            .links
            .instruction(Flow::VerifyEmail, &token);
        let (subject, body) = match existing {
            None => (
                "Verify your email for Salus",
                format!(
                    "Welcome to Salus. Confirm this address with the code below (valid 48 hours) and your clinic \"{}\" is created:\n\n{token}\n\n{instruction}\nWithout it the sign-up lapses after 7 days.\n",
                    sign_up.clinic_name
                ),
            ),
            Some(_) => (
                "Someone tried to sign up with your email",
                format!(
                    "Someone asked to create the clinic \"{}\" on Salus with your email address, which already has an account. If it was you, confirm with the code below (valid 48 hours) and the clinic is added to your account:\n\n{token}\n\n{instruction}\nIf it was not you, ignore this message: nothing changes without the code.\n",
                    sign_up.clinic_name
                ),
            ),
        };
        self.tx(Scope::Platform, |tx| {
            tx.remove_lapsed_sign_ups(now)?;
            tx.insert_sign_up(&sign_up, &token_hash)?;
            self.core.audit(
                tx,
                AuditRecord::account(
                    crate::audit::actions::AUTH_SIGN_UP_REQUESTED,
                    sign_up.account_id,
                )
                .in_clinic(None),
                client,
            )?;
            self.core.email(tx, &email, subject, body)
        })
    }

    /// Completes a sign-up whose token was just presented, in `clinic`'s scope:
    /// creates the account (a new address) or takes the existing one, marks the
    /// address verified, creates the clinic and removes the sign-up.
    pub(crate) fn complete_sign_up(
        &self,
        tx: &mut dyn AuthTx,
        sign_up: &PendingSignUp,
        clinic: ClinicId,
        client: &ClientInfo,
    ) -> Result<Result<(), DomainError>, DomainError> {
        let now = self.core.now();
        let account_id = match sign_up.account_id {
            Some(id) => match tx.account(id)? {
                Some(account) if account.email == sign_up.email => {
                    if account.email_verified_at.is_none() {
                        tx.set_email_verified(id, now)?;
                    }
                    id
                }
                // The account has moved to another address since.
                _ => return Ok(Err(invalid_token())),
            },
            None => {
                if tx.account_by_email(&sign_up.email)?.is_some() {
                    return Ok(Err(DomainError::Conflict {
                        code: "email_taken",
                        detail: "Another account uses this email now: sign up again to add a clinic to it.".into(),
                    }));
                }
                let id = AccountId(self.core.new_id());
                tx.insert_account(&NewAccount {
                    id,
                    email: sign_up.email.clone(),
                    given_name: sign_up.given_name.clone(),
                    family_name: sign_up.family_name.clone(),
                    password_hash: sign_up.password_hash.clone(),
                    created_at: now,
                })?;
                tx.set_email_verified(id, now)?;
                id
            }
        };
        self.create_clinic(tx, clinic, &sign_up.clinic_name, account_id)?;
        tx.remove_sign_up(sign_up.id)?;
        self.core.audit(
            tx,
            AuditRecord::account(
                crate::audit::actions::ACCOUNT_EMAIL_VERIFIED,
                Some(account_id),
            )
            .in_clinic(None),
            client,
        )?;
        self.core.audit(
            tx,
            AuditRecord::account(crate::audit::actions::CLINIC_CREATED, Some(account_id))
                .in_clinic(Some(clinic))
                .on("clinic", clinic),
            client,
        )?;
        Ok(Ok(()))
    }

    fn create_clinic(
        &self,
        tx: &mut dyn AuthTx,
        id: ClinicId,
        name: &str,
        owner: AccountId,
    ) -> Result<Clinic, DomainError> {
        let now = self.core.now();
        let clinic = Clinic {
            id,
            name: name.trim().to_owned(),
            plan: "free".to_owned(),
            idle_timeout_minutes: 30,
            require_mfa: false,
            time_zone: "UTC".to_owned(),
            reminder_offset_hours: 24,
            record_retention_years: 20,
            archive_after_years: 5,
            purpose_of_use_required: false,
            version: 1,
        };
        tx.insert_clinic(&clinic, now)?;
        self.core.clinic_keys(tx, clinic.id)?;
        tx.insert_membership(
            clinic.id,
            MembershipId(self.core.new_id()),
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
        self.tx(Scope::Platform, |tx| {
            self.core.audit(
                tx,
                AuditRecord::account(crate::audit::actions::AUTH_LOGIN_FAILED, account)
                    .failed()
                    .detail("reason", reason),
                client,
            )
        })
    }

    /// Records a sign-in with the right password to an address not verified yet.
    fn record_unverified_sign_in(
        &self,
        account: Option<AccountId>,
        client: &ClientInfo,
    ) -> Result<(), DomainError> {
        self.tx(Scope::Platform, |tx| {
            self.core.audit(
                tx,
                AuditRecord::account(crate::audit::actions::AUTH_LOGIN_EMAIL_UNVERIFIED, account)
                    .in_clinic(None)
                    .failed(),
                client,
            )
        })
    }

    /// Signs in with email and password (and optionally the clinic to act in).
    /// Unknown email, wrong password and locked account all answer
    /// `InvalidCredentials` after the same work. The right password of an address
    /// not verified yet (a sign-up not confirmed, or an account from before
    /// verification was required) answers `EmailVerificationRequired`: no session.
    pub fn login(
        &self,
        email_raw: &str,
        password: &str,
        clinic: Option<ClinicId>,
        client: &ClientInfo,
    ) -> Result<LoginOutcome, DomainError> {
        self.core.throttle("login", client)?;
        let email = email::normalise("email", email_raw).unwrap_or_default();
        let now = self.core.now();
        let account = self.tx(Scope::Platform, |tx| tx.account_by_email(&email))?;
        let Some(account) = account else {
            // A sign-up not confirmed yet: its password hears that the address must
            // be verified first (the same one hash as for an unknown address).
            let pending = self.tx(Scope::Platform, |tx| tx.pending_sign_up(&email, now))?;
            let stored = pending.as_ref().map(|p| p.password_hash.as_str());
            if self.core.hasher().verify(password, stored) != Verified::No {
                self.record_unverified_sign_in(None, client)?;
                return Ok(LoginOutcome::EmailVerificationRequired);
            }
            self.record_login_failure(None, "unknown_account", client)?;
            return Err(DomainError::InvalidCredentials);
        };
        let policy = self.core.settings().lockout;
        let gate = policy.gate(
            account.failed_logins,
            account.last_failed_login_at,
            account.locked_until,
            now,
        );
        if gate != Gate::Open {
            self.core.hasher().verify(password, None);
            self.record_login_failure(Some(account.id), "locked", client)?;
            return Err(DomainError::InvalidCredentials);
        }
        let verified = self
            .core
            .hasher()
            .verify(password, Some(&account.password_hash));
        if verified == Verified::No {
            let (failures, lock) = policy.after_failure(account.failed_logins, now);
            self.tx(Scope::Platform, |tx| {
                tx.record_login_failure(account.id, failures, now, lock)?;
                self.core.audit(
                    tx,
                    AuditRecord::account(
                        crate::audit::actions::AUTH_LOGIN_FAILED,
                        Some(account.id),
                    )
                    .failed()
                    .detail("reason", "wrong_password"),
                    client,
                )?;
                if lock.is_some() {
                    self.core.audit(
                        tx,
                        AuditRecord::account(
                            crate::audit::actions::AUTH_ACCOUNT_LOCKED,
                            Some(account.id),
                        )
                        .failed(),
                        client,
                    )?;
                }
                Ok(())
            })?;
            return Err(DomainError::InvalidCredentials);
        }
        let rehash = match verified {
            Verified::YesRehash => Some(self.core.hasher().hash(password, self.core.random())?),
            _ => None,
        };
        let memberships = self.tx(Scope::Account(account.id), |tx| {
            tx.clear_login_failures(account.id)?;
            if let Some(hash) = &rehash {
                tx.set_password_hash(account.id, hash, now)?;
            }
            tx.memberships_of(account.id)
        })?;
        if account.email_verified_at.is_none() {
            self.record_unverified_sign_in(Some(account.id), client)?;
            return Ok(LoginOutcome::EmailVerificationRequired);
        }
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
            let (challenge, hash) = self.core.clinic_token_pair(chosen.clinic_id);
            let expires_at = now + self.core.settings().mfa_challenge_ttl;
            self.tx(Scope::Clinic(chosen.clinic_id), |tx| {
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
        let now = self.core.now();
        let session_id = SessionId(self.core.new_id());
        let absolute = now + self.core.settings().session_lifetime;
        let (refresh_token, refresh_hash) = self.core.clinic_token_pair(clinic);
        self.tx(Scope::Clinic(clinic), |tx| {
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
            self.core.audit(
                tx,
                AuditRecord::account(
                    crate::audit::actions::AUTH_LOGIN_SUCCEEDED,
                    Some(account.id),
                )
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
                self.core.email(
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
        self.core.throttle("refresh", client)?;
        let clinic = clinic_of_token(token).ok_or(DomainError::Unauthenticated)?;
        let hash = sha256(token.as_bytes());
        let now = self.core.now();
        let (new_token, new_hash) = self.core.clinic_token_pair(clinic);
        self.committed(Scope::Clinic(clinic), |tx| {
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
                self.core.audit(
                    tx,
                    AuditRecord::account(
                        crate::audit::actions::AUTH_REFRESH_TOKEN_REUSE,
                        Some(session.account_id),
                    )
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
        let now = self.core.now();
        self.tx(Scope::Clinic(clinic), |tx| {
            check_session(tx, clinic, session, now)
        })
    }

    /// [`Auth::authenticate`] in a held transaction: the first transaction of
    /// the request's service continues it (one `BEGIN`, one scope setting, and
    /// the session checked in the very transaction that acts). Revocation stays
    /// immediate: nothing of the session is remembered between requests.
    pub fn authenticate_held(
        &self,
        clinic: ClinicId,
        session: SessionId,
    ) -> Result<Actor, DomainError> {
        let now = self.core.now();
        self.core.in_held_tx(Scope::Clinic(clinic), |tx| {
            check_session(tx, clinic, session, now)
        })
    }

    /// The per-request check of an API key (`crate::integrations::authenticate`)
    /// in a held transaction, as [`Auth::authenticate_held`] checks a session.
    pub fn authenticate_key_held(
        &self,
        key: &PresentedKey,
        client_ip: Option<&str>,
    ) -> Result<Actor, DomainError> {
        let now = self.core.now();
        self.core.in_held_tx(Scope::Clinic(key.clinic), |tx| {
            check_key(tx, key, client_ip, now)
        })
    }

    /// Signs out this session.
    pub fn logout(&self, actor: &Actor, client: &ClientInfo) -> Result<(), DomainError> {
        let now = self.core.now();
        self.tx(Scope::Clinic(actor.clinic_id), |tx| {
            tx.revoke_session(
                actor.clinic_id,
                actor.session_id,
                actor.account_id,
                now,
                "logout",
            )?;
            self.core.audit(
                tx,
                AuditRecord::by(actor, crate::audit::actions::AUTH_LOGOUT),
                client,
            )
        })
    }

    /// Signs out every other session of this account, in every clinic.
    pub fn logout_others(&self, actor: &Actor, client: &ClientInfo) -> Result<usize, DomainError> {
        let now = self.core.now();
        self.tx(Scope::Account(actor.account_id), |tx| {
            let n = tx.revoke_account_sessions(
                actor.account_id,
                Some(actor.session_id),
                now,
                "logout_others",
            )?;
            self.core.audit(
                tx,
                AuditRecord::by(actor, crate::audit::actions::AUTH_LOGOUT_OTHERS)
                    .in_clinic(None)
                    .detail("sessions", n),
                client,
            )?;
            Ok(n)
        })
    }

    /// The account's sessions in the current clinic.
    pub fn sessions(&self, actor: &Actor) -> Result<Vec<Session>, DomainError> {
        self.tx(Scope::Clinic(actor.clinic_id), |tx| {
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
        let now = self.core.now();
        self.committed(Scope::Clinic(actor.clinic_id), |tx| {
            if !tx.revoke_session(
                actor.clinic_id,
                id,
                actor.account_id,
                now,
                "revoked_by_user",
            )? {
                return Ok(Err(DomainError::NotFound));
            }
            self.core.audit(
                tx,
                AuditRecord::by(actor, crate::audit::actions::SESSION_REVOKED).on("session", id),
                client,
            )?;
            Ok(Ok(()))
        })
    }

    /// The signed-in person and membership.
    pub fn me(&self, actor: &Actor) -> Result<(Account, Clinic), DomainError> {
        self.tx(Scope::Clinic(actor.clinic_id), |tx| {
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

/// The session check: live, its membership active, touched at most once a
/// minute; the actor it yields.
fn check_session(
    tx: &mut dyn AuthTx,
    clinic: ClinicId,
    session: SessionId,
    now: DateTime<Utc>,
) -> Result<Actor, DomainError> {
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
        kind: ActorKind::Member(ctx.role),
        mfa_at: s.mfa_at,
        mfa_enrolled: ctx.mfa_enrolled,
        mfa_required: ctx.role.requires_mfa() || ctx.clinic_requires_mfa,
        purpose_of_use_required: ctx.purpose_of_use_required,
        permissions: effective(ctx.role, ctx.extras),
    })
}
