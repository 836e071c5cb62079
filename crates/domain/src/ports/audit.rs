//! What the audit trail needs from storage.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::DomainError;
use crate::audit::model::{AuditEvent, NewAuditEvent, Outcome};
use crate::ids::{AccountId, AuditEventId, ChainId, ClinicId, PatientId};

/// Where a page of events continues: an event's time, id and position. Clinic
/// lists (one chain) go by position; lists across chains by (time, id).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Cursor {
    /// The last event's time.
    pub at: DateTime<Utc>,
    /// The last event's id.
    pub id: AuditEventId,
    /// The last event's position in its chain.
    pub seq: i64,
}

/// Filters for listing a clinic's events, newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Acting account.
    pub actor: Option<AccountId>,
    /// Action code.
    pub action: Option<String>,
    /// Resource type.
    pub resource_type: Option<String>,
    /// Resource id.
    pub resource_id: Option<Uuid>,
    /// Outcome.
    pub outcome: Option<Outcome>,
    /// At or after.
    pub from: Option<DateTime<Utc>>,
    /// Before.
    pub to: Option<DateTime<Utc>>,
    /// Continue after this event, going back in time.
    pub before: Option<Cursor>,
    /// Page size.
    pub limit: i64,
}

/// A signed mark of a chain's head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The chain.
    pub chain_id: ChainId,
    /// The sealed position.
    pub seq: i64,
    /// The clinic, for clinic chains.
    pub clinic_id: Option<ClinicId>,
    /// The hash of the event at `seq`.
    pub hash: Vec<u8>,
    /// When it was sealed.
    pub sealed_at: DateTime<Utc>,
    /// The signing key's id.
    pub key_id: String,
    /// Ed25519 signature over the checkpoint's message.
    pub signature: Vec<u8>,
}

/// A chain's head as recorded at append time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    /// The chain.
    pub chain_id: ChainId,
    /// The clinic, for clinic chains.
    pub clinic_id: Option<ClinicId>,
    /// The last appended position.
    pub seq: i64,
    /// Its hash.
    pub hash: Vec<u8>,
    /// The last position sealed by a checkpoint.
    pub checkpointed_seq: i64,
}

/// A chain whose events wait for their positions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    /// The chain.
    pub chain: ChainId,
    /// Its clinic, for clinic chains (the scope the sequencer works in).
    pub clinic: Option<ClinicId>,
    /// How many events wait.
    pub events: i64,
    /// The oldest waiting event's time.
    pub oldest: DateTime<Utc>,
}

/// The position the sequencer gives an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// The event.
    pub id: AuditEventId,
    /// Its position in the chain.
    pub seq: i64,
    /// The hash before it.
    pub prev_hash: Vec<u8>,
    /// Its own hash.
    pub hash: Vec<u8>,
}

/// Audit storage, inside a transaction.
pub trait AuditRepo {
    /// Records an event, without a position (the sequencer gives it one): in
    /// this transaction, so the action fails if its event cannot be written.
    fn append_audit(&mut self, event: NewAuditEvent) -> Result<(), DomainError>;
    /// Records a read's event: the store writes reads in groups once this
    /// transaction has committed (group commit), and the transaction's outcome
    /// waits until the event is durable, so nothing read is served without it.
    fn append_read(&mut self, event: NewAuditEvent) -> Result<(), DomainError>;
    /// The chains with events waiting for a position (every clinic's).
    fn unsequenced_chains(&mut self) -> Result<Vec<Waiting>, DomainError>;
    /// A chain's head, locked until the transaction ends (`None` when the chain
    /// has none, or another transaction holds it and `skip_locked`).
    fn lock_chain_head(
        &mut self,
        chain: ChainId,
        skip_locked: bool,
    ) -> Result<Option<ChainHead>, DomainError>;
    /// Up to `limit` of the chain's committed events without a position, in
    /// the order they were recorded.
    fn unsequenced_events(
        &mut self,
        chain: ChainId,
        limit: i64,
    ) -> Result<Vec<NewAuditEvent>, DomainError>;
    /// Gives events their positions (in order) and moves the chain's head to
    /// the last of them; the head must be locked by this transaction.
    fn store_positions(
        &mut self,
        chain: ChainId,
        positions: &[Position],
    ) -> Result<(), DomainError>;
    /// A page of a clinic's events matching `filter`, newest first.
    fn audit_events(
        &mut self,
        clinic: ClinicId,
        filter: &AuditFilter,
    ) -> Result<Vec<AuditEvent>, DomainError>;
    /// Events touching a patient (as resource, or listed in a read's details),
    /// newest first.
    fn patient_audit_events(
        &mut self,
        clinic: ClinicId,
        patient: PatientId,
        before: Option<Cursor>,
        limit: i64,
    ) -> Result<Vec<AuditEvent>, DomainError>;
    /// A clinic's events about one record (`resource_type`, `resource_id`) with
    /// one of `actions`, newest first.
    fn resource_audit_events(
        &mut self,
        clinic: ClinicId,
        resource: (&str, Uuid),
        actions: &[&str],
        before: Option<Cursor>,
        limit: i64,
    ) -> Result<Vec<AuditEvent>, DomainError>;
    /// An account's platform events with one of `actions`, newest first.
    fn account_audit_events(
        &mut self,
        account: AccountId,
        actions: &[&str],
        before: Option<Cursor>,
        limit: i64,
    ) -> Result<Vec<AuditEvent>, DomainError>;
    /// Up to `limit` events of a chain after position `after`, in order.
    fn chain_events(
        &mut self,
        chain: ChainId,
        after: i64,
        limit: i64,
    ) -> Result<Vec<AuditEvent>, DomainError>;
    /// A chain's checkpoints, in order.
    fn checkpoints(&mut self, chain: ChainId) -> Result<Vec<Checkpoint>, DomainError>;
    /// Stores a checkpoint and records it on the chain's head.
    fn insert_checkpoint(&mut self, checkpoint: &Checkpoint) -> Result<(), DomainError>;
    /// Every chain's head (platform scope), or one clinic's.
    fn chain_heads(&mut self, clinic: Option<ClinicId>) -> Result<Vec<ChainHead>, DomainError>;
    /// Claims one chain whose maintenance is due (`FOR UPDATE SKIP LOCKED`) and
    /// pushes its next turn to `next`.
    fn claim_chain_maintenance(
        &mut self,
        now: DateTime<Utc>,
        next: DateTime<Utc>,
    ) -> Result<Option<ChainHead>, DomainError>;
    /// The last event of a chain older than `before`, when every event before it
    /// is older too (the prefix retention may remove).
    fn expired_prefix(
        &mut self,
        chain: ChainId,
        before: DateTime<Utc>,
    ) -> Result<Option<(i64, Vec<u8>)>, DomainError>;
    /// Removes a chain's events up to `seq` (the database refuses unless a
    /// checkpoint seals `seq` and the prefix is past retention); returns the count.
    fn purge_through(&mut self, chain: ChainId, seq: i64) -> Result<i64, DomainError>;
}
