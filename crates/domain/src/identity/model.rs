//! Identity entities.

use chrono::{DateTime, Utc};

use crate::ids::{AccountId, ClinicId, MembershipId, SessionId};

/// Roles are defined with the permissions they grant (`crate::access`).
pub use crate::access::Role;

/// A person's account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Its id.
    pub id: AccountId,
    /// Normalised email.
    pub email: String,
    /// When the email was verified.
    pub email_verified_at: Option<DateTime<Utc>>,
    /// Given name.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Consecutive failed sign-ins.
    pub failed_logins: i32,
    /// When the last failure happened.
    pub last_failed_login_at: Option<DateTime<Utc>>,
    /// Locked until then.
    pub locked_until: Option<DateTime<Utc>>,
    /// Sealed TOTP secret, once confirmed: the one sign-ins check.
    pub totp_secret: Option<Vec<u8>>,
    /// When TOTP was confirmed.
    pub totp_confirmed_at: Option<DateTime<Utc>>,
    /// The last TOTP step accepted (replay guard).
    pub totp_last_step: Option<i64>,
    /// E.164 phone number.
    pub phone: Option<String>,
    /// When the phone was verified.
    pub phone_verified_at: Option<DateTime<Utc>>,
    /// Sealed TOTP secret of an enrolment not confirmed yet (never checked at sign-in).
    pub totp_pending_secret: Option<Vec<u8>>,
}

/// A clinic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clinic {
    /// Its id.
    pub id: ClinicId,
    /// Its name.
    pub name: String,
    /// `free`, `pro` or `business`.
    pub plan: String,
    /// Idle timeout of its sessions (5 to 60 minutes).
    pub idle_timeout_minutes: i32,
    /// Whether every member must use MFA.
    pub require_mfa: bool,
    /// IANA time zone of working hours (`Europe/Paris`).
    pub time_zone: String,
    /// Reminders go out this many hours before an appointment.
    pub reminder_offset_hours: i32,
    /// Years a medical record is kept after the patient's last encounter (1 to
    /// 100; 20 by default): no erasure before.
    pub record_retention_years: i32,
    /// Years without an encounter after which a patient moves to the records
    /// archive (1 to 50; 5 by default).
    pub archive_after_years: i32,
    /// Whether every clinical read must state its purpose of use (off by
    /// default).
    pub purpose_of_use_required: bool,
    /// The settings' version (optimistic concurrency).
    pub version: i32,
}

/// An account's membership of a clinic, with the clinic's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembershipSummary {
    /// The membership.
    pub id: MembershipId,
    /// The clinic.
    pub clinic_id: ClinicId,
    /// The clinic's name.
    pub clinic_name: String,
    /// The role.
    pub role: Role,
}

/// A session row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Its id.
    pub id: SessionId,
    /// The clinic it acts in.
    pub clinic_id: ClinicId,
    /// The membership.
    pub membership_id: MembershipId,
    /// The account.
    pub account_id: AccountId,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last request seen.
    pub last_seen_at: DateTime<Utc>,
    /// Ends after this much inactivity.
    pub idle_expires_at: DateTime<Utc>,
    /// Ends at the latest then.
    pub absolute_expires_at: DateTime<Utc>,
    /// Revoked when.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Revoked why.
    pub revoked_reason: Option<String>,
    /// Client address at sign-in.
    pub ip: Option<String>,
    /// User agent at sign-in.
    pub user_agent: Option<String>,
    /// Last MFA check.
    pub mfa_at: Option<DateTime<Utc>>,
}

impl Session {
    /// Whether the session may serve a request at `now`.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && now < self.idle_expires_at && now < self.absolute_expires_at
    }
}

/// A session with what the per-request check needs, loaded in one query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionContext {
    /// The session.
    pub session: Session,
    /// The member's role.
    pub role: Role,
    /// Whether the membership is active.
    pub membership_active: bool,
    /// The clinic's idle timeout.
    pub idle_timeout_minutes: i32,
    /// The clinic's MFA requirement.
    pub clinic_requires_mfa: bool,
    /// Whether the clinic requires a purpose of use on clinical reads.
    pub purpose_of_use_required: bool,
    /// Whether the account has confirmed TOTP.
    pub mfa_enrolled: bool,
    /// Custom roles and overrides of the membership.
    pub extras: crate::access::Extras,
}

/// Where a request comes from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientInfo {
    /// Client address.
    pub ip: Option<String>,
    /// User agent (truncated).
    pub user_agent: Option<String>,
    /// The request's id (for the audit trail).
    pub request_id: Option<String>,
    /// Why the caller reads, when it said (`X-Purpose-Of-Use`).
    pub purpose_of_use: Option<crate::purpose::PurposeOfUse>,
}
