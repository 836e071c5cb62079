//! `StaffRepo` on PostgreSQL.

use chrono::{DateTime, Utc};
use std::collections::HashMap;

use diesel::prelude::*;
use diesel::sql_types::{Array, Nullable, Text, Uuid as SqlUuid};
use salus_domain::DomainError;
use salus_domain::access::{Extras, PermissionSet};
use salus_domain::identity::model::Role;
use salus_domain::ids::{AccountId, ClinicId, InvitationId, MembershipId};
use salus_domain::plans::Plan;
use salus_domain::ports::staff::{Invitation, Member, StaffRepo};
use uuid::Uuid;

use crate::cached::CacheStatement;
use crate::schema::{accounts, clinics, invitations, memberships, sessions};
use crate::store::{PgTx, db_error};

type Res<T> = Result<T, DomainError>;

type MemberRow = (
    Uuid,
    Uuid,
    String,
    String,
    String,
    String,
    bool,
    Option<DateTime<Utc>>,
    DateTime<Utc>,
    i32,
);
type InvitationRow = (
    Uuid,
    String,
    String,
    DateTime<Utc>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
);

fn role(name: &str) -> Res<Role> {
    Role::parse(name).ok_or_else(|| DomainError::Internal(format!("unknown role {name}")))
}

const EXTRAS_SQL: &str = "
    SELECT m.id AS membership_id,
           coalesce((SELECT array_agg(DISTINCT p) FROM membership_custom_roles mcr
                       JOIN custom_roles cr ON cr.clinic_id = mcr.clinic_id AND cr.id = mcr.role_id
                       CROSS JOIN unnest(cr.permissions) AS p
                      WHERE mcr.clinic_id = m.clinic_id AND mcr.membership_id = m.id), '{}') AS custom,
           coalesce((SELECT array_agg(o.permission) FROM permission_overrides o
                      WHERE o.clinic_id = m.clinic_id AND o.membership_id = m.id AND o.effect = 'grant'), '{}') AS grants,
           coalesce((SELECT array_agg(o.permission) FROM permission_overrides o
                      WHERE o.clinic_id = m.clinic_id AND o.membership_id = m.id AND o.effect = 'deny'), '{}') AS denies
      FROM memberships m
     WHERE m.clinic_id = $1 AND ($2::uuid IS NULL OR m.id = $2)";

#[derive(QueryableByName)]
struct ExtrasRow {
    #[diesel(sql_type = SqlUuid)]
    membership_id: Uuid,
    #[diesel(sql_type = Array<Text>)]
    custom: Vec<String>,
    #[diesel(sql_type = Array<Text>)]
    grants: Vec<String>,
    #[diesel(sql_type = Array<Text>)]
    denies: Vec<String>,
}

/// Custom-role and override permissions of the clinic's members (or of one).
fn extras(
    conn: &mut PgConnection,
    clinic: ClinicId,
    only: Option<MembershipId>,
) -> Res<HashMap<Uuid, Extras>> {
    let rows: Vec<ExtrasRow> = diesel::sql_query(EXTRAS_SQL)
        .bind::<SqlUuid, _>(clinic.0)
        .bind::<Nullable<SqlUuid>, _>(only.map(|m| m.0))
        .cached()
        .load(conn)
        .map_err(db_error)?;
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                r.membership_id,
                Extras {
                    custom: PermissionSet::from_codes(&r.custom),
                    grants: PermissionSet::from_codes(&r.grants),
                    denies: PermissionSet::from_codes(&r.denies),
                },
            )
        })
        .collect())
}

fn member(r: MemberRow) -> Res<Member> {
    let (
        membership_id,
        account_id,
        email,
        given_name,
        family_name,
        r_role,
        active,
        totp,
        created_at,
        version,
    ) = r;
    Ok(Member {
        membership_id: MembershipId(membership_id),
        account_id: AccountId(account_id),
        email,
        given_name,
        family_name,
        role: role(&r_role)?,
        active,
        mfa_enrolled: totp.is_some(),
        created_at,
        extras: Extras::default(),
        version,
    })
}

fn invitation(r: InvitationRow) -> Res<Invitation> {
    let (id, email, r_role, created_at, expires_at, accepted_at, revoked_at) = r;
    Ok(Invitation {
        id: InvitationId(id),
        email,
        role: role(&r_role)?,
        created_at,
        expires_at,
        accepted_at,
        revoked_at,
    })
}

macro_rules! member_query {
    ($clinic:expr) => {
        memberships::table
            .inner_join(accounts::table)
            .filter(memberships::clinic_id.eq($clinic))
            .select((
                memberships::id,
                memberships::account_id,
                accounts::email,
                accounts::given_name,
                accounts::family_name,
                memberships::role,
                memberships::active,
                accounts::totp_confirmed_at,
                memberships::created_at,
                memberships::version,
            ))
    };
}

const INVITATION_COLUMNS: (
    invitations::id,
    invitations::email,
    invitations::role,
    invitations::created_at,
    invitations::expires_at,
    invitations::accepted_at,
    invitations::revoked_at,
) = (
    invitations::id,
    invitations::email,
    invitations::role,
    invitations::created_at,
    invitations::expires_at,
    invitations::accepted_at,
    invitations::revoked_at,
);

impl StaffRepo for PgTx<'_> {
    fn members(&mut self, clinic: ClinicId) -> Res<Vec<Member>> {
        let rows = member_query!(clinic.0)
            .order(memberships::created_at.asc())
            .load::<MemberRow>(self.conn)
            .map_err(db_error)?;
        let extras = extras(self.conn, clinic, None)?;
        rows.into_iter()
            .map(|r| {
                let mut m = member(r)?;
                m.extras = extras.get(&m.membership_id.0).copied().unwrap_or_default();
                Ok(m)
            })
            .collect()
    }

    fn member(&mut self, clinic: ClinicId, id: MembershipId) -> Res<Option<Member>> {
        let Some(row) = member_query!(clinic.0)
            .filter(memberships::id.eq(id.0))
            .first::<MemberRow>(self.conn)
            .optional()
            .map_err(db_error)?
        else {
            return Ok(None);
        };
        let mut m = member(row)?;
        m.extras = extras(self.conn, clinic, Some(id))?
            .get(&id.0)
            .copied()
            .unwrap_or_default();
        Ok(Some(m))
    }

    fn set_role(&mut self, clinic: ClinicId, id: MembershipId, r: Role) -> Res<()> {
        diesel::update(memberships::table.find((clinic.0, id.0)))
            .set(memberships::role.eq(r.as_str()))
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }

    fn set_active(&mut self, clinic: ClinicId, id: MembershipId, active: bool) -> Res<()> {
        diesel::update(memberships::table.find((clinic.0, id.0)))
            .set(memberships::active.eq(active))
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }

    fn active_owners(&mut self, clinic: ClinicId) -> Res<i64> {
        memberships::table
            .filter(memberships::clinic_id.eq(clinic.0))
            .filter(memberships::role.eq(Role::Owner.as_str()))
            .filter(memberships::active.eq(true))
            .count()
            .get_result(self.conn)
            .map_err(db_error)
    }

    fn revoke_member_sessions(
        &mut self,
        clinic: ClinicId,
        id: MembershipId,
        at: DateTime<Utc>,
        reason: &str,
    ) -> Res<usize> {
        diesel::update(
            sessions::table
                .filter(sessions::clinic_id.eq(clinic.0))
                .filter(sessions::membership_id.eq(id.0))
                .filter(sessions::revoked_at.is_null()),
        )
        .set((
            sessions::revoked_at.eq(at),
            sessions::revoked_reason.eq(reason),
        ))
        .execute(self.conn)
        .map_err(db_error)
    }

    fn seats_used(&mut self, clinic: ClinicId, now: DateTime<Utc>) -> Res<i64> {
        let members: i64 = memberships::table
            .filter(memberships::clinic_id.eq(clinic.0))
            .filter(memberships::active.eq(true))
            .count()
            .get_result(self.conn)
            .map_err(db_error)?;
        let pending: i64 = invitations::table
            .filter(invitations::clinic_id.eq(clinic.0))
            .filter(invitations::accepted_at.is_null())
            .filter(invitations::revoked_at.is_null())
            .filter(invitations::expires_at.gt(now))
            .count()
            .get_result(self.conn)
            .map_err(db_error)?;
        Ok(members + pending)
    }

    fn insert_invitation(
        &mut self,
        clinic: ClinicId,
        i: &Invitation,
        token_hash: &[u8],
        invited_by: MembershipId,
    ) -> Res<()> {
        diesel::insert_into(invitations::table)
            .values((
                invitations::clinic_id.eq(clinic.0),
                invitations::id.eq(i.id.0),
                invitations::email.eq(&i.email),
                invitations::role.eq(i.role.as_str()),
                invitations::token_hash.eq(token_hash),
                invitations::invited_by.eq(invited_by.0),
                invitations::created_at.eq(i.created_at),
                invitations::expires_at.eq(i.expires_at),
            ))
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }

    fn invitations(&mut self, clinic: ClinicId) -> Res<Vec<Invitation>> {
        invitations::table
            .filter(invitations::clinic_id.eq(clinic.0))
            .order(invitations::created_at.desc())
            .limit(500)
            .select(INVITATION_COLUMNS)
            .load::<InvitationRow>(self.conn)
            .map_err(db_error)?
            .into_iter()
            .map(invitation)
            .collect()
    }

    fn invitation_by_token(
        &mut self,
        clinic: ClinicId,
        token_hash: &[u8],
    ) -> Res<Option<Invitation>> {
        invitations::table
            .filter(invitations::clinic_id.eq(clinic.0))
            .filter(invitations::token_hash.eq(token_hash))
            .select(INVITATION_COLUMNS)
            .for_update()
            .first::<InvitationRow>(self.conn)
            .optional()
            .map_err(db_error)?
            .map(invitation)
            .transpose()
    }

    fn revoke_invitation(
        &mut self,
        clinic: ClinicId,
        id: InvitationId,
        at: DateTime<Utc>,
    ) -> Res<bool> {
        diesel::update(
            invitations::table
                .find((clinic.0, id.0))
                .filter(invitations::accepted_at.is_null())
                .filter(invitations::revoked_at.is_null()),
        )
        .set(invitations::revoked_at.eq(at))
        .execute(self.conn)
        .map(|n| n == 1)
        .map_err(db_error)
    }

    fn accept_invitation(
        &mut self,
        clinic: ClinicId,
        id: InvitationId,
        at: DateTime<Utc>,
    ) -> Res<()> {
        diesel::update(invitations::table.find((clinic.0, id.0)))
            .set(invitations::accepted_at.eq(at))
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }

    fn set_plan(&mut self, clinic: ClinicId, plan: Plan) -> Res<bool> {
        diesel::update(clinics::table.find(clinic.0))
            .set(clinics::plan.eq(plan.as_str()))
            .execute(self.conn)
            .map(|n| n == 1)
            .map_err(db_error)
    }
}
