//! The end of a clinic (promise D3): an owner asks for its closure (step-up),
//! members are told, a grace period lets the owner export or cancel, and at its
//! end (the closure job, or an operator's `salus clinic close --now`) one
//! transaction seals the clinic's audit chain, deletes every row of the clinic
//! in every schema (its keys with them: crypto-shredding of every copy), checks
//! by query that nothing remains, and issues a signed certificate of
//! destruction, kept in the destruction register outside the database and
//! emailed to the owners.

pub mod certificate;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::DomainError;
use crate::access::Permission;
use crate::actor::Actor;
use crate::audit::actions;
use crate::audit::export::hex;
use crate::audit::record::AuditRecord;
use crate::identity::model::{ClientInfo, Role};
use crate::ids::ClinicId;
use crate::ports::closure::{BackupHolding, Closure, TableRows};
use crate::shared::{Core, transactions};
use crate::store::{ClosureTx, Scope};
use certificate::{AuditHead, CLINIC_DESTROYED, Destruction, Signed, entry_name};

/// Closures the job executes per round at most (each is its own transaction).
const DUE_PER_ROUND: i64 = 10;

/// Who ends a clinic's grace period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Executor {
    /// The closure job, at the end of the grace period.
    GracePeriodEnded,
    /// An operator, before it (`salus clinic close ID --now`).
    Operator(String),
}

impl Executor {
    fn describe(&self) -> String {
        match self {
            Self::GracePeriodEnded => "grace period ended (closure job)".to_owned(),
            Self::Operator(who) => format!("operator {who} (salus clinic close --now)"),
        }
    }
}

/// Clinic closures and their certificates.
#[derive(Clone)]
pub struct Closures {
    core: Core,
}

impl Closures {
    /// The service over the shared core.
    pub fn new(core: Core) -> Self {
        Self { core }
    }

    transactions!(ClosureTx);

    /// Asks for the clinic's closure (`clinic.close`, step-up): destroyed when
    /// the grace period ends unless cancelled; every active member is emailed.
    pub fn request_closure(
        &self,
        actor: &Actor,
        client: &ClientInfo,
    ) -> Result<Closure, DomainError> {
        actor.require(Permission::ClinicClose)?;
        actor.require_step_up(self.core.now())?;
        let now = self.core.now();
        self.tx(Scope::Clinic(actor.clinic_id), |tx| {
            if tx.closure(actor.clinic_id)?.is_some() {
                return Err(DomainError::Conflict {
                    code: "closure_already_requested",
                    detail: "The clinic's closure is already asked; cancel it first to ask again."
                        .to_owned(),
                });
            }
            let email = tx
                .members(actor.clinic_id)?
                .into_iter()
                .find(|m| m.membership_id == actor.membership_id)
                .map(|m| m.email)
                .ok_or(DomainError::NotFound)?;
            let closure = Closure {
                clinic_id: actor.clinic_id,
                requested_by: actor.account_id,
                requested_by_email: email,
                requested_at: now,
                due_at: now + self.core.settings().closure_grace,
            };
            tx.insert_closure(&closure)?;
            self.core.audit(
                tx,
                AuditRecord::by(actor, actions::CLINIC_CLOSURE_REQUESTED)
                    .on("clinic", actor.clinic_id)
                    .detail("due_at", closure.due_at.to_rfc3339()),
                client,
            )?;
            let name = clinic_name(tx, actor.clinic_id)?;
            self.tell_members(
                tx,
                actor.clinic_id,
                &format!("{name} will be closed on {}", day(closure.due_at)),
                format!(
                    "An owner of {name} asked for the clinic's closure. On {} every record of \
                     the clinic (patients, appointments, notes, staff, the audit trail) will be \
                     deleted and its keys destroyed. Until then an owner can export the \
                     clinic's data or cancel the closure.",
                    closure.due_at.to_rfc3339()
                ),
            )?;
            Ok(closure)
        })
    }

    /// The clinic's closure, when one is asked (`clinic.read`).
    pub fn closure_status(&self, actor: &Actor) -> Result<Option<Closure>, DomainError> {
        actor.require(Permission::ClinicRead)?;
        self.tx(Scope::Clinic(actor.clinic_id), |tx| {
            tx.closure(actor.clinic_id)
        })
    }

    /// Withdraws the clinic's closure during its grace period (`clinic.close`,
    /// step-up); members are told.
    pub fn cancel_closure(&self, actor: &Actor, client: &ClientInfo) -> Result<(), DomainError> {
        actor.require(Permission::ClinicClose)?;
        actor.require_step_up(self.core.now())?;
        self.tx(Scope::Clinic(actor.clinic_id), |tx| {
            if tx.lock_closure(actor.clinic_id)?.is_none() || !tx.delete_closure(actor.clinic_id)? {
                return Err(DomainError::NotFound);
            }
            self.core.audit(
                tx,
                AuditRecord::by(actor, actions::CLINIC_CLOSURE_CANCELLED)
                    .on("clinic", actor.clinic_id),
                client,
            )?;
            let name = clinic_name(tx, actor.clinic_id)?;
            self.tell_members(
                tx,
                actor.clinic_id,
                &format!("The closure of {name} is cancelled"),
                format!(
                    "An owner of {name} cancelled the clinic's closure: nothing will be deleted."
                ),
            )
        })
    }

    /// Executes every closure whose grace period has ended (the closure job;
    /// each clinic in its own transaction, taken with `SKIP LOCKED` so nodes
    /// share the work): their certificates.
    pub fn execute_due_closures(&self) -> Result<Vec<Signed>, DomainError> {
        let now = self.core.now();
        let due = self.tx(Scope::Platform, |tx| tx.due_closures(now, DUE_PER_ROUND))?;
        let mut issued = Vec::new();
        for clinic in due {
            if let Some(signed) = self.execute(clinic, &Executor::GracePeriodEnded)? {
                issued.push(signed);
            }
        }
        Ok(issued)
    }

    /// Executes a clinic's closure now, before its grace period ends (an
    /// operator's command, recorded with who ran it). Refused when no closure
    /// is asked: an owner asks for it.
    pub fn close_now(&self, clinic: ClinicId, operator: &str) -> Result<Signed, DomainError> {
        let now = self.core.now();
        let asked = self.tx(Scope::Clinic(clinic), |tx| tx.set_closure_due(clinic, now))?;
        if !asked {
            return Err(DomainError::Conflict {
                code: "closure_not_requested",
                detail: format!(
                    "clinic {clinic} has no closure asked: an owner asks for it (POST /api/v1/clinic/closure)"
                ),
            });
        }
        self.execute(clinic, &Executor::Operator(operator.to_owned()))?
            .ok_or_else(|| DomainError::Conflict {
                code: "closure_in_progress",
                detail: format!("clinic {clinic}'s closure is being executed by another process"),
            })
    }

    /// Records that no backup holds a destroyed clinic any more (the second
    /// certificate, issued by the server after checking the repository) and
    /// emails it to the addresses the first one went to.
    pub fn deliver_backups_expired(
        &self,
        signed: &Signed,
        to: &[String],
    ) -> Result<(), DomainError> {
        self.tx(Scope::Platform, |tx| {
            self.core.audit(
                tx,
                AuditRecord::account(actions::CERTIFICATE_BACKUPS_EXPIRED, None)
                    .detail("certificate_id", signed.document["certificate_id"].clone())
                    .detail("clinic_id", signed.document["clinic_id"].clone()),
                &ClientInfo::default(),
            )?;
            let body = certificate_mail(
                "No backup of the clinic remains: the last backup that held its data has expired.",
                signed,
            )?;
            for address in to {
                self.core.email(
                    tx,
                    address,
                    "Certificate: no backup holds your clinic",
                    body.clone(),
                )?;
            }
            Ok(())
        })
    }

    /// One closure, in one transaction: none when it is not due (or another
    /// node holds it).
    fn execute(&self, clinic: ClinicId, by: &Executor) -> Result<Option<Signed>, DomainError> {
        let now = self.core.now();
        self.core
            .registering(|kept| self.execute_in(clinic, by, now, kept))
    }

    /// [`Closures::execute`]'s transaction; the register entry it keeps is noted
    /// in `kept`.
    fn execute_in(
        &self,
        clinic: ClinicId,
        by: &Executor,
        now: chrono::DateTime<chrono::Utc>,
        kept: &mut Vec<String>,
    ) -> Result<Option<Signed>, DomainError> {
        self.tx(Scope::Clinic(clinic), |tx| {
            let Some(closure) = tx.lock_closure(clinic)? else {
                return Ok(None);
            };
            if closure.due_at > now {
                return Ok(None);
            }
            let name = clinic_name(tx, clinic)?;
            let owners: Vec<String> = tx
                .members(clinic)?
                .into_iter()
                .filter(|m| m.active && m.role == Role::Owner)
                .map(|m| m.email)
                .collect();
            let keys_destroyed = match tx.clinic_keys(clinic)? {
                Some(w) => std::iter::once(key_id("data", &w.data))
                    .chain(w.retiring.iter().map(|(r, _)| key_id("data", r)))
                    .chain([key_id("index", &w.index)])
                    .collect(),
                None => Vec::new(),
            };
            self.core.audit(
                tx,
                AuditRecord::account(actions::CLINIC_CLOSURE_EXECUTED, None)
                    .in_clinic(Some(clinic))
                    .on("clinic", clinic)
                    .detail("executed_by", by.describe()),
                &ClientInfo::default(),
            )?;
            // Every event of the clinic committed so far takes its position, the
            // closure's last: the head the checkpoint seals.
            let last =
                crate::audit::sequencer::sequence_all(tx, clinic.into())?.ok_or_else(|| {
                    DomainError::Internal(format!("clinic {clinic} has no audit chain"))
                })?;
            tx.insert_checkpoint(&self.core.sealer().seal(
                last.chain_id,
                Some(clinic),
                last.seq,
                &last.hash,
                now,
            ))?;
            let rows_deleted = tx.destroy_clinic(clinic)?;
            let remains = tx.clinic_remains(clinic)?;
            if !remains.is_empty() {
                return Err(DomainError::Internal(format!(
                    "clinic {clinic} still has rows after its destruction: {}",
                    describe(&remains)
                )));
            }
            let certificate = Destruction {
                kind: CLINIC_DESTROYED.to_owned(),
                certificate_id: self.core.new_id::<uuid::Uuid>(),
                clinic_id: clinic.0,
                clinic_name: name,
                requested_by: closure.requested_by_email,
                requested_at: closure.requested_at,
                executed_by: by.describe(),
                executed_at: now,
                rows_deleted,
                keys_destroyed,
                audit_head: AuditHead {
                    seq: last.seq,
                    hash: hex(&last.hash),
                },
                last_backup: tx
                    .last_backup_before(now)?
                    .map(|(label, taken_at)| BackupHolding {
                        label,
                        taken_at,
                        expected_expiry: now + self.core.settings().backup_expiry_horizon,
                    }),
                sent_to: owners.clone(),
            };
            let signed = Signed::sign(self.core.sealer(), &certificate)?;
            self.core.audit(
                tx,
                AuditRecord::account(actions::CLINIC_DESTROYED, None)
                    .detail("clinic_id", clinic.0.to_string())
                    .detail("certificate_id", certificate.certificate_id.to_string())
                    .detail("audit_head_hash", certificate.audit_head.hash.clone())
                    .detail("executed_by", certificate.executed_by.clone()),
                &ClientInfo::default(),
            )?;
            let body = certificate_mail(
                &format!(
                    "Every record of {} was deleted and its keys destroyed on {}.",
                    certificate.clinic_name,
                    now.to_rfc3339()
                ),
                &signed,
            )?;
            for owner in &owners {
                self.core.email(
                    tx,
                    owner,
                    "Certificate of destruction of your clinic",
                    body.clone(),
                )?;
            }
            self.core.keep_entry(
                kept,
                &entry_name(now, CLINIC_DESTROYED, certificate.certificate_id),
                &signed.to_file()?,
            )?;
            Ok(Some(signed))
        })
    }

    fn tell_members(
        &self,
        tx: &mut dyn ClosureTx,
        clinic: ClinicId,
        subject: &str,
        body: String,
    ) -> Result<(), DomainError> {
        for member in tx.members(clinic)?.into_iter().filter(|m| m.active) {
            self.core.email(tx, &member.email, subject, body.clone())?;
        }
        Ok(())
    }
}

fn clinic_name(tx: &mut dyn ClosureTx, clinic: ClinicId) -> Result<String, DomainError> {
    Ok(tx.clinic(clinic)?.ok_or(DomainError::NotFound)?.name)
}

/// A destroyed key's name: its kind and the first 16 hex digits of the SHA-256
/// of its wrapped form (which names it without revealing anything).
fn key_id(kind: &str, wrapped: &[u8]) -> String {
    format!("{kind}:{}", &hex(&Sha256::digest(wrapped))[..16])
}

fn day(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d").to_string()
}

fn describe(rows: &[TableRows]) -> String {
    rows.iter()
        .map(|r| format!("{} ({})", r.table, r.rows))
        .collect::<Vec<_>>()
        .join(", ")
}

fn certificate_mail(summary: &str, signed: &Signed) -> Result<String, DomainError> {
    let file = String::from_utf8(signed.to_file()?)
        .map_err(|e| DomainError::Internal(format!("certificate: {e}")))?;
    Ok(format!(
        "{summary}\n\nThe signed certificate follows. Keep it: `salus certificate verify FILE` \
         checks it offline with the platform's public key.\n\n{file}"
    ))
}
