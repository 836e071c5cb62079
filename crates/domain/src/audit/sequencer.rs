//! The sequencer: chaining taken off the request path, as transparency logs do
//! (Trillian's sequencer, Certificate Transparency's merge delay).
//!
//! An action's transaction inserts its event without a position; a read's event
//! is inserted by the store's group commit before the answer leaves. Neither
//! waits for the chain's head. The sequencer (every node, every
//! `AUDIT_SEQUENCE_MILLIS`) takes each chain's head with a row lock (`SKIP
//! LOCKED`: nodes share chains, never one chain at once), gives the chain's
//! committed events without a position the next positions in the order they
//! were recorded (a database sequence, `arrival`: for requests one after the
//! other, the order they happened in, whatever the nodes' clocks say), computes
//! each hash from the one before (`chain::link_hash`, what `verify` recomputes)
//! and moves the head, in one transaction per chain. An event recorded by a
//! transaction that commits late takes a later position; each event keeps its
//! own time.
//!
//! Reads of a trail (lists, access logs, exports, the closure's seal) first
//! sequence the chain themselves ([`sequence_all`], waiting for the head), so they see
//! every event committed before them with its position. An event left without a
//! position past [`LATE_AFTER`] raises an alert (`audit::sequencing_watch`).

use chrono::Duration;

use super::chain::link_hash;
use crate::DomainError;
use crate::ids::ChainId;
use crate::ports::audit::{AuditRepo, ChainHead, Position};

/// Events positioned per transaction.
pub const BATCH: i64 = 2_000;

/// How long an event may wait for its position before it is late (an alert).
pub const LATE_AFTER: Duration = Duration::seconds(30);

/// Gives the chain's waiting events their positions, up to [`BATCH`], in the
/// caller's transaction: the head as it stands after, or `None` when
/// `skip_locked` and another transaction holds the head (or the chain has none).
pub fn sequence(
    tx: &mut dyn AuditRepo,
    chain: ChainId,
    skip_locked: bool,
) -> Result<Option<(usize, ChainHead)>, DomainError> {
    let Some(mut head) = tx.lock_chain_head(chain, skip_locked)? else {
        return Ok(None);
    };
    let waiting = tx.unsequenced_events(chain, BATCH)?;
    if waiting.is_empty() {
        return Ok(Some((0, head)));
    }
    let mut positions = Vec::with_capacity(waiting.len());
    for event in &waiting {
        let seq = head.seq + 1;
        let hash = link_hash(&head.hash, chain, seq, event);
        positions.push(Position {
            id: event.id,
            seq,
            prev_hash: std::mem::replace(&mut head.hash, hash.clone()),
            hash,
        });
        head.seq = seq;
    }
    tx.store_positions(chain, &positions)?;
    Ok(Some((positions.len(), head)))
}

/// Gives every waiting event of the chain its position, in the caller's
/// transaction, waiting for the head if another transaction holds it: the head
/// as it stands after (`None` for a chain without one).
pub fn sequence_all(
    tx: &mut dyn AuditRepo,
    chain: ChainId,
) -> Result<Option<ChainHead>, DomainError> {
    loop {
        match sequence(tx, chain, false)? {
            Some((n, head)) if i64::try_from(n).unwrap_or(i64::MAX) < BATCH => {
                return Ok(Some(head));
            }
            Some(_) => {}
            None => return Ok(None),
        }
    }
}

/// What one round of the sequencer did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SequenceRound {
    /// Chains that had waiting events.
    pub chains: usize,
    /// Events given a position.
    pub sequenced: usize,
    /// Chains skipped because another node held their head.
    pub skipped: usize,
}
