//! Custom roles (pro and business plans) and per-member overrides (business plan).

use crate::DomainError;
use crate::access::{Permission, PermissionSet, role_permissions};
use crate::actor::Actor;
use crate::concurrency::{Expected, bump_version, lock_checked};
use crate::identity::model::{ClientInfo, Role};
use crate::ids::{ClinicId, MembershipId, RoleId};
use crate::plans::Plan;
use crate::ports::roles::CustomRole;
use crate::shared::{Core, transactions};
use crate::staff::{locked_target, member_changed};
use crate::store::{RolesTx, Scope};

fn plan_of(tx: &mut dyn RolesTx, clinic: ClinicId) -> Result<Plan, DomainError> {
    let clinic = tx.clinic(clinic)?.ok_or(DomainError::NotFound)?;
    Plan::parse(&clinic.plan)
        .ok_or_else(|| DomainError::Internal(format!("unknown plan {}", clinic.plan)))
}

fn require_feature(plan: Plan, allowed: &[Plan], feature: &str) -> Result<(), DomainError> {
    if allowed.contains(&plan) {
        Ok(())
    } else {
        Err(DomainError::forbidden(
            "plan_upgrade_required",
            format!("{feature} need a higher plan than {}.", plan.as_str()),
        ))
    }
}

fn name_of(raw: &str) -> Result<String, DomainError> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 80 {
        return Err(DomainError::invalid(
            "name",
            "length",
            "must be 1 to 80 characters",
        ));
    }
    if Role::parse(&name.to_lowercase()).is_some() {
        return Err(DomainError::invalid(
            "name",
            "reserved",
            "is the name of a built-in role",
        ));
    }
    Ok(name.to_owned())
}

/// Parses permission codes, naming the field of the first unknown one.
pub fn parse_codes(field: &str, codes: &[String]) -> Result<PermissionSet, DomainError> {
    if let Some(unknown) = codes.iter().find(|c| Permission::parse(c).is_none()) {
        return Err(DomainError::invalid(
            field,
            "unknown_permission",
            format!("{unknown} is not a permission"),
        ));
    }
    Ok(PermissionSet::from_codes(codes))
}

/// Custom roles and members' permission overrides.
#[derive(Clone)]
pub struct Roles {
    core: Core,
}

impl Roles {
    /// The service over the shared core.
    pub fn new(core: Core) -> Self {
        Self { core }
    }

    transactions!(RolesTx, committed);

    /// The clinic's custom roles.
    pub fn list_custom_roles(&self, actor: &Actor) -> Result<Vec<CustomRole>, DomainError> {
        actor.require(Permission::StaffRead)?;
        self.tx(Scope::Clinic(actor.clinic_id), |tx| {
            tx.custom_roles(actor.clinic_id)
        })
    }

    /// Creates a custom role (pro and business plans); its permissions must be
    /// held by the creator.
    pub fn create_custom_role(
        &self,
        actor: &Actor,
        name: &str,
        permissions: PermissionSet,
        client: &ClientInfo,
    ) -> Result<CustomRole, DomainError> {
        actor.require(Permission::RolesManage)?;
        let name = name_of(name)?;
        if !permissions.is_subset_of(actor.permissions) {
            return Err(DomainError::forbidden(
                "insufficient_permissions",
                "A role cannot hold permissions you do not hold.",
            ));
        }
        let role = CustomRole {
            id: self.core.new_id(),
            name,
            permissions,
            assigned: 0,
            updated_at: self.core.now(),
            version: 1,
        };
        self.committed(Scope::Clinic(actor.clinic_id), |tx| {
            if let Err(e) = require_feature(
                plan_of(tx, actor.clinic_id)?,
                &[Plan::Pro, Plan::Business],
                "Custom roles",
            ) {
                return Ok(Err(e));
            }
            if tx
                .custom_roles(actor.clinic_id)?
                .iter()
                .any(|r| r.name.eq_ignore_ascii_case(&role.name))
            {
                return Ok(Err(DomainError::Conflict {
                    code: "role_name_taken",
                    detail: "A role with this name exists.".into(),
                }));
            }
            tx.insert_custom_role(actor.clinic_id, &role)?;
            self.core.audit_action(
                tx,
                actor,
                crate::audit::actions::ROLE_CREATED,
                ("custom_role", role.id),
                client,
            )?;
            Ok(Ok(role.clone()))
        })
    }

    /// Renames or changes a custom role if `expected` is its current version; the
    /// change applies on the holders' next request.
    pub fn update_custom_role(
        &self,
        actor: &Actor,
        id: RoleId,
        name: Option<&str>,
        permissions: Option<PermissionSet>,
        expected: Option<Expected>,
        client: &ClientInfo,
    ) -> Result<CustomRole, DomainError> {
        actor.require(Permission::RolesManage)?;
        let name = name.map(name_of).transpose()?;
        let now = self.core.now();
        self.committed(Scope::Clinic(actor.clinic_id), |tx| {
            if let Err(refused) = lock_checked(tx, actor.clinic_id, id, expected) {
                return Ok(Err(refused));
            }
            let roles = tx.custom_roles(actor.clinic_id)?;
            let Some(current) = roles.iter().find(|r| r.id == id) else {
                return Ok(Err(DomainError::NotFound));
            };
            let updated = CustomRole {
                name: name.clone().unwrap_or_else(|| current.name.clone()),
                permissions: permissions.unwrap_or(current.permissions),
                updated_at: now,
                ..current.clone()
            };
            if !current
                .permissions
                .union(updated.permissions)
                .is_subset_of(actor.permissions)
            {
                return Ok(Err(DomainError::forbidden(
                    "insufficient_permissions",
                    "You cannot change a role that holds, or would hold, permissions you do not.",
                )));
            }
            if roles
                .iter()
                .any(|r| r.id != id && r.name.eq_ignore_ascii_case(&updated.name))
            {
                return Ok(Err(DomainError::Conflict {
                    code: "role_name_taken",
                    detail: "A role with this name exists.".into(),
                }));
            }
            tx.update_custom_role(actor.clinic_id, &updated)?;
            let updated = CustomRole {
                version: bump_version(tx, actor.clinic_id, id)?,
                ..updated
            };
            self.core.audit_action(
                tx,
                actor,
                crate::audit::actions::ROLE_UPDATED,
                ("custom_role", id),
                client,
            )?;
            Ok(Ok(updated))
        })
    }

    /// Deletes a custom role that nobody holds.
    pub fn delete_custom_role(
        &self,
        actor: &Actor,
        id: RoleId,
        client: &ClientInfo,
    ) -> Result<(), DomainError> {
        actor.require(Permission::RolesManage)?;
        self.committed(Scope::Clinic(actor.clinic_id), |tx| {
            let roles = tx.custom_roles(actor.clinic_id)?;
            let Some(role) = roles.iter().find(|r| r.id == id) else {
                return Ok(Err(DomainError::NotFound));
            };
            if role.assigned > 0 {
                return Ok(Err(DomainError::Conflict {
                    code: "role_in_use",
                    detail: "Members hold this role; unassign it first.".into(),
                }));
            }
            tx.delete_custom_role(actor.clinic_id, id)?;
            self.core.audit_action(
                tx,
                actor,
                crate::audit::actions::ROLE_DELETED,
                ("custom_role", id),
                client,
            )?;
            Ok(Ok(()))
        })
    }

    /// Replaces a member's custom roles (step-up; escalation guard).
    pub fn assign_custom_roles(
        &self,
        actor: &Actor,
        member: MembershipId,
        role_ids: &[RoleId],
        expected: Option<Expected>,
        client: &ClientInfo,
    ) -> Result<i32, DomainError> {
        actor.require(Permission::RolesAssign)?;
        actor.require_step_up(self.core.now())?;
        self.committed(Scope::Clinic(actor.clinic_id), |tx| {
            if let Err(e) = require_feature(
                plan_of(tx, actor.clinic_id)?,
                &[Plan::Pro, Plan::Business],
                "Custom roles",
            ) {
                return Ok(Err(e));
            }
            let roles = tx.custom_roles(actor.clinic_id)?;
            let mut granted = PermissionSet::EMPTY;
            for id in role_ids {
                match roles.iter().find(|r| r.id == *id) {
                    Some(r) => granted = granted.union(r.permissions),
                    None => {
                        return Ok(Err(DomainError::invalid(
                            "role_ids",
                            "unknown_role",
                            format!("{id} is not a role of this clinic"),
                        )));
                    }
                }
            }
            if let Err(e) = locked_target(tx, actor, member, granted, expected) {
                return Ok(Err(e));
            }
            tx.set_member_custom_roles(actor.clinic_id, member, role_ids)?;
            self.core.audit_action(
                tx,
                actor,
                crate::audit::actions::MEMBERSHIP_CUSTOM_ROLES_ASSIGNED,
                ("membership", member.0),
                client,
            )?;
            Ok(Ok(member_changed(tx, actor.clinic_id, member)?))
        })
    }

    /// Replaces a member's overrides (business plan; step-up; escalation guard).
    pub fn set_overrides(
        &self,
        actor: &Actor,
        member: MembershipId,
        grants: PermissionSet,
        denies: PermissionSet,
        expected: Option<Expected>,
        client: &ClientInfo,
    ) -> Result<i32, DomainError> {
        actor.require(Permission::PermissionsOverride)?;
        actor.require_step_up(self.core.now())?;
        self.committed(Scope::Clinic(actor.clinic_id), |tx| {
            if let Err(e) = require_feature(
                plan_of(tx, actor.clinic_id)?,
                &[Plan::Business],
                "Permission overrides",
            ) {
                return Ok(Err(e));
            }
            let target = match locked_target(tx, actor, member, grants, expected) {
                Ok(t) => t,
                Err(e) => return Ok(Err(e)),
            };
            if target.role == Role::Owner && denies != PermissionSet::EMPTY {
                return Ok(Err(DomainError::Conflict {
                    code: "owner_keeps_everything",
                    detail: "An owner's permissions cannot be denied.".into(),
                }));
            }
            tx.set_member_overrides(actor.clinic_id, member, grants, denies)?;
            self.core.audit_action(
                tx,
                actor,
                crate::audit::actions::MEMBERSHIP_OVERRIDES_SET,
                ("membership", member.0),
                client,
            )?;
            Ok(Ok(member_changed(tx, actor.clinic_id, member)?))
        })
    }
}

/// The built-in roles with their permissions, for listing.
pub fn built_in_roles() -> Vec<(Role, PermissionSet)> {
    Role::ALL
        .into_iter()
        .map(|r| (r, role_permissions(r)))
        .collect()
}
