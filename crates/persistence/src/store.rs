//! The domain's `Store`: one transaction per unit of work, scoped to a clinic with
//! `set_config('app.clinic_id', .., true)` (transaction-local) for row-level security.

use std::sync::{Arc, Mutex};

use diesel::connection::{AnsiTransactionManager, TransactionManager};

use diesel::prelude::*;
use diesel::result::Error as DieselError;
use salus_domain::DomainError;
use salus_domain::audit::NewAuditEvent;
use salus_domain::crypto::KeysFingerprint;
use salus_domain::ids::ClinicId;
use salus_domain::store::{Scope, Store, Tx};

use crate::DbPool;
pub use crate::errors::db_error;
use crate::group_commit::GroupCommit;
use crate::pool::PooledConn;
use crate::scope::set_scope;

/// A transaction's connection, on which the repositories run.
pub struct PgTx<'a> {
    /// The connection, inside an open transaction.
    pub conn: &'a mut PgConnection,
    /// Where read events wait for the group commit after this transaction
    /// commits; without it (tools, tests driving a bare connection) they are
    /// inserted in the transaction itself.
    reads: Option<&'a mut Vec<NewAuditEvent>>,
    /// The fingerprint of a clinic's stored keys as this transaction read them
    /// (with the session check), until it writes keys.
    seen_keys: SeenKeys,
}

/// A clinic's keys' fingerprint as a transaction read it (`None` inside: the
/// clinic had none).
type SeenKeys = Option<(ClinicId, Option<KeysFingerprint>)>;

impl<'a> PgTx<'a> {
    /// A transaction on `conn` that records read events itself.
    pub fn new(conn: &'a mut PgConnection) -> Self {
        Self {
            conn,
            reads: None,
            seen_keys: None,
        }
    }

    /// Notes the fingerprint of the clinic's stored keys, as read now.
    pub(crate) fn saw_keys(&mut self, clinic: ClinicId, fingerprint: Option<KeysFingerprint>) {
        self.seen_keys = Some((clinic, fingerprint));
    }

    /// The fingerprint of the clinic's keys this transaction read, if it did
    /// (`Some(None)`: it saw none).
    pub(crate) fn seen_keys(&self, clinic: ClinicId) -> Option<Option<KeysFingerprint>> {
        self.seen_keys
            .filter(|(seen, _)| *seen == clinic)
            .map(|(_, fingerprint)| fingerprint)
    }

    /// Forgets what it read of keys (it is writing them).
    pub(crate) fn keys_changed(&mut self) {
        self.seen_keys = None;
    }

    /// The read events to group-commit after this transaction, when the store
    /// does that; `None` means they go into the transaction.
    pub(crate) fn deferred_reads(&mut self) -> Option<&mut Vec<NewAuditEvent>> {
        self.reads.as_deref_mut()
    }
}

/// The PostgreSQL store.
#[derive(Clone)]
pub struct PgStore {
    pool: DbPool,
    reads: Arc<GroupCommit>,
}

impl PgStore {
    /// A store over this pool, with its group commit of read events.
    pub fn new(pool: DbPool) -> std::io::Result<Self> {
        Ok(Self {
            reads: Arc::new(GroupCommit::start(pool.clone())?),
            pool,
        })
    }

    /// Group-commits the read events a transaction left, and waits for them.
    fn write_reads(&self, reads: Vec<NewAuditEvent>) -> Result<(), DomainError> {
        if reads.is_empty() {
            return Ok(());
        }
        self.reads.write(reads)
    }
}

enum TxError {
    Domain(DomainError),
    Db(DieselError),
}

impl From<DieselError> for TxError {
    fn from(e: DieselError) -> Self {
        Self::Db(e)
    }
}

impl Store for PgStore {
    fn run(
        &self,
        scope: Scope,
        work: &mut dyn FnMut(&mut dyn Tx) -> Result<(), DomainError>,
    ) -> Result<(), DomainError> {
        let mut reads = Vec::new();
        {
            let mut conn = crate::pool::checkout(&self.pool)?;
            settle(conn.transaction::<(), TxError, _>(|conn| {
                scoped(conn, scope, &mut reads, &mut None, work)
            }))?;
        }
        self.write_reads(reads)
    }

    fn run_snapshot(
        &self,
        scope: Scope,
        work: &mut dyn FnMut(&mut dyn Tx) -> Result<(), DomainError>,
    ) -> Result<(), DomainError> {
        let mut reads = Vec::new();
        {
            let mut conn = crate::pool::checkout(&self.pool)?;
            settle(
                conn.build_transaction()
                    .repeatable_read()
                    .read_only()
                    .run::<(), TxError, _>(|conn| scoped(conn, scope, &mut reads, &mut None, work)),
            )?;
        }
        self.write_reads(reads)
    }

    fn for_request(&self) -> Option<Arc<dyn Store>> {
        Some(Arc::new(PgRequestStore {
            store: self.clone(),
            held: Mutex::new(None),
        }))
    }
}

/// One request's store. [`Store::hold`] opens a transaction (the session
/// check) and leaves it open; the first [`Store::run`] in the same scope (the
/// service's first transaction) continues it and commits it as its own; every
/// other transaction runs as [`PgStore`] runs it. A request that never got to
/// such a run commits the held transaction when its store is dropped, so the
/// session's activity is kept.
pub struct PgRequestStore {
    store: PgStore,
    held: Mutex<Option<Held>>,
}

/// A transaction left open by [`Store::hold`].
struct Held {
    conn: PooledConn,
    scope: Scope,
    reads: Vec<NewAuditEvent>,
    seen_keys: SeenKeys,
}

impl Held {
    /// Ends the transaction: committed when `outcome` is `Ok`, else rolled back.
    fn end(mut self, outcome: Result<(), TxError>) -> Result<Vec<NewAuditEvent>, DomainError> {
        let conn: &mut PgConnection = &mut self.conn;
        let ended = match &outcome {
            Ok(()) => AnsiTransactionManager::commit_transaction(conn),
            Err(_) => AnsiTransactionManager::rollback_transaction(conn),
        };
        settle(outcome)?;
        ended.map_err(db_error)?;
        Ok(self.reads)
    }
}

impl PgRequestStore {
    fn take_held(&self) -> Option<Held> {
        self.held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }

    /// Commits a held transaction the request no longer continues.
    fn release(&self) -> Result<(), DomainError> {
        match self.take_held() {
            Some(held) => {
                let reads = held.end(Ok(()))?;
                self.store.write_reads(reads)
            }
            None => Ok(()),
        }
    }
}

impl Store for PgRequestStore {
    fn run(
        &self,
        scope: Scope,
        work: &mut dyn FnMut(&mut dyn Tx) -> Result<(), DomainError>,
    ) -> Result<(), DomainError> {
        match self.take_held() {
            Some(mut held) if held.scope == scope => {
                let outcome = {
                    let mut tx = PgTx {
                        conn: &mut held.conn,
                        reads: Some(&mut held.reads),
                        seen_keys: held.seen_keys.take(),
                    };
                    work(&mut tx).map_err(TxError::Domain)
                };
                let reads = held.end(outcome)?;
                self.store.write_reads(reads)
            }
            Some(held) => {
                let reads = held.end(Ok(()))?;
                self.store.write_reads(reads)?;
                self.store.run(scope, work)
            }
            None => self.store.run(scope, work),
        }
    }

    fn run_snapshot(
        &self,
        scope: Scope,
        work: &mut dyn FnMut(&mut dyn Tx) -> Result<(), DomainError>,
    ) -> Result<(), DomainError> {
        self.release()?;
        self.store.run_snapshot(scope, work)
    }

    fn hold(
        &self,
        scope: Scope,
        work: &mut dyn FnMut(&mut dyn Tx) -> Result<(), DomainError>,
    ) -> Result<(), DomainError> {
        self.release()?;
        let mut conn = crate::pool::checkout(&self.store.pool)?;
        AnsiTransactionManager::begin_transaction(&mut *conn).map_err(db_error)?;
        let mut reads = Vec::new();
        let mut seen_keys = None;
        let outcome = scoped(&mut conn, scope, &mut reads, &mut seen_keys, work);
        let held = Held {
            conn,
            scope,
            reads,
            seen_keys,
        };
        if outcome.is_err() {
            held.end(outcome)?;
            return Ok(());
        }
        *self
            .held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(held);
        Ok(())
    }
}

impl Drop for PgRequestStore {
    fn drop(&mut self) {
        if let Err(e) = self.release() {
            tracing::warn!(error = %e, "a request's held transaction could not be committed");
        }
    }
}

/// Sets the transaction's scope for row-level security, then runs `work`; the
/// read events it records are left in `reads`.
fn scoped(
    conn: &mut PgConnection,
    scope: Scope,
    reads: &mut Vec<NewAuditEvent>,
    seen_keys: &mut SeenKeys,
    work: &mut dyn FnMut(&mut dyn Tx) -> Result<(), DomainError>,
) -> Result<(), TxError> {
    let setting = match scope {
        Scope::Platform => None,
        Scope::Clinic(clinic) => Some(("app.clinic_id", clinic.to_string())),
        Scope::Account(account) => Some(("app.account_id", account.to_string())),
    };
    if let Some((name, value)) = setting {
        set_scope(conn, name, &value)?;
    }
    let mut tx = PgTx {
        conn,
        reads: Some(reads),
        seen_keys: None,
    };
    let outcome = work(&mut tx).map_err(TxError::Domain);
    *seen_keys = tx.seen_keys;
    outcome
}

/// The transaction's outcome as the domain's.
fn settle(result: Result<(), TxError>) -> Result<(), DomainError> {
    match result {
        Ok(()) => Ok(()),
        Err(TxError::Domain(e)) => Err(e),
        Err(TxError::Db(e)) => Err(db_error(e)),
    }
}
