//! The audit trail on PostgreSQL: appends without a position (one statement,
//! `audit_append`; read events through the store's group commit), the
//! sequencer's head lock and positions, reads of positioned events filtered by
//! row-level security, and the retention job's claim
//! (`FOR UPDATE SKIP LOCKED`) and purge (`audit.purge_through`, a function of the
//! audit role that checks the checkpoint and the retention period itself).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, Bool, Bytea, Int8, Timestamptz, Uuid as SqlUuid};
use salus_domain::DomainError;
use salus_domain::audit::{AuditEvent, NewAuditEvent, Outcome};
use salus_domain::ids::{
    AccountId, AuditEventId, ChainId, ClinicId, MembershipId, PatientId, SessionId,
};
use salus_domain::ports::audit::{
    AuditFilter, AuditRepo, ChainHead, Checkpoint, Cursor, Position, Waiting,
};
use uuid::Uuid;

use crate::audit_append::AppendEvents;
use crate::cached::CacheStatement;
use crate::schema::audit_chain_heads as heads;
use crate::schema::{checkpoints, events};
use crate::store::{PgTx, db_error};

/// The actions that name the patients a list showed (`details.patients`), as the
/// predicate of the index `events_listed_patients` lists them.
const LISTING_ACTIONS: &str =
    "'patient.list_read', 'patient.list_clinical_read', 'appointment.list_clinical_read'";

type Res<T> = Result<T, DomainError>;

/// An event as stored (`arrival`, the sequencer's alone, left out).
#[derive(Queryable, Selectable)]
#[diesel(table_name = events)]
struct EventRow {
    chain_id: Uuid,
    seq: Option<i64>,
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
    prev_hash: Option<Vec<u8>>,
    hash: Option<Vec<u8>>,
}

/// An event's position as stored: (seq, prev_hash, hash), all `None` until the
/// sequencer gives it one.
type StoredPosition = (Option<i64>, Option<Vec<u8>>, Option<Vec<u8>>);

impl EventRow {
    /// The event as the domain knows it, without its position.
    fn into_new_event(self) -> Res<NewAuditEvent> {
        Ok(self.into_parts()?.1)
    }

    /// A positioned event (every read of the trail filters on `seq`).
    fn into_event(self) -> Res<AuditEvent> {
        let chain_id = ChainId(self.chain_id);
        let (position, event) = self.into_parts()?;
        let (Some(seq), Some(prev_hash), Some(hash)) = position else {
            return Err(DomainError::Internal(format!(
                "audit event {} has no position",
                event.id
            )));
        };
        Ok(AuditEvent {
            chain_id,
            seq,
            event,
            prev_hash,
            hash,
        })
    }

    fn into_parts(self) -> Res<(StoredPosition, NewAuditEvent)> {
        let outcome = Outcome::parse(&self.outcome)
            .ok_or_else(|| DomainError::Internal(format!("unknown outcome {}", self.outcome)))?;
        Ok((
            (self.seq, self.prev_hash, self.hash),
            NewAuditEvent {
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
        ))
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

/// `seq < before.seq`: the cursor of one chain going back in time, over the
/// events with a position (those still waiting for one are not listed yet).
fn before_seq(before: Option<Cursor>) -> Condition {
    match before {
        Some(c) => Box::new(events::seq.assume_not_null().lt(c.seq)),
        None => Box::new(events::seq.is_not_null()),
    }
}

/// `(occurred_at, id) < before`: the cursor across chains going back in time,
/// over the events with a position.
fn before_cursor(before: Option<Cursor>) -> Condition {
    match before {
        Some(Cursor { at, id, .. }) => Box::new(
            events::seq.is_not_null().and(
                events::occurred_at
                    .lt(at)
                    .or(events::occurred_at.eq(at).and(events::id.lt(id.0))),
            ),
        ),
        None => Box::new(events::seq.is_not_null()),
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

#[derive(QueryableByName)]
struct WaitingRow {
    #[diesel(sql_type = SqlUuid)]
    chain_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Nullable<SqlUuid>)]
    clinic_id: Option<Uuid>,
    #[diesel(sql_type = Int8)]
    waiting: i64,
    #[diesel(sql_type = Timestamptz)]
    oldest: DateTime<Utc>,
}

/// Gives events their positions: one statement for the whole batch.
const STORE_POSITIONS_SQL: &str = "UPDATE audit.events e \
    SET seq = p.seq, prev_hash = p.prev_hash, hash = p.hash \
    FROM unnest($1::uuid[], $2::int8[], $3::bytea[], $4::bytea[]) AS p(id, seq, prev_hash, hash) \
    WHERE e.id = p.id AND e.chain_id = $5 AND e.seq IS NULL";

impl AuditRepo for PgTx<'_> {
    fn append_audit(&mut self, event: NewAuditEvent) -> Res<()> {
        AppendEvents::new([&event])
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }

    fn append_read(&mut self, event: NewAuditEvent) -> Res<()> {
        match self.deferred_reads() {
            Some(reads) => {
                reads.push(event);
                Ok(())
            }
            None => self.append_audit(event),
        }
    }

    fn unsequenced_chains(&mut self) -> Res<Vec<Waiting>> {
        diesel::sql_query(
            "SELECT chain_id, clinic_id, waiting, oldest FROM audit.unsequenced_chains() \
             ORDER BY oldest",
        )
        .cached()
        .load::<WaitingRow>(self.conn)
        .map(|rows| {
            rows.into_iter()
                .map(|r| Waiting {
                    chain: ChainId(r.chain_id),
                    clinic: r.clinic_id.map(ClinicId),
                    events: r.waiting,
                    oldest: r.oldest,
                })
                .collect()
        })
        .map_err(db_error)
    }

    fn lock_chain_head(&mut self, chain: ChainId, skip_locked: bool) -> Res<Option<ChainHead>> {
        let q = heads::table.find(chain.0).select(HEAD_COLUMNS).for_update();
        let row: Option<HeadRow> = if skip_locked {
            q.skip_locked().first(self.conn).optional()
        } else {
            q.first(self.conn).optional()
        }
        .map_err(db_error)?;
        Ok(row.map(to_head))
    }

    fn unsequenced_events(&mut self, chain: ChainId, limit: i64) -> Res<Vec<NewAuditEvent>> {
        events::table
            .filter(events::chain_id.eq(chain.0))
            .filter(events::seq.is_null())
            .order(events::arrival)
            .limit(limit)
            .select(EventRow::as_select())
            .load::<EventRow>(self.conn)
            .map_err(db_error)?
            .into_iter()
            .map(EventRow::into_new_event)
            .collect()
    }

    fn store_positions(&mut self, chain: ChainId, positions: &[Position]) -> Res<()> {
        let Some(last) = positions.last() else {
            return Ok(());
        };
        let ids: Vec<Uuid> = positions.iter().map(|p| p.id.0).collect();
        let seqs: Vec<i64> = positions.iter().map(|p| p.seq).collect();
        let prevs: Vec<&[u8]> = positions.iter().map(|p| p.prev_hash.as_slice()).collect();
        let hashes: Vec<&[u8]> = positions.iter().map(|p| p.hash.as_slice()).collect();
        let updated = diesel::sql_query(STORE_POSITIONS_SQL)
            .bind::<Array<SqlUuid>, _>(&ids)
            .bind::<Array<Int8>, _>(&seqs)
            .bind::<Array<Bytea>, _>(&prevs)
            .bind::<Array<Bytea>, _>(&hashes)
            .bind::<SqlUuid, _>(chain.0)
            .execute(self.conn)
            .map_err(db_error)?;
        if updated != positions.len() {
            return Err(DomainError::Internal(format!(
                "chain {chain}: {updated} of {} events took their positions",
                positions.len()
            )));
        }
        diesel::update(heads::table.find(chain.0))
            .set((
                heads::seq.eq(last.seq),
                heads::prev_hash.eq(Some(&last.prev_hash)),
                heads::hash.eq(&last.hash),
            ))
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
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
            .select(EventRow::as_select())
            // One text per combination of the filters given: a bounded set.
            .cached()
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
            .select(EventRow::as_select())
            .cached()
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
            .select(EventRow::as_select())
            .cached()
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
            .select(EventRow::as_select())
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
            .select(EventRow::as_select())
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
        .cached()
        .get_result(self.conn)
        .optional()
        .map_err(db_error)?;
        Ok(found.map(|f| (f.seq, f.hash)))
    }

    fn purge_through(&mut self, chain: ChainId, seq: i64) -> Res<i64> {
        let removed: Count = diesel::sql_query("SELECT audit.purge_through($1, $2) AS n")
            .bind::<SqlUuid, _>(chain.0)
            .bind::<Int8, _>(seq)
            .cached()
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
