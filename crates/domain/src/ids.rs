//! Newtype identifiers (UUIDv7), so one kind of id cannot be passed for another.
//!
//! Each serialises as the plain UUID string (`#[serde(transparent)]`), so ids
//! inside sealed cursors and the audit chain's canonical encoding keep their shape.
//! The inner UUID is reached (`.0`, [`uuid`](AccountId::uuid)) only at the edges:
//! the database rows and the HTTP DTOs.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta] $name:ident),* $(,)?) => {$(
        #[$doc]
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// The underlying UUID.
            pub fn uuid(self) -> Uuid {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }
    )*};
}

id_type!(
    /// A person's account (platform-wide).
    AccountId,
    /// A clinic: the tenant.
    ClinicId,
    /// An account's membership of one clinic.
    MembershipId,
    /// A signed-in session inside one clinic.
    SessionId,
    /// A patient of one clinic.
    PatientId,
    /// An appointment.
    AppointmentId,
    /// One recorded change of an appointment (its history row).
    HistoryEntryId,
    /// A clinical note (drafts, signed notes and amendments).
    NoteId,
    /// An entry of the day's waiting-room queue.
    QueueEntryId,
    /// A clinic's custom role.
    RoleId,
    /// A platform operator (not a clinic member).
    OperatorId,
    /// An operator's signed-in session.
    OperatorSessionId,
    /// An invitation to join a clinic.
    InvitationId,
    /// A practitioner's time off.
    AbsenceId,
    /// A sign-up waiting for its email to be confirmed.
    SignUpId,
    /// An audit hash chain: a clinic's, an account's, or the platform's (nil).
    ChainId,
    /// One audit event.
    AuditEventId,
    /// A security alert.
    AlertId,
    /// A message in the outbox (emails, text messages, reminders).
    OutboxMessageId,
    /// A patient's erasure request (GDPR article 17).
    ErasureRequestId,
    /// A known vulnerability of a dependency (a finding of `salus vuln import`).
    VulnerabilityId,
    /// An incident of the platform's register (declared by an operator).
    IncidentId,
    /// A piece of evidence an incident preserved (one clinic's audit export hash).
    EvidenceId,
    /// A clinic's webhook endpoint.
    WebhookEndpointId,
    /// A webhook event: the `webhook-id` receivers see (every endpoint, every attempt).
    WebhookEventId,
    /// A clinic's service account (a machine caller acting through API keys).
    ServiceAccountId,
    /// An API key of a service account.
    ApiKeyId,
);

impl ChainId {
    /// The platform's chain: events with neither clinic nor account.
    pub const PLATFORM: ChainId = ChainId(Uuid::nil());
}

impl From<ClinicId> for ChainId {
    /// A clinic's chain has the clinic's id.
    fn from(clinic: ClinicId) -> Self {
        Self(clinic.0)
    }
}

impl From<AccountId> for ChainId {
    /// An account's platform chain has the account's id.
    fn from(account: AccountId) -> Self {
        Self(account.0)
    }
}
