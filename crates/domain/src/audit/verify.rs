//! Verifying the trail: every chain recomputed from its first kept event (the
//! genesis, or a signed checkpoint when older events were purged) to its head.

use std::collections::HashMap;

use super::chain::{Break, ChainWalk, GENESIS};
use super::seal::AuditSealer;
use crate::DomainError;
use crate::ids::ChainId;
use crate::ports::audit::{AuditRepo, ChainHead};

/// Events read per query.
const PAGE: i64 = 5_000;

/// The outcome for one chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// The chain.
    pub chain_id: ChainId,
    /// Events checked.
    pub events: i64,
    /// The first problem, if any.
    pub broken: Option<Break>,
}

fn broken(chain: ChainId, seq: i64, reason: impl Into<String>) -> Break {
    Break {
        chain_id: chain,
        seq,
        event_id: None,
        reason: reason.into(),
    }
}

/// Verifies one chain against its recorded head.
pub fn verify_chain(
    repo: &mut dyn AuditRepo,
    sealer: &AuditSealer,
    head: &ChainHead,
) -> Result<ChainReport, DomainError> {
    let chain = head.chain_id;
    let mut report = ChainReport {
        chain_id: chain,
        events: 0,
        broken: None,
    };
    let checkpoints = repo.checkpoints(chain)?;
    if let Some(bad) = checkpoints.iter().find(|c| !sealer.verify(c)) {
        report.broken = Some(broken(
            chain,
            bad.seq,
            "a checkpoint's signature does not verify",
        ));
        return Ok(report);
    }
    let sealed: HashMap<i64, &[u8]> = checkpoints
        .iter()
        .map(|c| (c.seq, c.hash.as_slice()))
        .collect();
    let mut page = repo.chain_events(chain, 0, PAGE)?;
    let Some(first) = page.first() else {
        let reason = "every event of the chain is missing";
        report.broken = (head.seq > 0 && sealed.get(&head.seq) != Some(&head.hash.as_slice()))
            .then(|| broken(chain, 1, reason));
        return Ok(report);
    };
    let mut walk = if first.seq == 1 {
        ChainWalk::new(chain, 0, &GENESIS)
    } else if let Some(hash) = sealed.get(&(first.seq - 1)) {
        ChainWalk::new(chain, first.seq - 1, hash)
    } else {
        report.broken = Some(broken(
            chain,
            first.seq,
            format!(
                "events before {} are missing and no checkpoint seals them",
                first.seq
            ),
        ));
        return Ok(report);
    };
    loop {
        for e in &page {
            if let Err(b) = walk.step(e) {
                report.broken = Some(b);
                return Ok(report);
            }
            if sealed.get(&e.seq).is_some_and(|h| *h != e.hash.as_slice()) {
                report.broken = Some(broken(
                    chain,
                    e.seq,
                    "the event differs from what a signed checkpoint sealed",
                ));
                return Ok(report);
            }
            report.events += 1;
        }
        let Some(last) = page.last().map(|e| e.seq) else {
            break;
        };
        page = repo.chain_events(chain, last, PAGE)?;
        if page.is_empty() {
            break;
        }
    }
    let (last_seq, last_hash) = walk.head();
    let newest_sealed = checkpoints.iter().map(|c| c.seq).max().unwrap_or(0);
    if last_seq < head.seq.max(newest_sealed) || (last_seq == head.seq && last_hash != head.hash) {
        report.broken = Some(broken(
            chain,
            last_seq + 1,
            format!(
                "the chain ends at {last_seq} but its head records {}: its last events are missing",
                head.seq.max(newest_sealed)
            ),
        ));
    }
    Ok(report)
}
