//! Storage of staff: the repository trait and the rows it reads and writes
//! (implemented by the persistence crate).

use chrono::{DateTime, Utc};

use crate::DomainError;
use crate::access::{Extras, PermissionSet, effective};
use crate::identity::model::Role;
use crate::ids::{AccountId, ClinicId, InvitationId, MembershipId};
use crate::plans::Plan;

/// A member of the clinic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The membership.
    pub membership_id: MembershipId,
    /// The account.
    pub account_id: AccountId,
    /// Email.
    pub email: String,
    /// Given name.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// Role.
    pub role: Role,
    /// Active or deactivated.
    pub active: bool,
    /// Whether the account has MFA.
    pub mfa_enrolled: bool,
    /// Joined.
    pub created_at: DateTime<Utc>,
    /// Custom roles and overrides.
    pub extras: Extras,
    /// The membership's version (optimistic concurrency): role, permissions, state
    /// and practitioner profile change it.
    pub version: i32,
}

impl Member {
    /// Effective permissions.
    pub fn permissions(&self) -> PermissionSet {
        effective(self.role, self.extras)
    }
}

/// An invitation to join the clinic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    /// Its id.
    pub id: InvitationId,
    /// Invited address.
    pub email: String,
    /// Role on acceptance.
    pub role: Role,
    /// Sent.
    pub created_at: DateTime<Utc>,
    /// Expires.
    pub expires_at: DateTime<Utc>,
    /// Accepted.
    pub accepted_at: Option<DateTime<Utc>>,
    /// Revoked.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Storage of members and invitations (clinic-scoped).
pub trait StaffRepo {
    /// The clinic's members, oldest first.
    fn members(&mut self, clinic: ClinicId) -> Result<Vec<Member>, DomainError>;
    /// One member.
    fn member(&mut self, clinic: ClinicId, id: MembershipId)
    -> Result<Option<Member>, DomainError>;
    /// Changes a member's role.
    fn set_role(
        &mut self,
        clinic: ClinicId,
        id: MembershipId,
        role: Role,
    ) -> Result<(), DomainError>;
    /// Activates or deactivates a member.
    fn set_active(
        &mut self,
        clinic: ClinicId,
        id: MembershipId,
        active: bool,
    ) -> Result<(), DomainError>;
    /// Active owners.
    fn active_owners(&mut self, clinic: ClinicId) -> Result<i64, DomainError>;
    /// Ends every live session of a member in this clinic.
    fn revoke_member_sessions(
        &mut self,
        clinic: ClinicId,
        id: MembershipId,
        at: DateTime<Utc>,
        reason: &str,
    ) -> Result<usize, DomainError>;
    /// Active members plus pending invitations at `now`.
    fn seats_used(&mut self, clinic: ClinicId, now: DateTime<Utc>) -> Result<i64, DomainError>;
    /// Stores an invitation.
    fn insert_invitation(
        &mut self,
        clinic: ClinicId,
        invitation: &Invitation,
        token_hash: &[u8],
        invited_by: MembershipId,
    ) -> Result<(), DomainError>;
    /// The clinic's invitations, newest first.
    fn invitations(&mut self, clinic: ClinicId) -> Result<Vec<Invitation>, DomainError>;
    /// An invitation by token hash, locked.
    fn invitation_by_token(
        &mut self,
        clinic: ClinicId,
        token_hash: &[u8],
    ) -> Result<Option<Invitation>, DomainError>;
    /// Marks an invitation revoked; false when it was not pending.
    fn revoke_invitation(
        &mut self,
        clinic: ClinicId,
        id: InvitationId,
        at: DateTime<Utc>,
    ) -> Result<bool, DomainError>;
    /// Marks an invitation accepted.
    fn accept_invitation(
        &mut self,
        clinic: ClinicId,
        id: InvitationId,
        at: DateTime<Utc>,
    ) -> Result<(), DomainError>;
    /// Sets the clinic's plan; false when the clinic does not exist.
    fn set_plan(&mut self, clinic: ClinicId, plan: Plan) -> Result<bool, DomainError>;
}
