//! Storage of identity data, implemented by the persistence crate.

use chrono::{DateTime, Utc};

use crate::DomainError;
use crate::identity::model::{Account, Clinic, MembershipSummary, Role, Session, SessionContext};
use crate::ids::{AccountId, ClinicId, MembershipId, SessionId, SignUpId};

/// A new account.
#[derive(Debug, Clone)]
pub struct NewAccount {
    /// Its id.
    pub id: AccountId,
    /// Normalised email.
    pub email: String,
    /// Given name.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// argon2id hash.
    pub password_hash: String,
    /// Now.
    pub created_at: DateTime<Utc>,
}

/// A sign-up waiting for its address to be confirmed (no account or clinic yet).
#[derive(Debug, Clone)]
pub struct PendingSignUp {
    /// Its id.
    pub id: SignUpId,
    /// Normalised email.
    pub email: String,
    /// The account that already had this address (confirming adds the clinic to it).
    pub account_id: Option<AccountId>,
    /// The clinic's name.
    pub clinic_name: String,
    /// Given name (for a new account).
    pub given_name: String,
    /// Family name (for a new account).
    pub family_name: String,
    /// argon2id hash of the password given (for a new account).
    pub password_hash: String,
    /// The emailed token stops working then.
    pub token_expires_at: DateTime<Utc>,
    /// When it was asked for.
    pub created_at: DateTime<Utc>,
    /// It lapses then ([`crate::identity::one_time::SIGN_UP_TTL`] after it was asked for).
    pub expires_at: DateTime<Utc>,
}

/// A single-use token's purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPurpose {
    /// Verify the account's email.
    VerifyEmail,
    /// Reset a forgotten password.
    ResetPassword,
    /// Confirm a new email address.
    ChangeEmail,
}

impl TokenPurpose {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::ResetPassword => "reset_password",
            Self::ChangeEmail => "change_email",
        }
    }
}

/// A single-use token found by its hash.
#[derive(Debug, Clone)]
pub struct OneTimeToken {
    /// The account.
    pub account_id: AccountId,
    /// The new email (email change).
    pub new_email: Option<String>,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
    /// Used when.
    pub used_at: Option<DateTime<Utc>>,
}

/// An MFA challenge found by its hash.
#[derive(Debug, Clone)]
pub struct MfaChallenge {
    /// The account.
    pub account_id: AccountId,
    /// The clinic chosen at sign-in.
    pub clinic_id: ClinicId,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
    /// Failed codes so far.
    pub attempts: i32,
    /// Used when.
    pub consumed_at: Option<DateTime<Utc>>,
    /// Client address at sign-in.
    pub ip: Option<String>,
    /// User agent at sign-in.
    pub user_agent: Option<String>,
}

/// A refresh token found by its hash.
#[derive(Debug, Clone)]
pub struct RefreshToken {
    /// Its session.
    pub session_id: SessionId,
    /// Used (rotated) when.
    pub used_at: Option<DateTime<Utc>>,
}

/// A pending phone verification.
#[derive(Debug, Clone)]
pub struct PhoneChallenge {
    /// The number being verified.
    pub phone: String,
    /// SHA-256 of the code.
    pub code_hash: Vec<u8>,
    /// Expiry.
    pub expires_at: DateTime<Utc>,
    /// Failed attempts.
    pub attempts: i32,
    /// Last sent.
    pub last_sent_at: DateTime<Utc>,
}

/// Identity storage. Every method runs inside the caller's transaction.
pub trait IdentityRepo {
    // accounts
    /// Finds an account by normalised email.
    fn account_by_email(&mut self, email: &str) -> Result<Option<Account>, DomainError>;
    /// Finds an account by id.
    fn account(&mut self, id: AccountId) -> Result<Option<Account>, DomainError>;
    /// Inserts an account.
    fn insert_account(&mut self, account: &NewAccount) -> Result<(), DomainError>;
    /// Records a failed sign-in: the new count, when, and a lock if any.
    fn record_login_failure(
        &mut self,
        id: AccountId,
        failed_logins: i32,
        at: DateTime<Utc>,
        locked_until: Option<DateTime<Utc>>,
    ) -> Result<(), DomainError>;
    /// Clears failures and lock after a successful sign-in or reset.
    fn clear_login_failures(&mut self, id: AccountId) -> Result<(), DomainError>;
    /// Replaces the password hash.
    fn set_password_hash(
        &mut self,
        id: AccountId,
        hash: &str,
        at: DateTime<Utc>,
    ) -> Result<(), DomainError>;
    /// Marks the email verified.
    fn set_email_verified(&mut self, id: AccountId, at: DateTime<Utc>) -> Result<(), DomainError>;
    /// Replaces the email (verified).
    fn set_email(
        &mut self,
        id: AccountId,
        email: &str,
        at: DateTime<Utc>,
    ) -> Result<(), DomainError>;
    /// Stores the sealed secret of a new enrolment beside the confirmed one (which
    /// stays in force until the new one is confirmed).
    fn set_pending_totp_secret(&mut self, id: AccountId, sealed: &[u8]) -> Result<(), DomainError>;
    /// Makes the pending secret the confirmed one, confirmed at `at` with its first
    /// accepted step; false when no enrolment is pending.
    fn confirm_pending_totp_secret(
        &mut self,
        id: AccountId,
        at: DateTime<Utc>,
        step: i64,
    ) -> Result<bool, DomainError>;
    /// Removes the account's authenticator, confirmed and pending.
    fn remove_totp(&mut self, id: AccountId) -> Result<(), DomainError>;
    /// Records the last accepted TOTP step if it is newer; false when it is not (replay).
    fn advance_totp_step(&mut self, id: AccountId, step: i64) -> Result<bool, DomainError>;
    /// Sets the verified phone number.
    fn set_phone_verified(
        &mut self,
        id: AccountId,
        phone: &str,
        at: DateTime<Utc>,
    ) -> Result<(), DomainError>;

    // clinics and memberships
    /// Inserts a clinic.
    fn insert_clinic(&mut self, clinic: &Clinic, at: DateTime<Utc>) -> Result<(), DomainError>;
    /// Inserts a membership.
    fn insert_membership(
        &mut self,
        clinic: ClinicId,
        id: MembershipId,
        account: AccountId,
        role: Role,
        at: DateTime<Utc>,
    ) -> Result<(), DomainError>;
    /// The account's active memberships, with clinic names, oldest first.
    fn memberships_of(&mut self, account: AccountId)
    -> Result<Vec<MembershipSummary>, DomainError>;
    /// A clinic by id.
    fn clinic(&mut self, id: ClinicId) -> Result<Option<Clinic>, DomainError>;

    // sessions
    /// Inserts a session.
    fn insert_session(&mut self, session: &Session) -> Result<(), DomainError>;
    /// A session with its membership, clinic settings and MFA enrolment.
    fn session_context(
        &mut self,
        clinic: ClinicId,
        id: SessionId,
    ) -> Result<Option<SessionContext>, DomainError>;
    /// Records activity: new last-seen and idle expiry.
    fn touch_session(
        &mut self,
        clinic: ClinicId,
        id: SessionId,
        at: DateTime<Utc>,
        idle_expires_at: DateTime<Utc>,
    ) -> Result<(), DomainError>;
    /// Records an MFA check on a session.
    fn set_session_mfa(
        &mut self,
        clinic: ClinicId,
        id: SessionId,
        at: DateTime<Utc>,
    ) -> Result<(), DomainError>;
    /// Revokes one session; false when it was not live or not the account's.
    fn revoke_session(
        &mut self,
        clinic: ClinicId,
        id: SessionId,
        account: AccountId,
        at: DateTime<Utc>,
        reason: &str,
    ) -> Result<bool, DomainError>;
    /// Revokes every live session of the account (in every clinic), except `keep`.
    fn revoke_account_sessions(
        &mut self,
        account: AccountId,
        keep: Option<SessionId>,
        at: DateTime<Utc>,
        reason: &str,
    ) -> Result<usize, DomainError>;
    /// The account's sessions in one clinic, newest first.
    fn sessions_of(
        &mut self,
        clinic: ClinicId,
        account: AccountId,
    ) -> Result<Vec<Session>, DomainError>;

    // refresh tokens
    /// Stores a refresh token's hash.
    fn insert_refresh_token(
        &mut self,
        clinic: ClinicId,
        hash: &[u8],
        session: SessionId,
        at: DateTime<Utc>,
    ) -> Result<(), DomainError>;
    /// Finds a refresh token by hash, locking it.
    fn refresh_token(
        &mut self,
        clinic: ClinicId,
        hash: &[u8],
    ) -> Result<Option<RefreshToken>, DomainError>;
    /// Marks a refresh token used.
    fn use_refresh_token(
        &mut self,
        clinic: ClinicId,
        hash: &[u8],
        at: DateTime<Utc>,
    ) -> Result<(), DomainError>;

    // MFA challenges and recovery codes
    /// Stores an MFA challenge.
    fn insert_mfa_challenge(
        &mut self,
        hash: &[u8],
        account: AccountId,
        clinic: ClinicId,
        at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
        client: &crate::identity::model::ClientInfo,
    ) -> Result<(), DomainError>;
    /// Finds a challenge by hash, locking it.
    fn mfa_challenge(
        &mut self,
        clinic: ClinicId,
        hash: &[u8],
    ) -> Result<Option<MfaChallenge>, DomainError>;
    /// Counts a failed code on a challenge.
    fn fail_mfa_challenge(&mut self, clinic: ClinicId, hash: &[u8]) -> Result<(), DomainError>;
    /// Consumes a challenge.
    fn consume_mfa_challenge(
        &mut self,
        clinic: ClinicId,
        hash: &[u8],
        at: DateTime<Utc>,
    ) -> Result<(), DomainError>;
    /// Replaces the account's recovery codes.
    fn replace_recovery_codes(
        &mut self,
        account: AccountId,
        hashes: &[Vec<u8>],
    ) -> Result<(), DomainError>;
    /// Uses a recovery code; false when unknown or already used.
    fn use_recovery_code(
        &mut self,
        account: AccountId,
        hash: &[u8],
        at: DateTime<Utc>,
    ) -> Result<bool, DomainError>;

    // one-time tokens
    /// Stores a single-use token.
    fn insert_one_time_token(
        &mut self,
        hash: &[u8],
        account: AccountId,
        purpose: TokenPurpose,
        new_email: Option<&str>,
        at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), DomainError>;
    /// Finds a token of this purpose by hash, locking it.
    fn one_time_token(
        &mut self,
        hash: &[u8],
        purpose: TokenPurpose,
    ) -> Result<Option<OneTimeToken>, DomainError>;
    /// Marks a token used.
    fn use_one_time_token(&mut self, hash: &[u8], at: DateTime<Utc>) -> Result<(), DomainError>;
    /// Stores a single-use token for the account with this email, if there is one
    /// (and, with `unverified_only`, only if its email is not verified): one
    /// statement whatever the answer, so callers do the same work for every address.
    /// Returns the account.
    fn insert_one_time_token_for_email(
        &mut self,
        hash: &[u8],
        email: &str,
        purpose: TokenPurpose,
        unverified_only: bool,
        at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<Option<AccountId>, DomainError>;

    // sign-ups
    /// Removes the sign-ups that lapsed by `now`; returns how many.
    fn remove_lapsed_sign_ups(&mut self, now: DateTime<Utc>) -> Result<usize, DomainError>;
    /// Stores a sign-up with the hash of its emailed token.
    fn insert_sign_up(
        &mut self,
        sign_up: &PendingSignUp,
        token_hash: &[u8],
    ) -> Result<(), DomainError>;
    /// Finds a sign-up by its token's hash, locking it.
    fn sign_up_by_token(&mut self, hash: &[u8]) -> Result<Option<PendingSignUp>, DomainError>;
    /// The newest sign-up for a new account with this email that has not lapsed at `now`.
    fn pending_sign_up(
        &mut self,
        email: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<PendingSignUp>, DomainError>;
    /// Gives the newest sign-up with this email that has not lapsed a new token
    /// (expiring at `token_expires_at` or when the sign-up lapses, whichever is
    /// first): one statement whatever the answer. Returns whether there was one.
    fn reissue_sign_up_token(
        &mut self,
        email: &str,
        hash: &[u8],
        now: DateTime<Utc>,
        token_expires_at: DateTime<Utc>,
    ) -> Result<bool, DomainError>;
    /// Removes a sign-up (once confirmed).
    fn remove_sign_up(&mut self, id: SignUpId) -> Result<(), DomainError>;

    // phone
    /// The pending phone challenge, locking it.
    fn phone_challenge(
        &mut self,
        account: AccountId,
    ) -> Result<Option<PhoneChallenge>, DomainError>;
    /// Creates or replaces the phone challenge.
    fn put_phone_challenge(
        &mut self,
        account: AccountId,
        challenge: &PhoneChallenge,
    ) -> Result<(), DomainError>;
    /// Removes the phone challenge.
    fn delete_phone_challenge(&mut self, account: AccountId) -> Result<(), DomainError>;

    // throttling, devices
    /// Counts a hit in the fixed window that contains `now`; returns the hits so far
    /// and when the window started.
    fn hit_rate_limit(
        &mut self,
        key: &str,
        now: DateTime<Utc>,
        window_secs: i64,
    ) -> Result<(i32, DateTime<Utc>), DomainError>;
    /// Remembers a device; true when it was not known before.
    fn remember_device(
        &mut self,
        account: AccountId,
        fingerprint: &[u8],
        at: DateTime<Utc>,
    ) -> Result<bool, DomainError>;
}
