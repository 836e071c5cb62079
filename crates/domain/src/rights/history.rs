//! Rectification's trail: a patient record's changes read back from the audit
//! trail (registration, updates with the names of the fields they changed,
//! archiving, restriction), who made each and when. Never a value: the update
//! records field names only.

use chrono::{DateTime, Utc};

use super::PatientRights;
use crate::DomainError;
use crate::access::Permission;
use crate::actor::Actor;
use crate::audit::AuditEvent;
use crate::audit::actions::{
    PATIENT_ARCHIVED, PATIENT_CREATED, PATIENT_HISTORY_READ, PATIENT_PROCESSING_RESTRICTED,
    PATIENT_PROCESSING_RESUMED, PATIENT_RESTORED, PATIENT_UPDATED,
};
use crate::identity::model::ClientInfo;
use crate::ids::{AccountId, AuditEventId, MembershipId, PatientId};
use crate::paging::{MAX_PAGE, Page};
use crate::ports::audit::Cursor;
use crate::records;
use crate::store::Scope;

/// The actions that change a patient's record.
const CHANGES: &[&str] = &[
    PATIENT_CREATED,
    PATIENT_UPDATED,
    PATIENT_ARCHIVED,
    PATIENT_RESTORED,
    PATIENT_PROCESSING_RESTRICTED,
    PATIENT_PROCESSING_RESUMED,
];

/// One change of a patient's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeEntry {
    /// The audit event that records it.
    pub id: AuditEventId,
    /// When.
    pub at: DateTime<Utc>,
    /// The action code (`patient.updated`, ...).
    pub action: String,
    /// The acting account.
    pub account: Option<AccountId>,
    /// The acting membership.
    pub membership: Option<MembershipId>,
    /// The fields an update changed (names only); empty for the other actions.
    pub fields: Vec<String>,
}

impl From<AuditEvent> for ChangeEntry {
    fn from(e: AuditEvent) -> Self {
        let details: serde_json::Value = serde_json::from_str(&e.event.details).unwrap_or_default();
        let fields = details["fields"]
            .as_array()
            .map(|names| {
                names
                    .iter()
                    .filter_map(|n| n.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        Self {
            id: e.event.id,
            at: e.event.occurred_at,
            action: e.event.action,
            account: e.event.account_id,
            membership: e.event.membership_id,
            fields,
        }
    }
}

/// A page of changes, newest first, and where the next page starts.
pub type HistoryPage = Page<ChangeEntry, Cursor>;

impl PatientRights {
    /// The changes of a patient's record, newest first (`patients.read`).
    pub fn patient_history(
        &self,
        actor: &Actor,
        id: PatientId,
        before: Option<Cursor>,
        limit: i64,
        client: &ClientInfo,
    ) -> Result<HistoryPage, DomainError> {
        actor.require(Permission::PatientsRead)?;
        let limit = limit.clamp(1, MAX_PAGE);
        self.core
            .settle_audit(actor.clinic_id.into(), Some(actor.clinic_id))?;
        self.tx(Scope::Clinic(actor.clinic_id), |tx| {
            let state = tx.record_state(actor.clinic_id, id)?;
            records::require_active(state, || DomainError::NotFound)?;
            let events = tx.resource_audit_events(
                actor.clinic_id,
                ("patient", id.into()),
                CHANGES,
                before,
                Page::<(), ()>::fetch_size(limit),
            )?;
            let page = Page::from_rows(events, limit, |e| Cursor {
                at: e.event.occurred_at,
                id: e.event.id,
                seq: e.seq,
            });
            // Last, so the chain's head is locked only until the commit.
            self.core
                .audit_action(tx, actor, PATIENT_HISTORY_READ, ("patient", id), client)?;
            Ok(page.map(ChangeEntry::from))
        })
    }
}
