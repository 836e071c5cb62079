//! `IdentityRepo` on PostgreSQL.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{
    Array, Bool, Bytea, Int4, Int8, Nullable, Text, Timestamptz, Uuid as SqlUuid,
};
use salus_domain::DomainError;
use salus_domain::access::{Extras, PermissionSet};
use salus_domain::identity::model::{
    Account, ClientInfo, Clinic, MembershipSummary, Role, Session, SessionContext,
};
use salus_domain::ids::{AccountId, ClinicId, MembershipId, SessionId, SignUpId};
use salus_domain::ports::identity::{
    IdentityRepo, MfaChallenge, NewAccount, OneTimeToken, PendingSignUp, PhoneChallenge,
    RefreshToken, TokenPurpose,
};
use uuid::Uuid;

use crate::cached::CacheStatement;
use crate::prepared::TwoBinds;
use crate::schema::{
    accounts, clinics, known_devices, memberships, mfa_challenges, one_time_tokens,
    phone_challenges, recovery_codes, refresh_tokens, sessions, sign_ups,
};
use crate::store::{PgTx, db_error};

type Res<T> = Result<T, DomainError>;

#[derive(Queryable, Selectable)]
#[diesel(table_name = accounts)]
struct AccountRow {
    id: Uuid,
    email: String,
    email_verified_at: Option<DateTime<Utc>>,
    given_name: String,
    family_name: String,
    password_hash: String,
    failed_logins: i32,
    last_failed_login_at: Option<DateTime<Utc>>,
    locked_until: Option<DateTime<Utc>>,
    totp_secret: Option<Vec<u8>>,
    totp_confirmed_at: Option<DateTime<Utc>>,
    totp_last_step: Option<i64>,
    phone: Option<String>,
    phone_verified_at: Option<DateTime<Utc>>,
    totp_pending_secret: Option<Vec<u8>>,
}

impl From<AccountRow> for Account {
    fn from(r: AccountRow) -> Self {
        Self {
            id: AccountId(r.id),
            email: r.email,
            email_verified_at: r.email_verified_at,
            given_name: r.given_name,
            family_name: r.family_name,
            password_hash: r.password_hash,
            failed_logins: r.failed_logins,
            last_failed_login_at: r.last_failed_login_at,
            locked_until: r.locked_until,
            totp_secret: r.totp_secret,
            totp_confirmed_at: r.totp_confirmed_at,
            totp_last_step: r.totp_last_step,
            phone: r.phone,
            phone_verified_at: r.phone_verified_at,
            totp_pending_secret: r.totp_pending_secret,
        }
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = clinics)]
struct ClinicRow {
    id: Uuid,
    name: String,
    plan: String,
    idle_timeout_minutes: i32,
    require_mfa: bool,
    time_zone: String,
    reminder_offset_hours: i32,
    version: i32,
    record_retention_years: i32,
    archive_after_years: i32,
    purpose_of_use_required: bool,
}

impl From<ClinicRow> for Clinic {
    fn from(r: ClinicRow) -> Self {
        Self {
            id: ClinicId(r.id),
            name: r.name,
            plan: r.plan,
            idle_timeout_minutes: r.idle_timeout_minutes,
            require_mfa: r.require_mfa,
            time_zone: r.time_zone,
            reminder_offset_hours: r.reminder_offset_hours,
            record_retention_years: r.record_retention_years,
            archive_after_years: r.archive_after_years,
            purpose_of_use_required: r.purpose_of_use_required,
            version: r.version,
        }
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = sessions)]
struct SessionRow {
    clinic_id: Uuid,
    id: Uuid,
    membership_id: Uuid,
    account_id: Uuid,
    created_at: DateTime<Utc>,
    last_seen_at: DateTime<Utc>,
    idle_expires_at: DateTime<Utc>,
    absolute_expires_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
    revoked_reason: Option<String>,
    ip: Option<String>,
    user_agent: Option<String>,
    mfa_at: Option<DateTime<Utc>>,
}

impl From<SessionRow> for Session {
    fn from(r: SessionRow) -> Self {
        Self {
            id: SessionId(r.id),
            clinic_id: ClinicId(r.clinic_id),
            membership_id: MembershipId(r.membership_id),
            account_id: AccountId(r.account_id),
            created_at: r.created_at,
            last_seen_at: r.last_seen_at,
            idle_expires_at: r.idle_expires_at,
            absolute_expires_at: r.absolute_expires_at,
            revoked_at: r.revoked_at,
            revoked_reason: r.revoked_reason,
            ip: r.ip,
            user_agent: r.user_agent,
            mfa_at: r.mfa_at,
        }
    }
}

impl From<&Session> for SessionRow {
    fn from(s: &Session) -> Self {
        Self {
            clinic_id: s.clinic_id.0,
            id: s.id.0,
            membership_id: s.membership_id.0,
            account_id: s.account_id.0,
            created_at: s.created_at,
            last_seen_at: s.last_seen_at,
            idle_expires_at: s.idle_expires_at,
            absolute_expires_at: s.absolute_expires_at,
            revoked_at: s.revoked_at,
            revoked_reason: s.revoked_reason.clone(),
            ip: s.ip.clone(),
            user_agent: s.user_agent.clone(),
            mfa_at: s.mfa_at,
        }
    }
}

fn role(name: &str) -> Res<Role> {
    Role::parse(name).ok_or_else(|| DomainError::Internal(format!("unknown role {name}")))
}

/// The per-request session check: the session, its membership (role, custom roles,
/// overrides), the clinic's settings and MFA enrolment, in one round trip.
const SESSION_CONTEXT_SQL: &str = "
    SELECT s.clinic_id, s.id, s.membership_id, s.account_id, s.created_at, s.last_seen_at,
           s.idle_expires_at, s.absolute_expires_at, s.revoked_at, s.revoked_reason, s.ip,
           s.user_agent, s.mfa_at, m.role, m.active, c.idle_timeout_minutes, c.require_mfa,
           c.purpose_of_use_required,
           a.totp_confirmed_at,
           coalesce((SELECT array_agg(DISTINCT p) FROM membership_custom_roles mcr
                       JOIN custom_roles cr ON cr.clinic_id = mcr.clinic_id AND cr.id = mcr.role_id
                       CROSS JOIN unnest(cr.permissions) AS p
                      WHERE mcr.clinic_id = s.clinic_id AND mcr.membership_id = s.membership_id),
                    '{}') AS custom,
           coalesce((SELECT array_agg(o.permission) FROM permission_overrides o
                      WHERE o.clinic_id = s.clinic_id AND o.membership_id = s.membership_id
                        AND o.effect = 'grant'), '{}') AS grants,
           coalesce((SELECT array_agg(o.permission) FROM permission_overrides o
                      WHERE o.clinic_id = s.clinic_id AND o.membership_id = s.membership_id
                        AND o.effect = 'deny'), '{}') AS denies,
           sha256(k.wrapped_data_key || coalesce(k.retiring_data_key, ''::bytea)) AS keys_fingerprint
      FROM sessions s
      JOIN memberships m ON m.clinic_id = s.clinic_id AND m.id = s.membership_id
      JOIN clinics c ON c.id = s.clinic_id
      JOIN accounts a ON a.id = s.account_id
      LEFT JOIN clinic_keys k ON k.clinic_id = s.clinic_id
     WHERE s.clinic_id = $1 AND s.id = $2";

/// [`SESSION_CONTEXT_SQL`]'s identity in the statement cache.
struct SessionContextQuery;

#[derive(QueryableByName)]
struct SessionContextRow {
    #[diesel(sql_type = SqlUuid)]
    clinic_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    membership_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    account_id: Uuid,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    last_seen_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    idle_expires_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    absolute_expires_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    revoked_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Text>)]
    revoked_reason: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    ip: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    user_agent: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    mfa_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Text)]
    role: String,
    #[diesel(sql_type = Bool)]
    active: bool,
    #[diesel(sql_type = Int4)]
    idle_timeout_minutes: i32,
    #[diesel(sql_type = Bool)]
    require_mfa: bool,
    #[diesel(sql_type = Bool)]
    purpose_of_use_required: bool,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    totp_confirmed_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Array<Text>)]
    custom: Vec<String>,
    #[diesel(sql_type = Array<Text>)]
    grants: Vec<String>,
    #[diesel(sql_type = Array<Text>)]
    denies: Vec<String>,
    /// The fingerprint of the clinic's stored keys (none yet: NULL), read with
    /// the session so the key cache costs no query.
    #[diesel(sql_type = Nullable<diesel::sql_types::Bytea>)]
    keys_fingerprint: Option<Vec<u8>>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = sign_ups)]
struct SignUpRow {
    id: Uuid,
    email: String,
    account_id: Option<Uuid>,
    clinic_name: String,
    given_name: String,
    family_name: String,
    password_hash: String,
    token_expires_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

impl From<SignUpRow> for PendingSignUp {
    fn from(r: SignUpRow) -> Self {
        Self {
            id: SignUpId(r.id),
            email: r.email,
            account_id: r.account_id.map(AccountId),
            clinic_name: r.clinic_name,
            given_name: r.given_name,
            family_name: r.family_name,
            password_hash: r.password_hash,
            token_expires_at: r.token_expires_at,
            created_at: r.created_at,
            expires_at: r.expires_at,
        }
    }
}

#[derive(QueryableByName)]
struct TokenOwner {
    #[diesel(sql_type = SqlUuid)]
    account_id: Uuid,
}

#[derive(QueryableByName)]
struct Window {
    #[diesel(sql_type = Int4)]
    hits: i32,
    #[diesel(sql_type = Timestamptz)]
    window_started_at: DateTime<Utc>,
}

impl IdentityRepo for PgTx<'_> {
    fn account_by_email(&mut self, email: &str) -> Res<Option<Account>> {
        accounts::table
            .filter(accounts::email.eq(email))
            .select(AccountRow::as_select())
            .first(self.conn)
            .optional()
            .map(|r| r.map(Account::from))
            .map_err(db_error)
    }

    fn account(&mut self, id: AccountId) -> Res<Option<Account>> {
        accounts::table
            .find(id.0)
            .select(AccountRow::as_select())
            .first(self.conn)
            .optional()
            .map(|r| r.map(Account::from))
            .map_err(db_error)
    }

    fn insert_account(&mut self, a: &NewAccount) -> Res<()> {
        diesel::insert_into(accounts::table)
            .values((
                accounts::id.eq(a.id.0),
                accounts::email.eq(&a.email),
                accounts::given_name.eq(&a.given_name),
                accounts::family_name.eq(&a.family_name),
                accounts::password_hash.eq(&a.password_hash),
                accounts::password_changed_at.eq(a.created_at),
                accounts::created_at.eq(a.created_at),
                accounts::updated_at.eq(a.created_at),
            ))
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }

    fn record_login_failure(
        &mut self,
        id: AccountId,
        failed: i32,
        at: DateTime<Utc>,
        locked_until: Option<DateTime<Utc>>,
    ) -> Res<()> {
        diesel::update(accounts::table.find(id.0))
            .set((
                accounts::failed_logins.eq(failed),
                accounts::last_failed_login_at.eq(at),
                accounts::locked_until.eq(locked_until),
            ))
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }

    fn clear_login_failures(&mut self, id: AccountId) -> Res<()> {
        diesel::update(accounts::table.find(id.0))
            .set((
                accounts::failed_logins.eq(0),
                accounts::last_failed_login_at.eq(None::<DateTime<Utc>>),
                accounts::locked_until.eq(None::<DateTime<Utc>>),
            ))
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }

    fn set_password_hash(&mut self, id: AccountId, hash: &str, at: DateTime<Utc>) -> Res<()> {
        diesel::update(accounts::table.find(id.0))
            .set((
                accounts::password_hash.eq(hash),
                accounts::password_changed_at.eq(at),
                accounts::updated_at.eq(at),
            ))
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }

    fn set_email_verified(&mut self, id: AccountId, at: DateTime<Utc>) -> Res<()> {
        diesel::update(accounts::table.find(id.0))
            .set(accounts::email_verified_at.eq(at))
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }

    fn set_email(&mut self, id: AccountId, email: &str, at: DateTime<Utc>) -> Res<()> {
        diesel::update(accounts::table.find(id.0))
            .set((
                accounts::email.eq(email),
                accounts::email_verified_at.eq(at),
                accounts::updated_at.eq(at),
            ))
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }

    fn set_pending_totp_secret(&mut self, id: AccountId, sealed: &[u8]) -> Res<()> {
        diesel::update(accounts::table.find(id.0))
            .set(accounts::totp_pending_secret.eq(sealed))
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }

    fn confirm_pending_totp_secret(
        &mut self,
        id: AccountId,
        at: DateTime<Utc>,
        step: i64,
    ) -> Res<bool> {
        diesel::update(
            accounts::table
                .find(id.0)
                .filter(accounts::totp_pending_secret.is_not_null()),
        )
        .set((
            accounts::totp_secret.eq(accounts::totp_pending_secret),
            accounts::totp_pending_secret.eq(None::<Vec<u8>>),
            accounts::totp_confirmed_at.eq(at),
            accounts::totp_last_step.eq(step),
        ))
        .execute(self.conn)
        .map(|n| n == 1)
        .map_err(db_error)
    }

    fn remove_totp(&mut self, id: AccountId) -> Res<()> {
        diesel::update(accounts::table.find(id.0))
            .set((
                accounts::totp_secret.eq(None::<Vec<u8>>),
                accounts::totp_pending_secret.eq(None::<Vec<u8>>),
                accounts::totp_confirmed_at.eq(None::<DateTime<Utc>>),
                accounts::totp_last_step.eq(None::<i64>),
            ))
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }

    fn advance_totp_step(&mut self, id: AccountId, step: i64) -> Res<bool> {
        diesel::update(
            accounts::table.find(id.0).filter(
                accounts::totp_last_step
                    .is_null()
                    .or(accounts::totp_last_step.lt(step)),
            ),
        )
        .set(accounts::totp_last_step.eq(step))
        .execute(self.conn)
        .map(|n| n == 1)
        .map_err(db_error)
    }

    fn set_phone_verified(&mut self, id: AccountId, phone: &str, at: DateTime<Utc>) -> Res<()> {
        diesel::update(accounts::table.find(id.0))
            .set((
                accounts::phone.eq(phone),
                accounts::phone_verified_at.eq(at),
            ))
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }

    fn insert_clinic(&mut self, c: &Clinic, at: DateTime<Utc>) -> Res<()> {
        diesel::insert_into(clinics::table)
            .values((
                clinics::id.eq(c.id.0),
                clinics::name.eq(&c.name),
                clinics::plan.eq(&c.plan),
                clinics::idle_timeout_minutes.eq(c.idle_timeout_minutes),
                clinics::require_mfa.eq(c.require_mfa),
                clinics::time_zone.eq(&c.time_zone),
                clinics::reminder_offset_hours.eq(c.reminder_offset_hours),
                clinics::created_at.eq(at),
            ))
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }

    fn insert_membership(
        &mut self,
        clinic: ClinicId,
        id: MembershipId,
        account: AccountId,
        r: Role,
        at: DateTime<Utc>,
    ) -> Res<()> {
        diesel::insert_into(memberships::table)
            .values((
                memberships::clinic_id.eq(clinic.0),
                memberships::id.eq(id.0),
                memberships::account_id.eq(account.0),
                memberships::role.eq(r.as_str()),
                memberships::created_at.eq(at),
            ))
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }

    fn memberships_of(&mut self, account: AccountId) -> Res<Vec<MembershipSummary>> {
        let rows: Vec<(Uuid, Uuid, String, String)> = memberships::table
            .inner_join(clinics::table)
            .filter(memberships::account_id.eq(account.0))
            .filter(memberships::active.eq(true))
            .order(memberships::created_at.asc())
            .select((
                memberships::id,
                memberships::clinic_id,
                clinics::name,
                memberships::role,
            ))
            .load(self.conn)
            .map_err(db_error)?;
        rows.into_iter()
            .map(|(id, clinic_id, clinic_name, r)| {
                Ok(MembershipSummary {
                    id: MembershipId(id),
                    clinic_id: ClinicId(clinic_id),
                    clinic_name,
                    role: role(&r)?,
                })
            })
            .collect()
    }

    fn clinic(&mut self, id: ClinicId) -> Res<Option<Clinic>> {
        clinics::table
            .find(id.0)
            .select(ClinicRow::as_select())
            .first(self.conn)
            .optional()
            .map(|r| r.map(Clinic::from))
            .map_err(db_error)
    }

    fn insert_session(&mut self, s: &Session) -> Res<()> {
        diesel::insert_into(sessions::table)
            .values(SessionRow::from(s))
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }

    fn session_context(&mut self, clinic: ClinicId, id: SessionId) -> Res<Option<SessionContext>> {
        let row: Option<SessionContextRow> =
            TwoBinds::<SessionContextQuery, SqlUuid, SqlUuid, Uuid, Uuid>::new(
                SESSION_CONTEXT_SQL,
                &clinic.0,
                &id.0,
            )
            .get_result(self.conn)
            .optional()
            .map_err(db_error)?;
        if let Some(r) = &row {
            self.saw_keys(
                clinic,
                r.keys_fingerprint
                    .as_deref()
                    .and_then(|f| <[u8; 32]>::try_from(f).ok()),
            );
        }
        row.map(|r| {
            Ok(SessionContext {
                session: Session {
                    id: SessionId(r.id),
                    clinic_id: ClinicId(r.clinic_id),
                    membership_id: MembershipId(r.membership_id),
                    account_id: AccountId(r.account_id),
                    created_at: r.created_at,
                    last_seen_at: r.last_seen_at,
                    idle_expires_at: r.idle_expires_at,
                    absolute_expires_at: r.absolute_expires_at,
                    revoked_at: r.revoked_at,
                    revoked_reason: r.revoked_reason,
                    ip: r.ip,
                    user_agent: r.user_agent,
                    mfa_at: r.mfa_at,
                },
                role: role(&r.role)?,
                membership_active: r.active,
                idle_timeout_minutes: r.idle_timeout_minutes,
                clinic_requires_mfa: r.require_mfa,
                purpose_of_use_required: r.purpose_of_use_required,
                mfa_enrolled: r.totp_confirmed_at.is_some(),
                extras: Extras {
                    custom: PermissionSet::from_codes(&r.custom),
                    grants: PermissionSet::from_codes(&r.grants),
                    denies: PermissionSet::from_codes(&r.denies),
                },
            })
        })
        .transpose()
    }

    fn touch_session(
        &mut self,
        clinic: ClinicId,
        id: SessionId,
        at: DateTime<Utc>,
        idle: DateTime<Utc>,
    ) -> Res<()> {
        diesel::update(sessions::table.find((clinic.0, id.0)))
            .set((
                sessions::last_seen_at.eq(at),
                sessions::idle_expires_at.eq(idle),
            ))
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }

    fn set_session_mfa(&mut self, clinic: ClinicId, id: SessionId, at: DateTime<Utc>) -> Res<()> {
        diesel::update(sessions::table.find((clinic.0, id.0)))
            .set(sessions::mfa_at.eq(at))
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }

    fn revoke_session(
        &mut self,
        clinic: ClinicId,
        id: SessionId,
        account: AccountId,
        at: DateTime<Utc>,
        reason: &str,
    ) -> Res<bool> {
        diesel::update(
            sessions::table
                .find((clinic.0, id.0))
                .filter(sessions::account_id.eq(account.0))
                .filter(sessions::revoked_at.is_null()),
        )
        .set((
            sessions::revoked_at.eq(at),
            sessions::revoked_reason.eq(reason),
        ))
        .execute(self.conn)
        .map(|n| n == 1)
        .map_err(db_error)
    }

    fn revoke_account_sessions(
        &mut self,
        account: AccountId,
        keep: Option<SessionId>,
        at: DateTime<Utc>,
        reason: &str,
    ) -> Res<usize> {
        let keep = keep.map_or(Uuid::nil(), |s| s.0);
        diesel::update(
            sessions::table
                .filter(sessions::account_id.eq(account.0))
                .filter(sessions::revoked_at.is_null())
                .filter(sessions::id.ne(keep)),
        )
        .set((
            sessions::revoked_at.eq(at),
            sessions::revoked_reason.eq(reason),
        ))
        .execute(self.conn)
        .map_err(db_error)
    }

    fn sessions_of(&mut self, clinic: ClinicId, account: AccountId) -> Res<Vec<Session>> {
        sessions::table
            .filter(sessions::clinic_id.eq(clinic.0))
            .filter(sessions::account_id.eq(account.0))
            .order(sessions::created_at.desc())
            .limit(100)
            .select(SessionRow::as_select())
            .load(self.conn)
            .map(|rows| rows.into_iter().map(Session::from).collect())
            .map_err(db_error)
    }

    fn insert_refresh_token(
        &mut self,
        clinic: ClinicId,
        hash: &[u8],
        session: SessionId,
        at: DateTime<Utc>,
    ) -> Res<()> {
        diesel::insert_into(refresh_tokens::table)
            .values((
                refresh_tokens::clinic_id.eq(clinic.0),
                refresh_tokens::token_hash.eq(hash),
                refresh_tokens::session_id.eq(session.0),
                refresh_tokens::created_at.eq(at),
            ))
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }

    fn refresh_token(&mut self, clinic: ClinicId, hash: &[u8]) -> Res<Option<RefreshToken>> {
        refresh_tokens::table
            .find((clinic.0, hash))
            .select((refresh_tokens::session_id, refresh_tokens::used_at))
            .for_update()
            .first::<(Uuid, Option<DateTime<Utc>>)>(self.conn)
            .optional()
            .map(|r| {
                r.map(|(s, used_at)| RefreshToken {
                    session_id: SessionId(s),
                    used_at,
                })
            })
            .map_err(db_error)
    }

    fn use_refresh_token(&mut self, clinic: ClinicId, hash: &[u8], at: DateTime<Utc>) -> Res<()> {
        diesel::update(refresh_tokens::table.find((clinic.0, hash)))
            .set(refresh_tokens::used_at.eq(at))
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }

    fn insert_mfa_challenge(
        &mut self,
        hash: &[u8],
        account: AccountId,
        clinic: ClinicId,
        at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
        client: &ClientInfo,
    ) -> Res<()> {
        diesel::insert_into(mfa_challenges::table)
            .values((
                mfa_challenges::token_hash.eq(hash),
                mfa_challenges::account_id.eq(account.0),
                mfa_challenges::clinic_id.eq(clinic.0),
                mfa_challenges::created_at.eq(at),
                mfa_challenges::expires_at.eq(expires_at),
                mfa_challenges::ip.eq(&client.ip),
                mfa_challenges::user_agent.eq(&client.user_agent),
            ))
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }

    fn mfa_challenge(&mut self, clinic: ClinicId, hash: &[u8]) -> Res<Option<MfaChallenge>> {
        type Row = (
            Uuid,
            Uuid,
            DateTime<Utc>,
            i32,
            Option<DateTime<Utc>>,
            Option<String>,
            Option<String>,
        );
        mfa_challenges::table
            .find((clinic.0, hash))
            .select((
                mfa_challenges::account_id,
                mfa_challenges::clinic_id,
                mfa_challenges::expires_at,
                mfa_challenges::attempts,
                mfa_challenges::consumed_at,
                mfa_challenges::ip,
                mfa_challenges::user_agent,
            ))
            .for_update()
            .first::<Row>(self.conn)
            .optional()
            .map(|r| {
                r.map(
                    |(a, c, expires_at, attempts, consumed_at, ip, user_agent)| MfaChallenge {
                        account_id: AccountId(a),
                        clinic_id: ClinicId(c),
                        expires_at,
                        attempts,
                        consumed_at,
                        ip,
                        user_agent,
                    },
                )
            })
            .map_err(db_error)
    }

    fn fail_mfa_challenge(&mut self, clinic: ClinicId, hash: &[u8]) -> Res<()> {
        diesel::update(mfa_challenges::table.find((clinic.0, hash)))
            .set(mfa_challenges::attempts.eq(mfa_challenges::attempts + 1))
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }

    fn consume_mfa_challenge(
        &mut self,
        clinic: ClinicId,
        hash: &[u8],
        at: DateTime<Utc>,
    ) -> Res<()> {
        diesel::update(mfa_challenges::table.find((clinic.0, hash)))
            .set(mfa_challenges::consumed_at.eq(at))
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }

    fn replace_recovery_codes(&mut self, account: AccountId, hashes: &[Vec<u8>]) -> Res<()> {
        diesel::delete(recovery_codes::table.filter(recovery_codes::account_id.eq(account.0)))
            .execute(self.conn)
            .map_err(db_error)?;
        let rows: Vec<_> = hashes
            .iter()
            .map(|h| {
                (
                    recovery_codes::account_id.eq(account.0),
                    recovery_codes::code_hash.eq(h),
                )
            })
            .collect();
        diesel::insert_into(recovery_codes::table)
            .values(rows)
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }

    fn use_recovery_code(
        &mut self,
        account: AccountId,
        hash: &[u8],
        at: DateTime<Utc>,
    ) -> Res<bool> {
        diesel::update(
            recovery_codes::table
                .find((account.0, hash))
                .filter(recovery_codes::used_at.is_null()),
        )
        .set(recovery_codes::used_at.eq(at))
        .execute(self.conn)
        .map(|n| n == 1)
        .map_err(db_error)
    }

    fn insert_one_time_token(
        &mut self,
        hash: &[u8],
        account: AccountId,
        purpose: TokenPurpose,
        new_email: Option<&str>,
        at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Res<()> {
        diesel::insert_into(one_time_tokens::table)
            .values((
                one_time_tokens::token_hash.eq(hash),
                one_time_tokens::account_id.eq(account.0),
                one_time_tokens::purpose.eq(purpose.as_str()),
                one_time_tokens::new_email.eq(new_email),
                one_time_tokens::created_at.eq(at),
                one_time_tokens::expires_at.eq(expires_at),
            ))
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }

    fn one_time_token(&mut self, hash: &[u8], purpose: TokenPurpose) -> Res<Option<OneTimeToken>> {
        one_time_tokens::table
            .find(hash)
            .filter(one_time_tokens::purpose.eq(purpose.as_str()))
            .select((
                one_time_tokens::account_id,
                one_time_tokens::new_email,
                one_time_tokens::expires_at,
                one_time_tokens::used_at,
            ))
            .for_update()
            .first::<(Uuid, Option<String>, DateTime<Utc>, Option<DateTime<Utc>>)>(self.conn)
            .optional()
            .map(|r| {
                r.map(|(a, new_email, expires_at, used_at)| OneTimeToken {
                    account_id: AccountId(a),
                    new_email,
                    expires_at,
                    used_at,
                })
            })
            .map_err(db_error)
    }

    fn use_one_time_token(&mut self, hash: &[u8], at: DateTime<Utc>) -> Res<()> {
        diesel::update(one_time_tokens::table.find(hash))
            .set(one_time_tokens::used_at.eq(at))
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }

    fn insert_one_time_token_for_email(
        &mut self,
        hash: &[u8],
        email: &str,
        purpose: TokenPurpose,
        unverified_only: bool,
        at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Res<Option<AccountId>> {
        diesel::sql_query(
            "INSERT INTO one_time_tokens (token_hash, account_id, purpose, created_at, expires_at)
             SELECT $1, a.id, $2, $3, $4 FROM accounts a
              WHERE a.email = $5 AND (NOT $6 OR a.email_verified_at IS NULL)
             RETURNING account_id",
        )
        .bind::<Bytea, _>(hash)
        .bind::<Text, _>(purpose.as_str())
        .bind::<Timestamptz, _>(at)
        .bind::<Timestamptz, _>(expires_at)
        .bind::<Text, _>(email)
        .bind::<Bool, _>(unverified_only)
        .cached()
        .get_result::<TokenOwner>(self.conn)
        .optional()
        .map(|r| r.map(|o| AccountId(o.account_id)))
        .map_err(db_error)
    }

    fn remove_lapsed_sign_ups(&mut self, now: DateTime<Utc>) -> Res<usize> {
        diesel::delete(sign_ups::table.filter(sign_ups::expires_at.le(now)))
            .execute(self.conn)
            .map_err(db_error)
    }

    fn insert_sign_up(&mut self, s: &PendingSignUp, token_hash: &[u8]) -> Res<()> {
        diesel::insert_into(sign_ups::table)
            .values((
                sign_ups::id.eq(s.id.0),
                sign_ups::email.eq(&s.email),
                sign_ups::account_id.eq(s.account_id.map(|a| a.0)),
                sign_ups::clinic_name.eq(&s.clinic_name),
                sign_ups::given_name.eq(&s.given_name),
                sign_ups::family_name.eq(&s.family_name),
                sign_ups::password_hash.eq(&s.password_hash),
                sign_ups::token_hash.eq(token_hash),
                sign_ups::token_expires_at.eq(s.token_expires_at),
                sign_ups::created_at.eq(s.created_at),
                sign_ups::expires_at.eq(s.expires_at),
            ))
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }

    fn sign_up_by_token(&mut self, hash: &[u8]) -> Res<Option<PendingSignUp>> {
        sign_ups::table
            .filter(sign_ups::token_hash.eq(hash))
            .select(SignUpRow::as_select())
            .for_update()
            .first(self.conn)
            .optional()
            .map(|r| r.map(PendingSignUp::from))
            .map_err(db_error)
    }

    fn pending_sign_up(&mut self, email: &str, now: DateTime<Utc>) -> Res<Option<PendingSignUp>> {
        sign_ups::table
            .filter(sign_ups::email.eq(email))
            .filter(sign_ups::account_id.is_null())
            .filter(sign_ups::expires_at.gt(now))
            .order(sign_ups::created_at.desc())
            .select(SignUpRow::as_select())
            .first(self.conn)
            .optional()
            .map(|r| r.map(PendingSignUp::from))
            .map_err(db_error)
    }

    fn reissue_sign_up_token(
        &mut self,
        email: &str,
        hash: &[u8],
        now: DateTime<Utc>,
        token_expires_at: DateTime<Utc>,
    ) -> Res<bool> {
        diesel::sql_query(
            "UPDATE sign_ups SET token_hash = $1, token_expires_at = least($2, expires_at)
              WHERE id = (SELECT s.id FROM sign_ups s WHERE s.email = $3 AND s.expires_at > $4
                           ORDER BY s.created_at DESC LIMIT 1 FOR UPDATE)",
        )
        .bind::<Bytea, _>(hash)
        .bind::<Timestamptz, _>(token_expires_at)
        .bind::<Text, _>(email)
        .bind::<Timestamptz, _>(now)
        .execute(self.conn)
        .map(|n| n == 1)
        .map_err(db_error)
    }

    fn remove_sign_up(&mut self, id: SignUpId) -> Res<()> {
        diesel::delete(sign_ups::table.find(id.0))
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }

    fn phone_challenge(&mut self, account: AccountId) -> Res<Option<PhoneChallenge>> {
        phone_challenges::table
            .find(account.0)
            .select((
                phone_challenges::phone,
                phone_challenges::code_hash,
                phone_challenges::expires_at,
                phone_challenges::attempts,
                phone_challenges::last_sent_at,
            ))
            .for_update()
            .first::<(String, Vec<u8>, DateTime<Utc>, i32, DateTime<Utc>)>(self.conn)
            .optional()
            .map(|r| {
                r.map(
                    |(phone, code_hash, expires_at, attempts, last_sent_at)| PhoneChallenge {
                        phone,
                        code_hash,
                        expires_at,
                        attempts,
                        last_sent_at,
                    },
                )
            })
            .map_err(db_error)
    }

    fn put_phone_challenge(&mut self, account: AccountId, c: &PhoneChallenge) -> Res<()> {
        let values = (
            phone_challenges::account_id.eq(account.0),
            phone_challenges::phone.eq(&c.phone),
            phone_challenges::code_hash.eq(&c.code_hash),
            phone_challenges::expires_at.eq(c.expires_at),
            phone_challenges::attempts.eq(c.attempts),
            phone_challenges::last_sent_at.eq(c.last_sent_at),
        );
        diesel::insert_into(phone_challenges::table)
            .values(values)
            .on_conflict(phone_challenges::account_id)
            .do_update()
            .set(values)
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }

    fn delete_phone_challenge(&mut self, account: AccountId) -> Res<()> {
        diesel::delete(phone_challenges::table.find(account.0))
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }

    fn hit_rate_limit(
        &mut self,
        key: &str,
        now: DateTime<Utc>,
        window_secs: i64,
    ) -> Res<(i32, DateTime<Utc>)> {
        let w: Window = diesel::sql_query(
            "INSERT INTO rate_limits AS r (key, window_started_at, hits) VALUES ($1, $2, 1)
             ON CONFLICT (key) DO UPDATE SET
               hits = CASE WHEN r.window_started_at <= $2 - make_interval(secs => $3) THEN 1 ELSE r.hits + 1 END,
               window_started_at = CASE WHEN r.window_started_at <= $2 - make_interval(secs => $3) THEN $2 ELSE r.window_started_at END
             RETURNING hits, window_started_at",
        )
        .bind::<Text, _>(key)
        .bind::<Timestamptz, _>(now)
        .bind::<Int8, _>(window_secs)
        .cached().get_result(self.conn)
        .map_err(db_error)?;
        Ok((w.hits, w.window_started_at))
    }

    fn remember_device(
        &mut self,
        account: AccountId,
        fingerprint: &[u8],
        at: DateTime<Utc>,
    ) -> Res<bool> {
        diesel::insert_into(known_devices::table)
            .values((
                known_devices::account_id.eq(account.0),
                known_devices::fingerprint.eq(fingerprint),
                known_devices::first_seen_at.eq(at),
            ))
            .on_conflict_do_nothing()
            .execute(self.conn)
            .map(|n| n == 1)
            .map_err(db_error)
    }
}
