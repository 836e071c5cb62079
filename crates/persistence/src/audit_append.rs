//! The audit append as one prepared statement: the events, without a position
//! (the sequencer gives them one later, `audit::sequencer`), inserted from arrays
//! (one event or a group commit's many: one statement text either way), and the
//! head of each chain they open created at position 0, so a chain exists from its
//! first event. No lock is taken on an existing head: appends to one chain no
//! longer wait for each other.

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Array, Nullable, Text, Timestamptz, Untyped, Uuid as SqlUuid};
use diesel::{QueryResult, RunQueryDsl};
use salus_domain::audit::NewAuditEvent;
use uuid::Uuid;

/// The arrays the append binds, in order, as the columns of its `input` rows.
pub const APPEND_INPUT_COLUMNS: &str = "chain_id, clinic_id, id, occurred_at, account_id, \
    membership_id, session_id, client_ip, user_agent, request_id, action, resource_type, \
    resource_id, outcome, details";

/// Everything after the `input` rows: the heads of new chains created at the
/// genesis (an existing head is left alone, unlocked), then the events inserted.
/// `make bench` runs this same text (scripts/bench.sh reads it from here).
pub const APPEND_EVENTS_SQL: &str = "opened AS (\
INSERT INTO audit_chain_heads (chain_id, clinic_id, seq, prev_hash, hash, next_maintenance_at) \
SELECT DISTINCT ON (i.chain_id) i.chain_id, i.clinic_id, 0, NULL, decode(repeat('00', 32), 'hex'), \
i.occurred_at + interval '1 hour' FROM input i \
ON CONFLICT (chain_id) DO NOTHING) \
INSERT INTO audit.events (chain_id, id, clinic_id, occurred_at, account_id, membership_id, \
session_id, client_ip, user_agent, request_id, action, resource_type, resource_id, outcome, details) \
SELECT i.chain_id, i.id, i.clinic_id, i.occurred_at, i.account_id, i.membership_id, \
i.session_id, i.client_ip, i.user_agent, i.request_id, i.action, i.resource_type, \
i.resource_id, i.outcome, i.details FROM input i";

/// The append of a group of events (one chain or several), bound and ready to run.
pub struct AppendEvents {
    columns: Columns,
}

/// The events as column arrays.
#[derive(Default)]
struct Columns {
    chain_id: Vec<Uuid>,
    clinic_id: Vec<Option<Uuid>>,
    id: Vec<Uuid>,
    occurred_at: Vec<chrono::DateTime<chrono::Utc>>,
    account_id: Vec<Option<Uuid>>,
    membership_id: Vec<Option<Uuid>>,
    session_id: Vec<Option<Uuid>>,
    client_ip: Vec<Option<String>>,
    user_agent: Vec<Option<String>>,
    request_id: Vec<Option<String>>,
    action: Vec<String>,
    resource_type: Vec<Option<String>>,
    resource_id: Vec<Option<Uuid>>,
    outcome: Vec<&'static str>,
    details: Vec<String>,
}

impl AppendEvents {
    /// The append of `events`.
    pub fn new<'e>(events: impl IntoIterator<Item = &'e NewAuditEvent>) -> Self {
        let mut c = Columns::default();
        for e in events {
            c.chain_id.push(e.chain_id().0);
            c.clinic_id.push(e.clinic_id.map(|x| x.0));
            c.id.push(e.id.0);
            c.occurred_at.push(e.occurred_at);
            c.account_id.push(e.account_id.map(|x| x.0));
            c.membership_id.push(e.membership_id.map(|x| x.0));
            c.session_id.push(e.session_id.map(|x| x.0));
            c.client_ip.push(e.client_ip.clone());
            c.user_agent.push(e.user_agent.clone());
            c.request_id.push(e.request_id.clone());
            c.action.push(e.action.clone());
            c.resource_type.push(e.resource_type.clone());
            c.resource_id.push(e.resource_id);
            c.outcome.push(e.outcome.as_str());
            c.details.push(e.details.clone());
        }
        Self { columns: c }
    }

    /// How many events it inserts.
    pub fn len(&self) -> usize {
        self.columns.id.len()
    }

    /// Whether it inserts nothing.
    pub fn is_empty(&self) -> bool {
        self.columns.id.is_empty()
    }
}

/// The statement's identity for the prepared-statement cache: its text never
/// changes, so PostgreSQL plans it once per connection.
pub struct AppendEventsId;

impl QueryId for AppendEvents {
    type QueryId = AppendEventsId;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for AppendEvents {
    type SqlType = Untyped;
}

impl<Conn> RunQueryDsl<Conn> for AppendEvents {}

impl QueryFragment<Pg> for AppendEvents {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let c = &self.columns;
        out.push_sql("WITH input (");
        out.push_sql(APPEND_INPUT_COLUMNS);
        out.push_sql(") AS (SELECT * FROM unnest(");
        out.push_bind_param::<Array<SqlUuid>, _>(&c.chain_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Nullable<SqlUuid>>, _>(&c.clinic_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<SqlUuid>, _>(&c.id)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Timestamptz>, _>(&c.occurred_at)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Nullable<SqlUuid>>, _>(&c.account_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Nullable<SqlUuid>>, _>(&c.membership_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Nullable<SqlUuid>>, _>(&c.session_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Nullable<Text>>, _>(&c.client_ip)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Nullable<Text>>, _>(&c.user_agent)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Nullable<Text>>, _>(&c.request_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&c.action)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Nullable<Text>>, _>(&c.resource_type)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Nullable<SqlUuid>>, _>(&c.resource_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&c.outcome)?;
        out.push_sql(", ");
        out.push_bind_param::<Array<Text>, _>(&c.details)?;
        out.push_sql(")), ");
        out.push_sql(APPEND_EVENTS_SQL);
        Ok(())
    }
}
