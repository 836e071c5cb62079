//! Storage of the platform's operators and their sessions (platform tables, no
//! clinic), and the clinics as operators see them: metadata and counts, never a
//! row of a clinic's own.

use chrono::{DateTime, Duration, Utc};

use crate::DomainError;
use crate::ids::{ClinicId, OperatorId, OperatorSessionId};

/// What an operator does: the role names a set of platform permissions
/// (`crate::platform::OperatorRole::permissions`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperatorRole {
    /// Declares and runs incidents.
    IncidentManager,
    /// Incidents, vulnerabilities and secrets.
    SecurityOfficer,
    /// Answers clinics: reads their metadata.
    Support,
}

impl OperatorRole {
    /// Every role.
    pub const ALL: [Self; 3] = [Self::IncidentManager, Self::SecurityOfficer, Self::Support];

    /// The stored and CLI name (`incident-manager` is accepted for
    /// `incident_manager`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::IncidentManager => "incident_manager",
            Self::SecurityOfficer => "security_officer",
            Self::Support => "support",
        }
    }

    /// The role a name gives, with `-` or `_`.
    pub fn parse(name: &str) -> Option<Self> {
        let name = name.replace('-', "_");
        Self::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

/// How long operators' sessions and enrolment links last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OperatorLifetimes {
    /// A session ends after this long without a request.
    pub idle: Duration,
    /// A session ends this long after sign-in, whatever happens.
    pub absolute: Duration,
    /// An enrolment link lapses after this long.
    pub enrolment: Duration,
}

impl Default for OperatorLifetimes {
    fn default() -> Self {
        Self {
            idle: Duration::minutes(15),
            absolute: Duration::hours(8),
            enrolment: Duration::hours(72),
        }
    }
}

/// An operator as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    /// Its id.
    pub id: OperatorId,
    /// Normalised address (trimmed, lower case).
    pub email: String,
    /// Its role.
    pub role: OperatorRole,
    /// Argon2id hash, once enrolled.
    pub password_hash: Option<String>,
    /// TOTP secret sealed under the master keys.
    pub totp_secret: Option<Vec<u8>>,
    /// When the authenticator was confirmed (enrolment complete).
    pub totp_confirmed_at: Option<DateTime<Utc>>,
    /// The last TOTP step accepted (a code works once).
    pub totp_last_step: Option<i64>,
    /// SHA-256 of the one-time enrolment token, until it is used.
    pub enrolment_token_hash: Option<Vec<u8>>,
    /// When the enrolment token lapses.
    pub enrolment_expires_at: Option<DateTime<Utc>>,
    /// Failed sign-ins in a row.
    pub failed_logins: i32,
    /// Locked until (after repeated failures).
    pub locked_until: Option<DateTime<Utc>>,
    /// Access ends by itself then.
    pub ends_at: DateTime<Utc>,
    /// Revoked when (access ended at once).
    pub revoked_at: Option<DateTime<Utc>>,
    /// Created when.
    pub created_at: DateTime<Utc>,
    /// Who created it (the CLI's `--operator`).
    pub created_by: String,
}

/// An operator's session: the bearer token's hash and its lifetimes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorSession {
    /// Its id.
    pub id: OperatorSessionId,
    /// Whose.
    pub operator_id: OperatorId,
    /// SHA-256 of the bearer token.
    pub token_hash: Vec<u8>,
    /// Signed in when.
    pub created_at: DateTime<Utc>,
    /// Last request.
    pub last_seen_at: DateTime<Utc>,
    /// Ends without activity then.
    pub idle_expires_at: DateTime<Utc>,
    /// Ends whatever happens then.
    pub absolute_expires_at: DateTime<Utc>,
    /// Signed out or revoked when.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Client address at sign-in.
    pub ip: Option<String>,
    /// User agent at sign-in.
    pub user_agent: Option<String>,
}

/// A clinic as an operator sees it: metadata and counts only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClinicSummary {
    /// Its id.
    pub id: ClinicId,
    /// Its name.
    pub name: String,
    /// Its plan.
    pub plan: String,
    /// Signed up when.
    pub created_at: DateTime<Utc>,
    /// Active members.
    pub members: i64,
    /// Patients (a count: no patient row reaches an operator).
    pub patients: i64,
    /// Whether its closure is asked for.
    pub closure_requested: bool,
}

/// Storage of operators, their sessions and the clinics' summaries.
pub trait OperatorsRepo {
    /// Adds an operator; false when the address is taken.
    fn insert_operator(&mut self, operator: &Operator) -> Result<bool, DomainError>;
    /// An operator by normalised address.
    fn operator_by_email(&mut self, email: &str) -> Result<Option<Operator>, DomainError>;
    /// The operator an enrolment token (its hash) was issued to.
    fn operator_by_enrolment(&mut self, token_hash: &[u8])
    -> Result<Option<Operator>, DomainError>;
    /// Every operator, by address.
    fn operators(&mut self) -> Result<Vec<Operator>, DomainError>;
    /// Writes an operator's changing fields (credentials, counters, end).
    fn update_operator(&mut self, operator: &Operator) -> Result<(), DomainError>;
    /// Accepts a TOTP step once: false when it (or a later one) was used.
    fn advance_operator_totp_step(
        &mut self,
        operator: OperatorId,
        step: i64,
    ) -> Result<bool, DomainError>;
    /// Opens a session.
    fn insert_operator_session(&mut self, session: &OperatorSession) -> Result<(), DomainError>;
    /// The session a bearer token (its hash) opens, with its operator.
    fn operator_session(
        &mut self,
        token_hash: &[u8],
    ) -> Result<Option<(OperatorSession, Operator)>, DomainError>;
    /// Records activity: a new last-seen time and idle expiry.
    fn touch_operator_session(
        &mut self,
        session: OperatorSessionId,
        now: DateTime<Utc>,
        idle_expires_at: DateTime<Utc>,
    ) -> Result<(), DomainError>;
    /// Ends one session.
    fn revoke_operator_session(
        &mut self,
        session: OperatorSessionId,
        now: DateTime<Utc>,
    ) -> Result<(), DomainError>;
    /// Ends every live session of an operator; how many.
    fn revoke_operator_sessions(
        &mut self,
        operator: OperatorId,
        now: DateTime<Utc>,
    ) -> Result<usize, DomainError>;
    /// Every clinic's summary (or only one), by name.
    fn clinic_summaries(
        &mut self,
        only: Option<ClinicId>,
    ) -> Result<Vec<ClinicSummary>, DomainError>;
}
