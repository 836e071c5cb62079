//! The audit trail on PostgreSQL: appends serialised per chain by a row lock on
//! the chain's head (one statement, `audit_append`), reads filtered by row-level security, and the retention job's claim
//! (`FOR UPDATE SKIP LOCKED`) and purge (`audit.purge_through`, a function of the
//! audit role that checks the checkpoint and the retention period itself).

use chrono::{DateTime, Duration, Utc};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Int8, Timestamptz, Uuid as SqlUuid};
use salus_domain::DomainError;
use salus_domain::audit::{AuditEvent, NewAuditEvent, Outcome};
use salus_domain::ids::{
    AccountId, AuditEventId, ChainId, ClinicId, MembershipId, PatientId, SessionId,
};
use salus_domain::ports::audit::{AuditFilter, AuditRepo, ChainHead, Checkpoint, Cursor};
use uuid::Uuid;

use crate::audit_append::{AppendEvent, Appended};
use crate::schema::audit_chain_heads as heads;
use crate::schema::{checkpoints, events};
use crate::store::{PgTx, db_error};

/// The actions that name the patients a list showed (`details.patients`), as the
/// predicate of the index `events_listed_patients` lists them.
const LISTING_ACTIONS: &str =
    "'patient.list_read', 'patient.list_clinical_read', 'appointment.list_clinical_read'";

type Res<T> = Result<T, DomainError>;

/// How long a new chain waits for its first maintenance turn.
const FIRST_MAINTENANCE: Duration = Duration::hours(1);

#[derive(Queryable)]
struct EventRow {
    chain_id: Uuid,
    seq: i64,
    id: Uuid,
    clinic_id: Option<Uuid>,
    occurred_at: DateTime<Utc>,
    account_id: Option<Uuid>,
    membership_id: Option<Uuid>,
    session_id: Option<Uuid>,
    client_ip: Option<String>,
    user_agent: Option<String>,
    request_id: Option<String>,
    action: String,
    resource_type: Option<String>,
    resource_id: Option<Uuid>,
    outcome: String,
    details: String,
    prev_hash: Vec<u8>,
    hash: Vec<u8>,
}

impl EventRow {
    fn into_event(self) -> Res<AuditEvent> {
        let outcome = Outcome::parse(&self.outcome)
            .ok_or_else(|| DomainError::Internal(format!("unknown outcome {}", self.outcome)))?;
        Ok(AuditEvent {
            chain_id: ChainId(self.chain_id),
            seq: self.seq,
            event: NewAuditEvent {
                id: AuditEventId(self.id),
                clinic_id: self.clinic_id.map(ClinicId),
                occurred_at: self.occurred_at,
                account_id: self.account_id.map(AccountId),
                membership_id: self.membership_id.map(MembershipId),
                session_id: self.session_id.map(SessionId),
                client_ip: self.client_ip,
                user_agent: self.user_agent,
                request_id: self.request_id,
                action: self.action,
                resource_type: self.resource_type,
                resource_id: self.resource_id,
                outcome,
                details: self.details,
            },
            prev_hash: self.prev_hash,
            hash: self.hash,
        })
    }
}

fn to_events(rows: Vec<EventRow>) -> Res<Vec<AuditEvent>> {
    rows.into_iter().map(EventRow::into_event).collect()
}

/// The columns of a chain head row, in `HeadRow` order.
pub(crate) const HEAD_COLUMNS: (
    heads::chain_id,
    heads::clinic_id,
    heads::seq,
    heads::hash,
    heads::checkpointed_seq,
) = (
    heads::chain_id,
    heads::clinic_id,
    heads::seq,
    heads::hash,
    heads::checkpointed_seq,
);

/// A chain head row: chain, clinic, seq, hash, checkpointed seq.
pub(crate) type HeadRow = (Uuid, Option<Uuid>, i64, Vec<u8>, i64);

type CheckpointRow = (
    Uuid,
    i64,
    Option<Uuid>,
    Vec<u8>,
    DateTime<Utc>,
    String,
    Vec<u8>,
);

pub(crate) fn to_head((chain_id, clinic_id, seq, hash, checkpointed_seq): HeadRow) -> ChainHead {
    ChainHead {
        chain_id: ChainId(chain_id),
        clinic_id: clinic_id.map(ClinicId),
        seq,
        hash,
        checkpointed_seq,
    }
}

type Condition = Box<dyn BoxableExpression<events::table, diesel::pg::Pg, SqlType = Bool>>;

/// `seq < before.seq`: the cursor of one chain going back in time.
fn before_seq(before: Option<Cursor>) -> Condition {
    match before {
        Some(c) => Box::new(events::seq.lt(c.seq)),
        None => Box::new(sql::<Bool>("true")),
    }
}

/// `(occurred_at, id) < before`: the cursor across chains going back in time.
fn before_cursor(before: Option<Cursor>) -> Condition {
    match before {
        Some(Cursor { at, id, .. }) => Box::new(
            events::occurred_at
                .lt(at)
                .or(events::occurred_at.eq(at).and(events::id.lt(id.0))),
        ),
        None => Box::new(sql::<Bool>("true")),
    }
}

#[derive(QueryableByName)]
struct SeqHash {
    #[diesel(sql_type = Int8)]
    seq: i64,
    #[diesel(sql_type = diesel::sql_types::Bytea)]
    hash: Vec<u8>,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = Int8)]
    n: i64,
}

impl AuditRepo for PgTx<'_> {
    fn append_audit(&mut self, event: NewAuditEvent) -> Res<AuditEvent> {
        let appended: Appended = AppendEvent::new(&event, event.occurred_at + FIRST_MAINTENANCE)
            .get_result(self.conn)
            .map_err(db_error)?;
        Ok(AuditEvent {
            chain_id: event.chain_id(),
            seq: appended.seq,
            event,
            prev_hash: appended.prev_hash,
            hash: appended.hash,
        })
    }

    fn audit_events(&mut self, clinic: ClinicId, f: &AuditFilter) -> Res<Vec<AuditEvent>> {
        let mut q = events::table
            .filter(events::chain_id.eq(clinic.0))
            .filter(events::clinic_id.eq(clinic.0))
            .filter(before_seq(f.before))
            .into_boxed();
        if let Some(actor) = f.actor {
            q = q.filter(events::account_id.eq(actor.0));
        }
        if let Some(action) = &f.action {
            q = q.filter(events::action.eq(action.clone()));
        }
        if let Some(kind) = &f.resource_type {
            q = q.filter(events::resource_type.eq(kind.clone()));
        }
        if let Some(id) = f.resource_id {
            q = q.filter(events::resource_id.eq(id));
        }
        if let Some(outcome) = f.outcome {
            q = q.filter(events::outcome.eq(outcome.as_str()));
        }
        if let Some(from) = f.from {
            q = q.filter(events::occurred_at.ge(from));
        }
        if let Some(to) = f.to {
            q = q.filter(events::occurred_at.lt(to));
        }
        let rows = q
            .order(events::seq.desc())
            .limit(f.limit)
            .load::<EventRow>(self.conn)
            .map_err(db_error)?;
        to_events(rows)
    }

    fn patient_audit_events(
        &mut self,
        clinic: ClinicId,
        patient: PatientId,
        before: Option<Cursor>,
        limit: i64,
    ) -> Res<Vec<AuditEvent>> {
        // The list reads that showed the patient, through the index on their
        // `patients` detail (migration 000018: the same actions as its predicate).
        let listed = diesel::dsl::sql::<diesel::sql_types::Bool>(&format!(
            "(action IN ({LISTING_ACTIONS}) AND (details::jsonb -> 'patients') @> "
        ))
        .bind::<diesel::sql_types::Jsonb, _>(serde_json::json!([patient.to_string()]))
        .sql(")");
        let rows = events::table
            .filter(events::chain_id.eq(clinic.0))
            .filter(events::clinic_id.eq(clinic.0))
            .filter(events::resource_id.eq(patient.0).or(listed))
            .filter(before_seq(before))
            .order(events::seq.desc())
            .limit(limit)
            .load::<EventRow>(self.conn)
            .map_err(db_error)?;
        to_events(rows)
    }

    fn resource_audit_events(
        &mut self,
        clinic: ClinicId,
        (kind, id): (&str, Uuid),
        actions: &[&str],
        before: Option<Cursor>,
        limit: i64,
    ) -> Res<Vec<AuditEvent>> {
        let rows = events::table
            .filter(events::chain_id.eq(clinic.0))
            .filter(events::clinic_id.eq(clinic.0))
            .filter(events::resource_id.eq(id))
            .filter(events::resource_type.eq(kind))
            .filter(events::action.eq_any(actions.iter().map(|a| (*a).to_owned())))
            .filter(before_seq(before))
            .order(events::seq.desc())
            .limit(limit)
            .load::<EventRow>(self.conn)
            .map_err(db_error)?;
        to_events(rows)
    }

    fn account_audit_events(
        &mut self,
        account: AccountId,
        actions: &[&str],
        before: Option<Cursor>,
        limit: i64,
    ) -> Res<Vec<AuditEvent>> {
        let rows = events::table
            .filter(events::account_id.eq(account.0))
            .filter(events::action.eq_any(actions.iter().map(|a| (*a).to_owned())))
            .filter(before_cursor(before))
            .order((events::occurred_at.desc(), events::id.desc()))
            .limit(limit)
            .load::<EventRow>(self.conn)
            .map_err(db_error)?;
        to_events(rows)
    }

    fn chain_events(&mut self, chain: ChainId, after: i64, limit: i64) -> Res<Vec<AuditEvent>> {
        let rows = events::table
            .filter(events::chain_id.eq(chain.0))
            .filter(events::seq.gt(after))
            .order(events::seq)
            .limit(limit)
            .load::<EventRow>(self.conn)
            .map_err(db_error)?;
        to_events(rows)
    }

    fn checkpoints(&mut self, chain: ChainId) -> Res<Vec<Checkpoint>> {
        let rows: Vec<CheckpointRow> = checkpoints::table
            .filter(checkpoints::chain_id.eq(chain.0))
            .order(checkpoints::seq)
            .load(self.conn)
            .map_err(db_error)?;
        Ok(rows
            .into_iter()
            .map(
                |(chain_id, seq, clinic_id, hash, sealed_at, key_id, signature)| Checkpoint {
                    chain_id: ChainId(chain_id),
                    seq,
                    clinic_id: clinic_id.map(ClinicId),
                    hash,
                    sealed_at,
                    key_id,
                    signature,
                },
            )
            .collect())
    }

    fn insert_checkpoint(&mut self, c: &Checkpoint) -> Res<()> {
        diesel::insert_into(checkpoints::table)
            .values((
                checkpoints::chain_id.eq(c.chain_id.0),
                checkpoints::seq.eq(c.seq),
                checkpoints::clinic_id.eq(c.clinic_id.map(|c| c.0)),
                checkpoints::hash.eq(&c.hash),
                checkpoints::sealed_at.eq(c.sealed_at),
                checkpoints::key_id.eq(&c.key_id),
                checkpoints::signature.eq(&c.signature),
            ))
            .on_conflict_do_nothing()
            .execute(self.conn)
            .map_err(db_error)?;
        diesel::update(
            heads::table
                .find(c.chain_id.0)
                .filter(heads::checkpointed_seq.lt(c.seq)),
        )
        .set(heads::checkpointed_seq.eq(c.seq))
        .execute(self.conn)
        .map(|_| ())
        .map_err(db_error)
    }

    fn chain_heads(&mut self, clinic: Option<ClinicId>) -> Res<Vec<ChainHead>> {
        let mut q = heads::table
            .select(HEAD_COLUMNS)
            .order(heads::chain_id)
            .into_boxed();
        if let Some(clinic) = clinic {
            q = q.filter(heads::clinic_id.eq(clinic.0));
        }
        let rows: Vec<HeadRow> = q.load(self.conn).map_err(db_error)?;
        Ok(rows.into_iter().map(to_head).collect())
    }

    fn claim_chain_maintenance(
        &mut self,
        now: DateTime<Utc>,
        next: DateTime<Utc>,
    ) -> Res<Option<ChainHead>> {
        let row: Option<HeadRow> = heads::table
            .select(HEAD_COLUMNS)
            .filter(heads::next_maintenance_at.le(now))
            .order(heads::next_maintenance_at)
            .limit(1)
            .for_update()
            .skip_locked()
            .first(self.conn)
            .optional()
            .map_err(db_error)?;
        let Some(row) = row else { return Ok(None) };
        diesel::update(heads::table.find(row.0))
            .set(heads::next_maintenance_at.eq(next))
            .execute(self.conn)
            .map_err(db_error)?;
        Ok(Some(to_head(row)))
    }

    fn expired_prefix(
        &mut self,
        chain: ChainId,
        before: DateTime<Utc>,
    ) -> Res<Option<(i64, Vec<u8>)>> {
        let found: Option<SeqHash> = diesel::sql_query(
            "SELECT e.seq, e.hash FROM audit.events e
              WHERE e.chain_id = $1 AND e.occurred_at < $2
                AND e.seq < coalesce((SELECT min(n.seq) FROM audit.events n
                                       WHERE n.chain_id = $1 AND n.occurred_at >= $2),
                                     9223372036854775807)
              ORDER BY e.seq DESC LIMIT 1",
        )
        .bind::<SqlUuid, _>(chain.0)
        .bind::<Timestamptz, _>(before)
        .get_result(self.conn)
        .optional()
        .map_err(db_error)?;
        Ok(found.map(|f| (f.seq, f.hash)))
    }

    fn purge_through(&mut self, chain: ChainId, seq: i64) -> Res<i64> {
        let removed: Count = diesel::sql_query("SELECT audit.purge_through($1, $2) AS n")
            .bind::<SqlUuid, _>(chain.0)
            .bind::<Int8, _>(seq)
            .get_result(self.conn)
            .map_err(db_error)?;
        Ok(removed.n)
    }
}

#[cfg(test)]
mod tests {
    /// The listing actions the access log looks up (and the index's predicate in
    /// migration 000018 names) are actions of the catalogue.
    #[test]
    fn the_listing_actions_are_catalogued() {
        let names: Vec<&str> = super::LISTING_ACTIONS
            .split(',')
            .map(|n| n.trim().trim_matches('\''))
            .collect();
        assert_eq!(names.len(), 3);
        for name in names {
            assert!(
                salus_domain::audit::actions::ALL
                    .iter()
                    .any(|(c, _)| *c == name),
                "{name} is not an action"
            );
        }
    }
}
