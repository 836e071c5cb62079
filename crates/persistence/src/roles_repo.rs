//! `RolesRepo` and `ClinicRepo` on PostgreSQL.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use salus_domain::DomainError;
use salus_domain::access::PermissionSet;
use salus_domain::ids::{ClinicId, MembershipId, RoleId};
use salus_domain::ports::roles::{CustomRole, RolesRepo};
use uuid::Uuid;

use crate::schema::{custom_roles, membership_custom_roles, permission_overrides};
use crate::store::{PgTx, db_error};

type Res<T> = Result<T, DomainError>;

/// A custom role's columns: id, name, permission codes, last change, version.
type CustomRoleRow = (Uuid, String, Vec<String>, DateTime<Utc>, i32);

impl RolesRepo for PgTx<'_> {
    fn custom_roles(&mut self, clinic: ClinicId) -> Res<Vec<CustomRole>> {
        let rows: Vec<CustomRoleRow> = custom_roles::table
            .filter(custom_roles::clinic_id.eq(clinic.0))
            .order(custom_roles::name.asc())
            .select((
                custom_roles::id,
                custom_roles::name,
                custom_roles::permissions,
                custom_roles::updated_at,
                custom_roles::version,
            ))
            .load(self.conn)
            .map_err(db_error)?;
        let counts: Vec<(Uuid, i64)> = membership_custom_roles::table
            .filter(membership_custom_roles::clinic_id.eq(clinic.0))
            .group_by(membership_custom_roles::role_id)
            .select((membership_custom_roles::role_id, diesel::dsl::count_star()))
            .load(self.conn)
            .map_err(db_error)?;
        Ok(rows
            .into_iter()
            .map(|(id, name, permissions, updated_at, version)| CustomRole {
                id: RoleId(id),
                name,
                permissions: PermissionSet::from_codes(&permissions),
                assigned: counts.iter().find(|(r, _)| *r == id).map_or(0, |(_, n)| *n),
                updated_at,
                version,
            })
            .collect())
    }

    fn insert_custom_role(&mut self, clinic: ClinicId, role: &CustomRole) -> Res<()> {
        diesel::insert_into(custom_roles::table)
            .values((
                custom_roles::clinic_id.eq(clinic.0),
                custom_roles::id.eq(role.id.0),
                custom_roles::name.eq(&role.name),
                custom_roles::permissions.eq(role.permissions.codes()),
                custom_roles::created_at.eq(role.updated_at),
                custom_roles::updated_at.eq(role.updated_at),
            ))
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }

    fn update_custom_role(&mut self, clinic: ClinicId, role: &CustomRole) -> Res<bool> {
        diesel::update(custom_roles::table.find((clinic.0, role.id.0)))
            .set((
                custom_roles::name.eq(&role.name),
                custom_roles::permissions.eq(role.permissions.codes()),
                custom_roles::updated_at.eq(role.updated_at),
            ))
            .execute(self.conn)
            .map(|n| n == 1)
            .map_err(db_error)
    }

    fn delete_custom_role(&mut self, clinic: ClinicId, id: RoleId) -> Res<bool> {
        diesel::delete(custom_roles::table.find((clinic.0, id.0)))
            .execute(self.conn)
            .map(|n| n == 1)
            .map_err(db_error)
    }

    fn set_member_custom_roles(
        &mut self,
        clinic: ClinicId,
        member: MembershipId,
        roles: &[RoleId],
    ) -> Res<()> {
        diesel::delete(
            membership_custom_roles::table
                .filter(membership_custom_roles::clinic_id.eq(clinic.0))
                .filter(membership_custom_roles::membership_id.eq(member.0)),
        )
        .execute(self.conn)
        .map_err(db_error)?;
        let rows: Vec<_> = roles
            .iter()
            .map(|r| {
                (
                    membership_custom_roles::clinic_id.eq(clinic.0),
                    membership_custom_roles::membership_id.eq(member.0),
                    membership_custom_roles::role_id.eq(r.0),
                )
            })
            .collect();
        diesel::insert_into(membership_custom_roles::table)
            .values(rows)
            .on_conflict_do_nothing()
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }

    fn set_member_overrides(
        &mut self,
        clinic: ClinicId,
        member: MembershipId,
        grants: PermissionSet,
        denies: PermissionSet,
    ) -> Res<()> {
        diesel::delete(
            permission_overrides::table
                .filter(permission_overrides::clinic_id.eq(clinic.0))
                .filter(permission_overrides::membership_id.eq(member.0)),
        )
        .execute(self.conn)
        .map_err(db_error)?;
        let rows: Vec<_> = grants
            .minus(denies)
            .iter()
            .map(|p| (p, "grant"))
            .chain(denies.iter().map(|p| (p, "deny")))
            .map(|(p, effect)| {
                (
                    permission_overrides::clinic_id.eq(clinic.0),
                    permission_overrides::membership_id.eq(member.0),
                    permission_overrides::permission.eq(p.code()),
                    permission_overrides::effect.eq(effect),
                )
            })
            .collect();
        diesel::insert_into(permission_overrides::table)
            .values(rows)
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }
}

impl salus_domain::ports::clinic::ClinicRepo for PgTx<'_> {
    fn update_clinic(&mut self, clinic: &salus_domain::identity::model::Clinic) -> Res<()> {
        use crate::schema::clinics;
        diesel::update(clinics::table.find(clinic.id.0))
            .set((
                clinics::name.eq(&clinic.name),
                clinics::idle_timeout_minutes.eq(clinic.idle_timeout_minutes),
                clinics::require_mfa.eq(clinic.require_mfa),
                clinics::time_zone.eq(&clinic.time_zone),
                clinics::reminder_offset_hours.eq(clinic.reminder_offset_hours),
                clinics::record_retention_years.eq(clinic.record_retention_years),
                clinics::archive_after_years.eq(clinic.archive_after_years),
                clinics::purpose_of_use_required.eq(clinic.purpose_of_use_required),
            ))
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }
}
