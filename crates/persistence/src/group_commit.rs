//! Group commit of read events: every read of patient data is recorded, but a
//! read should not pay a durable commit of its own. A transaction that read
//! leaves its events with the store ([`crate::store::PgTx`] keeps them); once it
//! has committed, the store hands them to the writer here and waits. The writer
//! (one thread per store) takes whatever has queued meanwhile, up to
//! [`MAX_EVENTS`], inserts it in one transaction (one statement per clinic, in
//! that clinic's scope for row-level security) and answers every waiting caller
//! with the commit's outcome. Under load, many reads share one commit; alone, a
//! read waits for one commit as before. Nothing read is served before its event
//! is durable: a failed group fails every read in it.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};

use diesel::Connection;
use diesel::RunQueryDsl;
use salus_domain::DomainError;
use salus_domain::audit::NewAuditEvent;
use salus_domain::ids::ClinicId;

use crate::DbPool;
use crate::audit_append::AppendEvents;
use crate::errors::db_error;
use crate::pool::checkout;
use crate::scope::set_scope;

/// The most events one group commits.
pub const MAX_EVENTS: usize = 2_000;

/// Events to write, and where to answer once they are durable (or not).
struct Submission {
    events: Vec<NewAuditEvent>,
    done: SyncSender<Result<(), String>>,
}

/// The queue in front of the writer thread.
pub struct GroupCommit {
    queue: Mutex<Sender<Submission>>,
}

impl GroupCommit {
    /// Starts the writer over `pool`; it ends when the last handle is dropped.
    pub fn start(pool: DbPool) -> std::io::Result<Self> {
        let (queue, submissions) = mpsc::channel();
        std::thread::Builder::new()
            .name("audit-group-commit".to_owned())
            .spawn(move || writer(&pool, &submissions))?;
        Ok(Self {
            queue: Mutex::new(queue),
        })
    }

    /// Writes `events` with whatever else is queued, and returns once they are
    /// committed: `Unavailable` when they could not be.
    pub fn write(&self, events: Vec<NewAuditEvent>) -> Result<(), DomainError> {
        let (done, outcome) = mpsc::sync_channel(1);
        let unavailable = |cause: String| DomainError::Unavailable {
            what: "audit trail",
            cause,
        };
        self.queue
            .lock()
            .map_err(|_| unavailable("the group commit's queue is poisoned".into()))?
            .send(Submission { events, done })
            .map_err(|_| unavailable("the group commit's writer has stopped".into()))?;
        outcome
            .recv()
            .map_err(|_| unavailable("the group commit's writer has stopped".into()))?
            .map_err(unavailable)
    }
}

/// The writer: one group per turn, each caller answered with its outcome.
fn writer(pool: &DbPool, submissions: &Receiver<Submission>) {
    while let Ok(first) = submissions.recv() {
        let mut count = first.events.len();
        let mut group = vec![first];
        while count < MAX_EVENTS {
            match submissions.try_recv() {
                Ok(next) => {
                    count += next.events.len();
                    group.push(next);
                }
                Err(_) => break,
            }
        }
        let outcome = commit(pool, &group).map_err(|e| {
            tracing::warn!(error = %e, events = count, "audit group commit failed");
            e.to_string()
        });
        for submission in group {
            // A caller that stopped waiting has nothing left to serve.
            let _ = submission.done.send(outcome.clone());
        }
    }
}

/// One transaction: each clinic's events in one statement, in its scope.
fn commit(pool: &DbPool, group: &[Submission]) -> Result<(), DomainError> {
    let mut by_clinic: BTreeMap<Option<ClinicId>, Vec<&NewAuditEvent>> = BTreeMap::new();
    for event in group.iter().flat_map(|s| &s.events) {
        by_clinic.entry(event.clinic_id).or_default().push(event);
    }
    let mut conn = checkout(pool)?;
    conn.transaction(|conn| {
        for (clinic, events) in &by_clinic {
            let scope = clinic.map(|c| c.to_string()).unwrap_or_default();
            set_scope(conn, "app.clinic_id", &scope)?;
            AppendEvents::new(events.iter().copied()).execute(conn)?;
        }
        Ok(())
    })
    .map_err(db_error)
}
