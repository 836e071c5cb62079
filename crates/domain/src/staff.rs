//! Staff management: members, roles, deactivation, invitations, ownership.
//!
//! Guards against escalation: nobody grants a role whose permissions they do not
//! all hold, nobody changes their own role or status, nobody acts on a member who
//! holds more than they do, the last owner stays, ownership moves only by an
//! explicit transfer, and role changes need step-up MFA.

use chrono::Duration;

use crate::DomainError;
use crate::access::{Permission, PermissionSet, check_grant, role_permissions};
use crate::actor::Actor;
use crate::audit::AuditRecord;
use crate::concurrency::VersionsRepo;
use crate::concurrency::{Expected, bump_version, lock_checked, lock_version};
use crate::crypto::sha256;
use crate::identity::auth::clinic_of_token;
use crate::identity::email;
use crate::identity::links::Flow;
use crate::identity::model::{ClientInfo, Role};
use crate::identity::password::{PersonalWords, Verified, check_policy};
use crate::ids::{AccountId, ClinicId, InvitationId, MembershipId};
use crate::plans::Plan;
use crate::ports::identity::NewAccount;
use crate::ports::staff::{Invitation, Member};
use crate::shared::{Core, transactions};
use crate::store::{MemberTx, Scope, StaffTx};

/// Invitations stay valid this long.
pub const INVITATION_TTL: Duration = Duration::hours(72);

/// Accepting an invitation.
#[derive(Debug, Clone)]
pub struct Acceptance {
    /// The token from the email.
    pub token: String,
    /// New account: its password; existing account: its current password.
    pub password: String,
    /// New account: given name.
    pub given_name: Option<String>,
    /// New account: family name.
    pub family_name: Option<String>,
}

fn not_found() -> DomainError {
    DomainError::NotFound
}

fn conflict(code: &'static str, detail: &str) -> DomainError {
    DomainError::Conflict {
        code,
        detail: detail.to_owned(),
    }
}

/// Staff members, invitations and the clinic plan.
#[derive(Clone)]
pub struct Staff {
    core: Core,
}

impl Staff {
    /// The service over the shared core.
    pub fn new(core: Core) -> Self {
        Self { core }
    }

    transactions!(StaffTx, committed);

    /// The clinic's members.
    pub fn list_members(&self, actor: &Actor) -> Result<Vec<Member>, DomainError> {
        actor.require(Permission::StaffRead)?;
        self.tx(Scope::Clinic(actor.clinic_id), |tx| {
            tx.members(actor.clinic_id)
        })
    }

    /// Loads a member another member may act on: not oneself, not someone who
    /// holds permissions the actor does not.
    pub(crate) fn target(
        &self,
        tx: &mut dyn StaffTx,
        actor: &Actor,
        id: MembershipId,
        granted: PermissionSet,
    ) -> Result<Member, DomainError> {
        let member = tx.member(actor.clinic_id, id)?.ok_or_else(not_found)?;
        check_target(actor, &member, granted)?;
        Ok(member)
    }

    /// Changes a member's role (step-up; subset rule; never to or from the last owner).
    pub fn change_role(
        &self,
        actor: &Actor,
        id: MembershipId,
        role: Role,
        expected: Option<Expected>,
        client: &ClientInfo,
    ) -> Result<Member, DomainError> {
        actor.require(Permission::RolesAssign)?;
        actor.require_step_up(self.core.now())?;
        if id == actor.membership_id {
            return Err(DomainError::forbidden(
                "self_change_forbidden",
                "Nobody changes their own role or status.",
            ));
        }
        if role == Role::Owner {
            return Err(conflict(
                "use_ownership_transfer",
                "Ownership moves only by an explicit transfer.",
            ));
        }
        let now = self.core.now();
        self.committed(Scope::Clinic(actor.clinic_id), |tx| {
            let member = match locked_target(tx, actor, id, role_permissions(role), expected) {
                Ok(m) => m,
                Err(e) => return Ok(Err(e)),
            };
            if member.role == Role::Owner && tx.active_owners(actor.clinic_id)? <= 1 {
                return Ok(Err(conflict(
                    "last_owner",
                    "The clinic must keep an owner.",
                )));
            }
            tx.set_role(actor.clinic_id, id, role)?;
            tx.revoke_member_sessions(actor.clinic_id, id, now, "role_changed")?;
            self.core.audit(
                tx,
                AuditRecord::by(actor, crate::audit::actions::MEMBERSHIP_ROLE_CHANGED)
                    .on("membership", id)
                    .detail("role", role.as_str()),
                client,
            )?;
            let version = member_changed(tx, actor.clinic_id, id)?;
            Ok(Ok(Member {
                role,
                version,
                ..member
            }))
        })
    }

    /// Deactivates (all of the member's sessions in this clinic end at once) or
    /// reactivates a member.
    ///
    /// The membership is locked, so concurrent calls take turns; a member already
    /// in the state asked for is answered as they are (the call is idempotent).
    pub fn set_member_active(
        &self,
        actor: &Actor,
        id: MembershipId,
        active: bool,
        expected: Option<Expected>,
        client: &ClientInfo,
    ) -> Result<Member, DomainError> {
        actor.require(Permission::StaffDeactivate)?;
        let now = self.core.now();
        self.committed(Scope::Clinic(actor.clinic_id), |tx| {
            let member = match self.target(tx, actor, id, PermissionSet::EMPTY) {
                Ok(m) => m,
                Err(e) => return Ok(Err(e)),
            };
            let Some(current) = lock_version(tx, actor.clinic_id, id)? else {
                return Ok(Err(not_found()));
            };
            let member = tx.member(actor.clinic_id, id)?.unwrap_or(member);
            let Some(expected) = expected else {
                return Ok(Err(DomainError::PreconditionRequired));
            };
            if member.active == active {
                return Ok(Ok(member));
            }
            if let Err(stale) = expected.check(current) {
                return Ok(Err(stale));
            }
            if !active
                && member.role == Role::Owner
                && member.active
                && tx.active_owners(actor.clinic_id)? <= 1
            {
                return Ok(Err(conflict(
                    "last_owner",
                    "The clinic must keep an owner.",
                )));
            }
            if active && !member.active {
                let plan = self.plan_of(tx, actor.clinic_id)?;
                if let Err(e) = plan.require_seat(tx.seats_used(actor.clinic_id, now)?) {
                    return Ok(Err(e));
                }
            }
            tx.set_active(actor.clinic_id, id, active)?;
            if !active {
                tx.revoke_member_sessions(
                    actor.clinic_id,
                    id,
                    now,
                    crate::audit::actions::MEMBERSHIP_DEACTIVATED,
                )?;
            }
            let kind = if active {
                crate::audit::actions::MEMBERSHIP_REACTIVATED
            } else {
                crate::audit::actions::MEMBERSHIP_DEACTIVATED
            };
            self.core
                .audit_action(tx, actor, kind, ("membership", id), client)?;
            let version = member_changed(tx, actor.clinic_id, id)?;
            Ok(Ok(Member {
                active,
                version,
                ..member
            }))
        })
    }

    /// Ends every session of a member in this clinic.
    pub fn revoke_member_sessions(
        &self,
        actor: &Actor,
        id: MembershipId,
        client: &ClientInfo,
    ) -> Result<usize, DomainError> {
        actor.require(Permission::SessionsRevoke)?;
        let now = self.core.now();
        self.committed(Scope::Clinic(actor.clinic_id), |tx| {
            if let Err(refused) = self.target(tx, actor, id, PermissionSet::EMPTY) {
                return Ok(Err(refused));
            }
            let n =
                tx.revoke_member_sessions(actor.clinic_id, id, now, "revoked_by_administrator")?;
            self.core.audit(
                tx,
                AuditRecord::by(actor, crate::audit::actions::MEMBERSHIP_SESSIONS_REVOKED)
                    .on("membership", id)
                    .detail("sessions", n),
                client,
            )?;
            Ok(Ok(n))
        })
    }

    /// Moves ownership to another active member (owner only, step-up); the former
    /// owner becomes an administrator.
    pub fn transfer_ownership(
        &self,
        actor: &Actor,
        to: MembershipId,
        client: &ClientInfo,
    ) -> Result<(), DomainError> {
        actor.require(Permission::RolesAssign)?;
        if !actor.is_owner() {
            return Err(DomainError::forbidden(
                "owner_only",
                "Only an owner can transfer ownership.",
            ));
        }
        actor.require_step_up(self.core.now())?;
        let now = self.core.now();
        self.committed(Scope::Clinic(actor.clinic_id), |tx| {
            let Some(target) = tx.member(actor.clinic_id, to)? else {
                return Ok(Err(not_found()));
            };
            if target.membership_id == actor.membership_id || !target.active {
                return Ok(Err(conflict(
                    "invalid_transfer",
                    "Transfer to another active member.",
                )));
            }
            tx.set_role(actor.clinic_id, to, Role::Owner)?;
            tx.set_role(actor.clinic_id, actor.membership_id, Role::Administrator)?;
            tx.revoke_member_sessions(actor.clinic_id, to, now, "role_changed")?;
            self.core.audit_action(
                tx,
                actor,
                crate::audit::actions::MEMBERSHIP_OWNERSHIP_TRANSFERRED,
                ("membership", to.0),
                client,
            )?;
            Ok(Ok(()))
        })
    }

    fn plan_of(&self, tx: &mut dyn StaffTx, clinic: ClinicId) -> Result<Plan, DomainError> {
        let clinic = tx.clinic(clinic)?.ok_or_else(not_found)?;
        Plan::parse(&clinic.plan)
            .ok_or_else(|| DomainError::Internal(format!("unknown plan {}", clinic.plan)))
    }

    /// Invites someone by email with a role; the token goes out through the outbox.
    pub fn invite(
        &self,
        actor: &Actor,
        email_raw: &str,
        role: Role,
        client: &ClientInfo,
    ) -> Result<Invitation, DomainError> {
        actor.require(Permission::StaffInvite)?;
        let address = email::normalise("email", email_raw)?;
        if role == Role::Owner {
            return Err(DomainError::invalid(
                "role",
                "owner_by_transfer",
                "owners are made by an ownership transfer",
            ));
        }
        if !role_permissions(role).is_subset_of(actor.permissions) {
            return Err(DomainError::forbidden(
                "insufficient_permissions",
                "You cannot grant a role with permissions you do not hold.",
            ));
        }
        let now = self.core.now();
        let (token, hash) = self.core.clinic_token_pair(actor.clinic_id);
        let invitation = Invitation {
            id: self.core.new_id(),
            email: address,
            role,
            created_at: now,
            expires_at: now + INVITATION_TTL,
            accepted_at: None,
            revoked_at: None,
        };
        self.committed(Scope::Clinic(actor.clinic_id), |tx| {
            if tx
                .members(actor.clinic_id)?
                .iter()
                .any(|m| m.email == invitation.email)
            {
                return Ok(Err(conflict(
                    "already_member",
                    "This person is already a member.",
                )));
            }
            let plan = self.plan_of(tx, actor.clinic_id)?;
            if let Err(e) = plan.require_seat(tx.seats_used(actor.clinic_id, now)?) {
                return Ok(Err(e));
            }
            let clinic_name = tx
                .clinic(actor.clinic_id)?
                .map(|c| c.name)
                .unwrap_or_default();
            tx.insert_invitation(actor.clinic_id, &invitation, &hash, actor.membership_id)?;
            self.core.audit_action(
                tx,
                actor,
                crate::audit::actions::INVITATION_SENT,
                ("invitation", invitation.id),
                client,
            )?;
            self.core.email(
                tx,
                &invitation.email,
                "You are invited to join a clinic on Salus",
                format!(
                    "You are invited to join \"{clinic_name}\" on Salus as {}. Accept with this code (valid 72 hours, once):\n\n{token}\n\n{}",
                    role.as_str(),
                    self.core.settings().links.instruction(Flow::AcceptInvitation, &token)
                ),
            )?;
            Ok(Ok(invitation.clone()))
        })
    }

    /// The clinic's invitations.
    pub fn list_invitations(&self, actor: &Actor) -> Result<Vec<Invitation>, DomainError> {
        actor.require(Permission::StaffRead)?;
        self.tx(Scope::Clinic(actor.clinic_id), |tx| {
            tx.invitations(actor.clinic_id)
        })
    }

    /// Revokes a pending invitation.
    pub fn revoke_invitation(
        &self,
        actor: &Actor,
        id: InvitationId,
        client: &ClientInfo,
    ) -> Result<(), DomainError> {
        actor.require(Permission::StaffInvite)?;
        let now = self.core.now();
        self.committed(Scope::Clinic(actor.clinic_id), |tx| {
            if !tx.revoke_invitation(actor.clinic_id, id, now)? {
                return Ok(Err(not_found()));
            }
            self.core.audit_action(
                tx,
                actor,
                crate::audit::actions::INVITATION_REVOKED,
                ("invitation", id),
                client,
            )?;
            Ok(Ok(()))
        })
    }

    /// Accepts an invitation: creates the account (password under the policy) or,
    /// for an existing account, requires its password; then the membership.
    pub fn accept_invitation(
        &self,
        cmd: &Acceptance,
        client: &ClientInfo,
    ) -> Result<(), DomainError> {
        self.core.throttle("invitation", client)?;
        let invalid = || {
            DomainError::invalid(
                "token",
                "invalid_token",
                "is unknown, expired, revoked or already used",
            )
        };
        let clinic = clinic_of_token(&cmd.token).ok_or_else(invalid)?;
        let hash = sha256(cmd.token.as_bytes());
        let now = self.core.now();
        let (invitation, clinic_name) = self.tx(Scope::Clinic(clinic), |tx| {
            let invitation = tx.invitation_by_token(clinic, &hash)?;
            let name = tx.clinic(clinic)?.map(|c| c.name).unwrap_or_default();
            Ok((invitation, name))
        })?;
        let invitation = invitation
            .filter(|i| i.accepted_at.is_none() && i.revoked_at.is_none() && i.expires_at > now)
            .ok_or_else(invalid)?;
        let existing = self.tx(Scope::Platform, |tx| tx.account_by_email(&invitation.email))?;
        let (account_id, new_account) = match existing {
            Some(account) => {
                if self
                    .core
                    .hasher()
                    .verify(&cmd.password, Some(&account.password_hash))
                    == Verified::No
                {
                    return Err(DomainError::InvalidCredentials);
                }
                (account.id, None)
            }
            None => {
                let given = cmd.given_name.clone().filter(|n| !n.trim().is_empty());
                let family = cmd.family_name.clone().filter(|n| !n.trim().is_empty());
                let (Some(given), Some(family)) = (given, family) else {
                    return Err(DomainError::invalid(
                        "given_name",
                        "required",
                        "a new account needs given_name and family_name",
                    ));
                };
                check_policy(
                    "password",
                    &cmd.password,
                    &PersonalWords {
                        email: &invitation.email,
                        words: vec![&given, &family, &clinic_name],
                    },
                )?;
                let id = AccountId(self.core.new_id());
                let hash = self.core.hasher().hash(&cmd.password, self.core.random())?;
                let account = NewAccount {
                    id,
                    email: invitation.email.clone(),
                    given_name: given.trim().to_owned(),
                    family_name: family.trim().to_owned(),
                    password_hash: hash,
                    created_at: now,
                };
                (id, Some(account))
            }
        };
        self.committed(Scope::Clinic(clinic), |tx| {
            match tx.invitation_by_token(clinic, &hash)? {
                Some(i) if i.accepted_at.is_none() && i.revoked_at.is_none() => {}
                _ => return Ok(Err(invalid())),
            }
            if let Some(account) = &new_account {
                tx.insert_account(account)?;
                // Invitation by email proves the address.
                tx.set_email_verified(account.id, now)?;
            }
            if tx
                .members(clinic)?
                .iter()
                .any(|m| m.account_id == account_id)
            {
                return Ok(Err(conflict(
                    "already_member",
                    "This account is already a member.",
                )));
            }
            tx.insert_membership(
                clinic,
                MembershipId(self.core.new_id()),
                account_id,
                invitation.role,
                now,
            )?;
            tx.accept_invitation(clinic, invitation.id, now)?;
            self.core.audit(
                tx,
                AuditRecord::account(crate::audit::actions::INVITATION_ACCEPTED, Some(account_id))
                    .in_clinic(Some(clinic))
                    .on("invitation", invitation.id),
                client,
            )?;
            Ok(Ok(()))
        })
    }

    /// Sets a clinic's plan (operator command; no actor).
    pub fn set_plan(&self, clinic: ClinicId, plan: Plan, by: &str) -> Result<(), DomainError> {
        self.tx(Scope::Clinic(clinic), |tx| {
            if !tx.set_plan(clinic, plan)? {
                return Err(DomainError::NotFound);
            }
            let operator = ClientInfo {
                ip: None,
                user_agent: Some("salus clinic set-plan".to_owned()),
                request_id: None,
                purpose_of_use: None,
            };
            self.core.audit(
                tx,
                AuditRecord::account(crate::audit::actions::CLINIC_PLAN_CHANGED, None)
                    .in_clinic(Some(clinic))
                    .on("clinic", clinic)
                    .detail("plan", plan.as_str())
                    .detail("operator", by),
                &operator,
            )
        })
    }
}

/// The member a change is made to, locked, after the escalation guard and the
/// version check (see `Staff::target` and [`lock_checked`]).
pub(crate) fn locked_target(
    tx: &mut dyn MemberTx,
    actor: &Actor,
    id: MembershipId,
    granted: PermissionSet,
    expected: Option<Expected>,
) -> Result<Member, DomainError> {
    let member = tx.member(actor.clinic_id, id)?.ok_or_else(not_found)?;
    check_target(actor, &member, granted)?;
    lock_checked(tx, actor.clinic_id, id, expected)?;
    Ok(member)
}

/// Records that a member changed; returns the membership's new version.
pub(crate) fn member_changed(
    tx: &mut dyn VersionsRepo,
    clinic: ClinicId,
    id: MembershipId,
) -> Result<i32, DomainError> {
    bump_version(tx, clinic, id)
}

/// The one guard of every staff action (sessions, role, custom roles,
/// overrides, deactivation, reactivation): nobody acts on themselves, only an
/// owner acts on an owner, nobody acts on a member who holds a permission they
/// do not, and nobody grants what they do not hold.
fn check_target(actor: &Actor, member: &Member, granted: PermissionSet) -> Result<(), DomainError> {
    if member.role == Role::Owner
        && !actor.is_owner()
        && member.membership_id != actor.membership_id
    {
        return Err(DomainError::forbidden(
            "owner_only",
            "Only an owner acts on an owner.",
        ));
    }
    check_grant(
        actor.permissions,
        member.membership_id == actor.membership_id,
        member.permissions(),
        granted,
    )
}
