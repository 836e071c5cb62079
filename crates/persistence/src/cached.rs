//! Statements diesel would send unprepared, kept in its per-connection cache of
//! prepared statements by their text.
//!
//! diesel prepares and caches the statements of its query builder, except four
//! kinds whose text it cannot bound (`docs.rs/diesel`, `statement_cache`):
//! `UPDATE ... SET` with a changeset, inserts of a changing number of rows or
//! of optional values, `ON CONFLICT`, and `sql_query`. Those go out as unnamed
//! statements that PostgreSQL parses and plans again on every execution. The
//! repositories' statements of those kinds have texts from a small fixed set
//! (one per call site, or one per resource of a closed enum), so
//! [`CacheStatement::cached`] vouches for them: diesel then keys them by their
//! text and prepares each once per connection. Never for a text built from
//! input or of an unbounded number of rows: the cache would grow with it.
//!
//! Only statements that return rows benefit (`load`, `get_result`,
//! `get_results`, `first`): diesel runs a statement for its row count
//! (`execute`) through a reference, whose cacheability it decides by walking
//! the statement itself, so the wrapper is never asked. An `INSERT`,
//! `UPDATE` or `DELETE` without `RETURNING` still goes out unnamed.

use diesel::backend::Backend;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::{QueryResult, RunQueryDsl};

/// A statement whose text comes from a bounded set, cached by that text.
#[derive(Debug, Clone, Copy)]
pub struct Cached<Q>(Q);

/// Wraps a statement so that diesel prepares and caches it (see the module).
pub trait CacheStatement: Sized {
    /// This statement, prepared once per connection and then reused.
    fn cached(self) -> Cached<Self> {
        Cached(self)
    }
}

impl<Q> CacheStatement for Q {}

impl<Q> QueryId for Cached<Q> {
    type QueryId = ();
    // No type to key it by: diesel keys it by its text and bind types.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: Query> Query for Cached<Q> {
    type SqlType = Q::SqlType;
}

impl<Q, Conn> RunQueryDsl<Conn> for Cached<Q> {}

impl<Q: QueryFragment<DB>, DB: Backend> QueryFragment<DB> for Cached<Q> {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.0.walk_ast(pass)
    }

    fn is_safe_to_cache_prepared(&self, _backend: &DB) -> QueryResult<bool> {
        Ok(true)
    }
}
