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
    /// The member's role.
    pub role: Role,
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

impl Actor {
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
        if self.mfa_required && (!self.mfa_enrolled || self.mfa_at.is_none()) {
            return Err(DomainError::forbidden(
                "mfa_enrollment_required",
                "This membership requires multi-factor authentication: enrol an authenticator first.",
            ));
        }
        Ok(())
    }

    /// Refuses unless the session passed an MFA check in the last ten minutes.
    pub fn require_step_up(&self, now: DateTime<Utc>) -> Result<(), DomainError> {
        match self.mfa_at {
            Some(at) if self.mfa_enrolled && now - at <= STEP_UP_WINDOW => Ok(()),
            _ => Err(DomainError::forbidden(
                "step_up_required",
                "This action needs a recent MFA check: call POST /api/v1/auth/step-up first.",
            )),
        }
    }
}
