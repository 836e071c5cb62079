//! The audit append as one prepared statement. It takes the chain's head (the row
//! lock that orders a chain's appends), moves it one position, hashes the event
//! there from the canonical encoding the application sent in two parts around the
//! position, and inserts the event, all in a single round trip. The lock is held
//! from this statement to the commit only.

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Bytea, Int8, Nullable, Text, Timestamptz, Untyped, Uuid as SqlUuid};
use diesel::{QueryResult, QueryableByName, RunQueryDsl};
use salus_domain::audit::NewAuditEvent;
use salus_domain::audit::chain::canonical_parts;
use uuid::Uuid;

/// The values the append binds, in order, as the `input` row of
/// [`APPEND_EVENT_SQL`].
pub const APPEND_INPUT_COLUMNS: &str = "chain_id, clinic_id, id, occurred_at, account_id, \
    membership_id, session_id, client_ip, user_agent, request_id, action, resource_type, \
    resource_id, outcome, details, hash_before_seq, hash_after_seq, first_maintenance_at";

/// Everything after the `input` row: the head taken and moved (created at the
/// genesis for a chain's first event), then the event inserted after it.
/// `make bench` runs this same text (scripts/bench.sh reads it from here).
pub const APPEND_EVENT_SQL: &str = "head AS (\
INSERT INTO audit_chain_heads AS h (chain_id, clinic_id, seq, prev_hash, hash, next_maintenance_at) \
SELECT i.chain_id, i.clinic_id, 1, decode(repeat('00', 32), 'hex'), \
sha256(decode(repeat('00', 32), 'hex') || i.hash_before_seq || convert_to('1', 'UTF8') || i.hash_after_seq), \
i.first_maintenance_at FROM input i \
ON CONFLICT (chain_id) DO UPDATE SET seq = h.seq + 1, prev_hash = h.hash, \
hash = sha256(h.hash || (SELECT hash_before_seq FROM input) || convert_to((h.seq + 1)::text, 'UTF8') || (SELECT hash_after_seq FROM input)) \
RETURNING h.seq, h.prev_hash, h.hash) \
INSERT INTO audit.events (chain_id, seq, id, clinic_id, occurred_at, account_id, membership_id, \
session_id, client_ip, user_agent, request_id, action, resource_type, resource_id, outcome, details, \
prev_hash, hash) \
SELECT i.chain_id, head.seq, i.id, i.clinic_id, i.occurred_at, i.account_id, i.membership_id, \
i.session_id, i.client_ip, i.user_agent, i.request_id, i.action, i.resource_type, i.resource_id, \
i.outcome, i.details, head.prev_hash, head.hash FROM input i, head \
RETURNING seq, prev_hash, hash";

/// Where the event landed.
#[derive(QueryableByName)]
pub struct Appended {
    /// Its position in the chain.
    #[diesel(sql_type = Int8)]
    pub seq: i64,
    /// The hash before it.
    #[diesel(sql_type = Bytea)]
    pub prev_hash: Vec<u8>,
    /// Its own hash.
    #[diesel(sql_type = Bytea)]
    pub hash: Vec<u8>,
}

/// The append of one event, bound and ready to run.
pub struct AppendEvent<'a> {
    chain_id: Uuid,
    /// The event's ids as the columns bind them.
    ids: EventIds,
    event: &'a NewAuditEvent,
    hash_before_seq: Vec<u8>,
    hash_after_seq: Vec<u8>,
    first_maintenance_at: chrono::DateTime<chrono::Utc>,
}

impl<'a> AppendEvent<'a> {
    /// The append of `event`; a chain it starts gets its first maintenance turn
    /// at `first_maintenance_at`.
    pub fn new(
        event: &'a NewAuditEvent,
        first_maintenance_at: chrono::DateTime<chrono::Utc>,
    ) -> Self {
        let chain_id = event.chain_id();
        let (hash_before_seq, hash_after_seq) = canonical_parts(chain_id, event);
        Self {
            chain_id: chain_id.0,
            ids: EventIds {
                id: event.id.0,
                clinic_id: event.clinic_id.map(|c| c.0),
                account_id: event.account_id.map(|a| a.0),
                membership_id: event.membership_id.map(|m| m.0),
                session_id: event.session_id.map(|s| s.0),
            },
            event,
            hash_before_seq,
            hash_after_seq,
            first_maintenance_at,
        }
    }
}

/// An event's own id and the ids of who acted, as plain column values.
struct EventIds {
    id: Uuid,
    clinic_id: Option<Uuid>,
    account_id: Option<Uuid>,
    membership_id: Option<Uuid>,
    session_id: Option<Uuid>,
}

/// The statement's identity for the prepared-statement cache: its text never
/// changes, so PostgreSQL plans it once per connection.
pub struct AppendEventId;

impl QueryId for AppendEvent<'_> {
    type QueryId = AppendEventId;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for AppendEvent<'_> {
    type SqlType = Untyped;
}

impl<Conn> RunQueryDsl<Conn> for AppendEvent<'_> {}

impl QueryFragment<Pg> for AppendEvent<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let e = self.event;
        out.push_sql("WITH input (");
        out.push_sql(APPEND_INPUT_COLUMNS);
        out.push_sql(") AS (VALUES (");
        out.push_bind_param::<SqlUuid, _>(&self.chain_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<SqlUuid>, _>(&self.ids.clinic_id)?;
        out.push_sql(", ");
        out.push_bind_param::<SqlUuid, _>(&self.ids.id)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamptz, _>(&e.occurred_at)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<SqlUuid>, _>(&self.ids.account_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<SqlUuid>, _>(&self.ids.membership_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<SqlUuid>, _>(&self.ids.session_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&e.client_ip)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&e.user_agent)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&e.request_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&e.action)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<Text>, _>(&e.resource_type)?;
        out.push_sql(", ");
        out.push_bind_param::<Nullable<SqlUuid>, _>(&e.resource_id)?;
        out.push_sql(", ");
        out.push_bind_param::<Text, str>(e.outcome.as_str())?;
        out.push_sql(", ");
        out.push_bind_param::<Text, _>(&e.details)?;
        out.push_sql(", ");
        out.push_bind_param::<Bytea, _>(&self.hash_before_seq)?;
        out.push_sql(", ");
        out.push_bind_param::<Bytea, _>(&self.hash_after_seq)?;
        out.push_sql(", ");
        out.push_bind_param::<Timestamptz, _>(&self.first_maintenance_at)?;
        out.push_sql(")), ");
        out.push_sql(APPEND_EVENT_SQL);
        Ok(())
    }
}
