//! The authenticated principal every service receives.

use chrono::{DateTime, Duration, Utc};

use crate::DomainError;
use crate::access::{Permission, PermissionSet};
use crate::identity::model::Role;
use crate::ids::{AccountId, ClinicId, MembershipId, SessionId};

/// How recent an MFA check must be for a sensitive action (step-up).
pub const STEP_UP_WINDOW: Duration = Duration::minutes(10);

/// Who is calling, inside which clinic, through which session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The person.
    pub account_id: AccountId,
    /// The clinic the session acts in.
    pub clinic_id: ClinicId,
    /// The membership that grants access to it.
    pub membership_id: MembershipId,
    /// The session.
    pub session_id: SessionId,
    /// A member (with their built-in role) or a service account.
    pub kind: ActorKind,
    /// When this session last passed an MFA check.
    pub mfa_at: Option<DateTime<Utc>>,
    /// Whether the account has confirmed a TOTP authenticator.
    pub mfa_enrolled: bool,
    /// Whether this membership must use MFA (privileged role or clinic setting).
    pub mfa_required: bool,
    /// Effective permissions, resolved for this request.
    pub permissions: PermissionSet,
    /// Whether the clinic requires every clinical read to state its purpose
    /// of use (`crate::purpose`).
    pub purpose_of_use_required: bool,
}

/// Who stands behind an actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorKind {
    /// A person signed in, with their membership's built-in role.
    Member(Role),
    /// A service account calling with an API key: its ids stand in the actor's
    /// account and membership, its key's id in the session.
    Service,
}

impl Actor {
    /// Whether the actor is an owner of the clinic.
    pub fn is_owner(&self) -> bool {
        self.kind == ActorKind::Member(Role::Owner)
    }

    /// Whether the actor is a service account.
    pub fn is_service(&self) -> bool {
        self.kind == ActorKind::Service
    }

    /// Refuses a service account: for what only a person may do (their own
    /// account, sessions, MFA).
    pub fn require_member(&self) -> Result<(), DomainError> {
        if self.is_service() {
            return Err(DomainError::forbidden(
                "service_account_not_allowed",
                "A service account cannot do this: it is for a signed-in member only.",
            ));
        }
        Ok(())
    }

    /// The first line of every service: refuses unless the member holds `p`.
    pub fn require(&self, p: Permission) -> Result<(), DomainError> {
        if self.permissions.contains(p) {
            Ok(())
        } else {
            Err(DomainError::Forbidden {
                code: "permission_denied",
                detail: format!("This action needs the permission {}.", p.code()),
                missing: Some(p.code()),
            })
        }
    }

    /// Refuses a session that must enrol MFA first (only enrolment and sign-out
    /// are open to it).
    pub fn require_mfa_settled(&self) -> Result<(), DomainError> {
        if self.is_service() {
            return Ok(());
        }
        if self.mfa_required && (!self.mfa_enrolled || self.mfa_at.is_none()) {
            return Err(DomainError::forbidden(
                "mfa_enrollment_required",
                "This membership requires multi-factor authentication: enrol an authenticator first.",
            ));
        }
        Ok(())
    }

    /// Refuses unless the session passed an MFA check in the last ten minutes.
    /// A service account has no MFA, so no step-up: these actions are closed to it.
    pub fn require_step_up(&self, now: DateTime<Utc>) -> Result<(), DomainError> {
        self.require_member()?;
        match self.mfa_at {
            Some(at) if self.mfa_enrolled && now - at <= STEP_UP_WINDOW => Ok(()),
            _ => Err(DomainError::forbidden(
                "step_up_required",
                "This action needs a recent MFA check: call POST /api/v1/auth/step-up first.",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{AccountId, ClinicId, MembershipId, SessionId};

    fn actor(permissions: &[Permission]) -> Actor {
        let id = uuid::Uuid::nil();
        Actor {
            account_id: AccountId(id),
            clinic_id: ClinicId(id),
            membership_id: MembershipId(id),
            session_id: SessionId(id),
            kind: ActorKind::Member(Role::Nurse),
            mfa_at: None,
            mfa_enrolled: false,
            mfa_required: false,
            permissions: PermissionSet::of(permissions),
            purpose_of_use_required: false,
        }
    }

    fn code(result: Result<(), DomainError>) -> Option<&'static str> {
        match result {
            Ok(()) => None,
            Err(DomainError::Forbidden { code, .. }) => Some(code),
            Err(other) => panic!("not a refusal: {other:?}"),
        }
    }

    #[test]
    fn a_permission_is_required_and_the_refusal_names_it() {
        let nurse = actor(&[Permission::ClinicalRead]);
        assert!(nurse.require(Permission::ClinicalRead).is_ok());
        match nurse.require(Permission::PatientsErase) {
            Err(DomainError::Forbidden { code, missing, .. }) => {
                assert_eq!(code, "permission_denied");
                assert_eq!(missing, Some("patients.erase"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_membership_that_requires_mfa_is_settled_only_enrolled_and_checked() {
        let now = Utc::now();
        for (required, enrolled, checked, settled) in [
            (false, false, None, true),
            (true, false, None, false),
            (true, true, None, false),
            (true, false, Some(now), false),
            (true, true, Some(now), true),
        ] {
            let member = Actor {
                mfa_required: required,
                mfa_enrolled: enrolled,
                mfa_at: checked,
                ..actor(&[])
            };
            let expected = (!settled).then_some("mfa_enrollment_required");
            assert_eq!(
                code(member.require_mfa_settled()),
                expected,
                "required {required}, enrolled {enrolled}, checked {checked:?}"
            );
        }
    }

    #[test]
    fn a_step_up_lasts_ten_minutes_and_needs_an_enrolled_authenticator() {
        let at = Utc::now();
        let member = Actor {
            mfa_enrolled: true,
            mfa_at: Some(at),
            ..actor(&[])
        };
        assert_eq!(code(member.require_step_up(at + STEP_UP_WINDOW)), None);
        assert_eq!(
            code(member.require_step_up(at + STEP_UP_WINDOW + Duration::seconds(1))),
            Some("step_up_required")
        );
        let not_enrolled = Actor {
            mfa_enrolled: false,
            ..member.clone()
        };
        assert_eq!(
            code(not_enrolled.require_step_up(at)),
            Some("step_up_required")
        );
        let never_checked = Actor {
            mfa_at: None,
            ..member
        };
        assert_eq!(
            code(never_checked.require_step_up(at)),
            Some("step_up_required")
        );
        assert_eq!(STEP_UP_WINDOW, Duration::minutes(10));
    }
}
