//! Keeping the trail: each chain, in turn, gets a signed checkpoint at its head and
//! loses the events older than twelve months (after a checkpoint seals the last of
//! them, so what remains still verifies). Chains are claimed with
//! `FOR UPDATE SKIP LOCKED`, so every node may run the job.

use chrono::{DateTime, Duration, Months, Utc};

use super::seal::AuditSealer;
use crate::DomainError;
use crate::audit::service::Audit;
use crate::ports::audit::{AuditRepo, ChainHead};
use crate::store::Scope;

/// How long events are kept.
pub const RETENTION: Months = Months::new(12);

/// How often each chain is sealed and purged.
pub const MAINTENANCE_EVERY: Duration = Duration::hours(1);

/// What one chain's turn did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainMaintenance {
    /// The chain.
    pub chain: ChainHead,
    /// Events removed.
    pub purged: i64,
    /// Whether a checkpoint was sealed at the head.
    pub sealed_head: bool,
}

/// The oldest time an event may have and be kept, at `now`.
pub fn retention_cutoff(now: DateTime<Utc>) -> DateTime<Utc> {
    now.checked_sub_months(RETENTION).unwrap_or(now)
}

/// Removes a chain's events older than the retention period, after sealing the
/// last of them in a checkpoint; returns how many were removed.
pub fn retire_expired(
    repo: &mut dyn AuditRepo,
    sealer: &AuditSealer,
    chain: &ChainHead,
    now: DateTime<Utc>,
) -> Result<i64, DomainError> {
    let Some((seq, hash)) = repo.expired_prefix(chain.chain_id, retention_cutoff(now))? else {
        return Ok(0);
    };
    repo.insert_checkpoint(&sealer.seal(chain.chain_id, chain.clinic_id, seq, &hash, now))?;
    repo.purge_through(chain.chain_id, seq)
}

impl Audit {
    /// Claims one chain whose turn has come and maintains it; `None` when no chain
    /// is due. Each chain is its own pair of short transactions.
    pub fn maintain_next_audit_chain(&self) -> Result<Option<ChainMaintenance>, DomainError> {
        let now = self.core.now();
        let claimed = self.tx(Scope::Platform, |tx| {
            tx.claim_chain_maintenance(now, now + MAINTENANCE_EVERY)
        })?;
        let Some(chain) = claimed else {
            return Ok(None);
        };
        let scope = chain.clinic_id.map_or(Scope::Platform, Scope::Clinic);
        self.tx(scope, |tx| {
            let purged = retire_expired(tx, self.core.sealer(), &chain, now)?;
            let sealed_head = chain.seq > chain.checkpointed_seq;
            if sealed_head {
                tx.insert_checkpoint(&self.core.sealer().seal(
                    chain.chain_id,
                    chain.clinic_id,
                    chain.seq,
                    &chain.hash,
                    now,
                ))?;
            }
            Ok(ChainMaintenance {
                chain: chain.clone(),
                purged,
                sealed_head,
            })
        })
        .map(Some)
    }

    /// Maintains every chain that is due; returns what was done.
    pub fn maintain_audit_chains(&self) -> Result<Vec<ChainMaintenance>, DomainError> {
        let mut done = Vec::new();
        while let Some(turn) = self.maintain_next_audit_chain()? {
            done.push(turn);
        }
        Ok(done)
    }
}
