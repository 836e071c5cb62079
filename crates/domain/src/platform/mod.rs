//! The platform operator realm: named operators, separate from clinic members,
//! created by the CLI with a one-time enrolment link, MFA from the first
//! sign-in, short sessions (idle 15 minutes, absolute 8 hours by default) and
//! an end date on every account. Every operator transaction runs in the
//! platform scope, where row-level security shows no row of any clinic: an
//! operator sees clinics' metadata and counts (through `salus_platform_clinics`,
//! which returns nothing else), never a patient row or a decrypted field.
//! Every operator action is in the platform's audit chain; one that concerns a
//! clinic is in the clinic's own trail too.

mod accounts;
mod clinics;
mod incidents;
mod sessions;

use chrono::{DateTime, Utc};

use crate::DomainError;
use crate::audit::AuditRecord;
use crate::ids::{OperatorId, OperatorSessionId};
use crate::ports::operators::OperatorRole;
use crate::shared::{Core, transactions};

pub use accounts::NewOperator;
pub use incidents::{IncidentView, NewIncident};
pub use sessions::OperatorGrant;

/// The prefix of operators' bearer tokens, so secret scanners recognise one.
pub const TOKEN_PREFIX: &str = "salus_op_";

/// What an operator may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlatformPermission {
    /// The clinics' metadata and counts.
    ClinicsRead,
    /// The incident register.
    IncidentsRead,
    /// Declaring and running incidents: the timeline, status, breach,
    /// notifications, evidence and post-mortem.
    IncidentsManage,
}

impl PlatformPermission {
    /// Every platform permission.
    pub const ALL: [Self; 3] = [
        Self::ClinicsRead,
        Self::IncidentsRead,
        Self::IncidentsManage,
    ];

    /// The code the contract declares (`x-permission`).
    pub fn code(self) -> &'static str {
        match self {
            Self::ClinicsRead => "platform.clinics.read",
            Self::IncidentsRead => "platform.incidents.read",
            Self::IncidentsManage => "platform.incidents.manage",
        }
    }

    /// The permission a code names.
    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.code() == code)
    }
}

/// The permissions of an operator role.
pub fn role_permissions(role: OperatorRole) -> &'static [PlatformPermission] {
    match role {
        OperatorRole::IncidentManager | OperatorRole::SecurityOfficer => &[
            PlatformPermission::ClinicsRead,
            PlatformPermission::IncidentsRead,
            PlatformPermission::IncidentsManage,
        ],
        OperatorRole::Support => &[
            PlatformPermission::ClinicsRead,
            PlatformPermission::IncidentsRead,
        ],
    }
}

/// A signed-in operator, as every platform operation receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorActor {
    /// The operator.
    pub operator_id: OperatorId,
    /// Their address.
    pub email: String,
    /// Their role.
    pub role: OperatorRole,
    /// The session.
    pub session_id: OperatorSessionId,
    /// When their access ends.
    pub ends_at: DateTime<Utc>,
}

impl OperatorActor {
    /// The first line of every platform operation.
    pub fn require(&self, p: PlatformPermission) -> Result<(), DomainError> {
        if role_permissions(self.role).contains(&p) {
            Ok(())
        } else {
            Err(DomainError::Forbidden {
                code: "permission_denied",
                detail: format!("This action needs the platform permission {}.", p.code()),
                missing: None,
            })
        }
    }
}

/// The operator realm's service.
#[derive(Clone)]
pub struct Platform {
    core: Core,
}

impl Platform {
    /// The service over `core`.
    pub fn new(core: Core) -> Self {
        Self { core }
    }

    transactions!(OperatorsTx, committed);
}

/// An audit record of an operator's action (platform chain unless placed in a
/// clinic).
fn by_operator(actor: &OperatorActor, action: &'static str) -> AuditRecord {
    AuditRecord::account(action, None)
        .detail("operator_id", actor.operator_id.to_string())
        .detail("operator_role", actor.role.as_str())
        .detail("operator_session", actor.session_id.to_string())
}
