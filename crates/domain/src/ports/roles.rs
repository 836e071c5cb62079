//! Storage of roles: the repository trait and the rows it reads and writes
//! (implemented by the persistence crate).

use chrono::{DateTime, Utc};

use crate::DomainError;
use crate::access::PermissionSet;
use crate::ids::{ClinicId, MembershipId, RoleId};

/// A clinic's own role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomRole {
    /// Its id.
    pub id: RoleId,
    /// Its name (unique in the clinic).
    pub name: String,
    /// What it grants.
    pub permissions: PermissionSet,
    /// Members holding it.
    pub assigned: i64,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Its version (optimistic concurrency).
    pub version: i32,
}

/// Storage of custom roles and overrides (clinic-scoped).
pub trait RolesRepo {
    /// The clinic's custom roles, by name.
    fn custom_roles(&mut self, clinic: ClinicId) -> Result<Vec<CustomRole>, DomainError>;
    /// Inserts a custom role.
    fn insert_custom_role(
        &mut self,
        clinic: ClinicId,
        role: &CustomRole,
    ) -> Result<(), DomainError>;
    /// Updates a role's name and permissions; false when it does not exist.
    fn update_custom_role(
        &mut self,
        clinic: ClinicId,
        role: &CustomRole,
    ) -> Result<bool, DomainError>;
    /// Deletes a role; false when it does not exist.
    fn delete_custom_role(&mut self, clinic: ClinicId, id: RoleId) -> Result<bool, DomainError>;
    /// Replaces a member's custom roles.
    fn set_member_custom_roles(
        &mut self,
        clinic: ClinicId,
        member: MembershipId,
        roles: &[RoleId],
    ) -> Result<(), DomainError>;
    /// Replaces a member's overrides.
    fn set_member_overrides(
        &mut self,
        clinic: ClinicId,
        member: MembershipId,
        grants: PermissionSet,
        denies: PermissionSet,
    ) -> Result<(), DomainError>;
}
