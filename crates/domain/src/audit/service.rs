//! Reading the audit trail back, and recording what the HTTP layer sees (refused
//! requests, probing for ids): permission first, clinic-scoped transactions.

use super::model::{AuditEvent, Outcome};
use super::record::AuditRecord;
use super::sequencer::{BATCH, SequenceRound, sequence};
use crate::access::Permission;
use crate::identity::model::ClientInfo;
use crate::ids::PatientId;
use crate::paging::{MAX_PAGE, Page};
use crate::ports::audit::{AuditFilter, Checkpoint, Cursor, Waiting};
use crate::shared::{Core, transactions};
use crate::store::Scope;
use crate::{Actor, DomainError};

/// The actions shown as a member's sign-in history.
pub const SIGN_IN_ACTIONS: &[&str] = &[
    crate::audit::actions::AUTH_LOGIN_SUCCEEDED,
    crate::audit::actions::AUTH_LOGIN_FAILED,
    crate::audit::actions::AUTH_ACCOUNT_LOCKED,
    crate::audit::actions::MFA_PASSED,
    crate::audit::actions::MFA_FAILED,
    crate::audit::actions::AUTH_REFRESH_TOKEN_REUSE,
];

/// A page of events, newest first, and where the next page starts.
pub type EventPage = Page<AuditEvent, Cursor>;

/// A page from events fetched with [`Page::fetch_size`], newest first.
fn page(events: Vec<AuditEvent>, limit: i64) -> EventPage {
    Page::from_rows(events, limit, |e| Cursor {
        at: e.event.occurred_at,
        id: e.event.id,
        seq: e.seq,
    })
}

/// One batch of a clinic's chain, for export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportBatch {
    /// Events in chain order.
    pub events: Vec<AuditEvent>,
}

/// A request the HTTP layer answered without reaching a service's write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answered<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// The route pattern (never the concrete path: no ids of other clinics).
    pub route: &'a str,
}

/// The audit trail read back (lists, access logs, exports) and kept (retention).
#[derive(Clone)]
pub struct Audit {
    pub(super) core: Core,
}

impl Audit {
    /// The service over the shared core.
    pub fn new(core: Core) -> Self {
        Self { core }
    }

    transactions!(pub(super) AuditTx);
    /// Records a refused request (403) with the reason and the missing permission.
    pub fn record_refusal(
        &self,
        actor: &Actor,
        reason: &'static str,
        missing: Option<&'static str>,
        request: Answered<'_>,
        client: &ClientInfo,
    ) -> Result<(), DomainError> {
        let mut record = AuditRecord::by(actor, crate::audit::actions::ACCESS_DENIED)
            .outcome(Outcome::Denied)
            .detail("reason", reason)
            .detail("method", request.method)
            .detail("route", request.route);
        if let Some(permission) = missing {
            record = record.detail("permission", permission);
        }
        self.tx(Scope::Clinic(actor.clinic_id), |tx| {
            self.core.audit(tx, record, client)
        })
    }

    /// Records a 404 on a route that names a record by id (probing for other
    /// clinics' ids shows as many of these).
    pub fn record_not_found(
        &self,
        actor: &Actor,
        request: Answered<'_>,
        client: &ClientInfo,
    ) -> Result<(), DomainError> {
        let record = AuditRecord::by(actor, crate::audit::actions::ACCESS_NOT_FOUND)
            .failed()
            .detail("method", request.method)
            .detail("route", request.route);
        self.tx(Scope::Clinic(actor.clinic_id), |tx| {
            self.core.audit(tx, record, client)
        })
    }

    /// Records an operator's action on the platform (a backup taken, listed or
    /// restored) as an event of the platform chain, in its own transaction; the
    /// command line that ran it stands as the client.
    pub fn record_operator_action(
        &self,
        action: &'static str,
        outcome: crate::audit::Outcome,
        details: serde_json::Map<String, serde_json::Value>,
        command: &str,
    ) -> Result<(), DomainError> {
        let mut record = AuditRecord::account(action, None).outcome(outcome);
        record.details = details;
        let client = ClientInfo {
            user_agent: Some(command.to_owned()),
            ..ClientInfo::default()
        };
        self.tx(Scope::Platform, |tx| self.core.audit(tx, record, &client))
    }

    /// The checkpoint sealer: its public keys go with exports, and the verifier
    /// checks checkpoints' signatures with it.
    pub fn sealer(&self) -> &crate::audit::seal::AuditSealer {
        self.core.sealer()
    }

    /// A page of the clinic's audit trail (`audit.read`).
    pub fn audit_events(
        &self,
        actor: &Actor,
        mut filter: AuditFilter,
    ) -> Result<EventPage, DomainError> {
        actor.require(Permission::AuditRead)?;
        let limit = filter.limit.clamp(1, MAX_PAGE);
        filter.limit = Page::<(), ()>::fetch_size(limit);
        self.settle(actor)?;
        self.tx(Scope::Clinic(actor.clinic_id), |tx| {
            Ok(page(tx.audit_events(actor.clinic_id, &filter)?, limit))
        })
    }

    /// Who read or changed a patient's record, and when (`audit.read`).
    pub fn patient_access_log(
        &self,
        actor: &Actor,
        patient: PatientId,
        before: Option<Cursor>,
        limit: i64,
    ) -> Result<EventPage, DomainError> {
        actor.require(Permission::AuditRead)?;
        let limit = limit.clamp(1, MAX_PAGE);
        self.settle(actor)?;
        self.tx(Scope::Clinic(actor.clinic_id), |tx| {
            tx.patient(actor.clinic_id, patient)?
                .ok_or(DomainError::NotFound)?;
            Ok(page(
                tx.patient_audit_events(
                    actor.clinic_id,
                    patient,
                    before,
                    Page::<(), ()>::fetch_size(limit),
                )?,
                limit,
            ))
        })
    }

    /// The member's own sign-in history: in this clinic, and attempts that named
    /// no clinic (wrong passwords, lock-outs).
    pub fn my_sign_ins(
        &self,
        actor: &Actor,
        before: Option<Cursor>,
        limit: i64,
    ) -> Result<EventPage, DomainError> {
        let limit = limit.clamp(1, MAX_PAGE);
        self.settle(actor)?;
        self.core.settle_audit(actor.account_id.into(), None)?;
        self.tx(Scope::Clinic(actor.clinic_id), |tx| {
            Ok(page(
                tx.account_audit_events(
                    actor.account_id,
                    SIGN_IN_ACTIONS,
                    before,
                    Page::<(), ()>::fetch_size(limit),
                )?,
                limit,
            ))
        })
    }

    /// Starts an export of the clinic's whole trail (`audit.export`, step-up):
    /// records it, and returns the clinic's checkpoints.
    pub fn start_audit_export(
        &self,
        actor: &Actor,
        format: &'static str,
        client: &ClientInfo,
    ) -> Result<Vec<Checkpoint>, DomainError> {
        actor.require(Permission::AuditExport)?;
        actor.require_step_up(self.core.now())?;
        self.tx(Scope::Clinic(actor.clinic_id), |tx| {
            self.core.audit(
                tx,
                AuditRecord::by(actor, crate::audit::actions::AUDIT_EXPORTED)
                    .detail("format", format),
                client,
            )
        })?;
        self.settle(actor)?;
        self.tx(Scope::Clinic(actor.clinic_id), |tx| {
            tx.checkpoints(actor.clinic_id.into())
        })
    }

    /// Gives every event of the actor's clinic committed so far its position.
    fn settle(&self, actor: &Actor) -> Result<(), DomainError> {
        self.core
            .settle_audit(actor.clinic_id.into(), Some(actor.clinic_id))
    }

    /// The next batch of the clinic's chain after position `after`
    /// (`audit.export`), each batch its own short transaction.
    pub fn audit_export_batch(
        &self,
        actor: &Actor,
        after: i64,
        limit: i64,
    ) -> Result<ExportBatch, DomainError> {
        actor.require(Permission::AuditExport)?;
        self.tx(Scope::Clinic(actor.clinic_id), |tx| {
            Ok(ExportBatch {
                events: tx.chain_events(actor.clinic_id.into(), after, limit.clamp(1, 5_000))?,
            })
        })
    }
}

/// The scope in which a chain's events are visible and its head may move.
fn scope_of(waiting: &Waiting) -> Scope {
    waiting.clinic.map_or(Scope::Platform, Scope::Clinic)
}

impl Audit {
    /// One round of the sequencer job: every chain with waiting events, each
    /// in its own transaction (in its clinic's scope), heads another node
    /// holds skipped.
    pub fn sequence_waiting(&self) -> Result<SequenceRound, DomainError> {
        self.sequence_round(true)
    }

    /// Every waiting event takes its position before this returns, waiting for
    /// heads other transactions hold: what the audit job does before it reads
    /// the chains (detectors, seals).
    pub fn sequence_everything(&self) -> Result<SequenceRound, DomainError> {
        self.sequence_round(false)
    }

    fn sequence_round(&self, skip_locked: bool) -> Result<SequenceRound, DomainError> {
        let chains = self.tx(Scope::Platform, |tx| tx.unsequenced_chains())?;
        let mut round = SequenceRound {
            chains: chains.len(),
            ..SequenceRound::default()
        };
        for waiting in chains {
            loop {
                match self.tx(scope_of(&waiting), |tx| {
                    sequence(tx, waiting.chain, skip_locked)
                })? {
                    None => {
                        round.skipped += 1;
                        break;
                    }
                    Some((n, _)) => {
                        round.sequenced += n;
                        if i64::try_from(n).unwrap_or(i64::MAX) < BATCH {
                            break;
                        }
                    }
                }
            }
        }
        Ok(round)
    }

    /// The chains whose events wait for a position, with the oldest's time.
    pub fn waiting_chains(&self) -> Result<Vec<Waiting>, DomainError> {
        self.tx(Scope::Platform, |tx| tx.unsequenced_chains())
    }
}
