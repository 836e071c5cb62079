//! Hand-written statements that every request sends, prepared once per connection.
//! diesel caches prepared statements for its query builder but not for `sql_query`,
//! so PostgreSQL would parse and plan these on every request; each type here has a
//! fixed text and its own cache identity instead.

use std::marker::PhantomData;

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::result::Error;
use diesel::serialize::ToSql;
use diesel::sql_types::{HasSqlType, Untyped};
use diesel::{QueryResult, RunQueryDsl};

/// A fixed text with exactly two placeholders, `$1` then `$2`, bound to `first`
/// and `second` (of SQL types `A` and `B`); `Id` names it in the statement cache.
pub struct TwoBinds<'a, Id, A, B, FA: ?Sized, FB: ?Sized> {
    sql: &'static str,
    first: &'a FA,
    second: &'a FB,
    kind: PhantomData<(Id, A, B)>,
}

impl<'a, Id, A, B, FA: ?Sized, FB: ?Sized> TwoBinds<'a, Id, A, B, FA, FB> {
    /// `sql` bound to `first` and `second`.
    pub fn new(sql: &'static str, first: &'a FA, second: &'a FB) -> Self {
        Self {
            sql,
            first,
            second,
            kind: PhantomData,
        }
    }
}

impl<Id: 'static, A, B, FA: ?Sized, FB: ?Sized> QueryId for TwoBinds<'_, Id, A, B, FA, FB> {
    type QueryId = Id;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<Id, A, B, FA: ?Sized, FB: ?Sized> Query for TwoBinds<'_, Id, A, B, FA, FB> {
    type SqlType = Untyped;
}

impl<Conn, Id, A, B, FA: ?Sized, FB: ?Sized> RunQueryDsl<Conn> for TwoBinds<'_, Id, A, B, FA, FB> {}

impl<Id, A, B, FA, FB> QueryFragment<Pg> for TwoBinds<'_, Id, A, B, FA, FB>
where
    Pg: HasSqlType<A> + HasSqlType<B>,
    FA: ToSql<A, Pg> + ?Sized,
    FB: ToSql<B, Pg> + ?Sized,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let malformed = || Error::QueryBuilderError("a fixed statement lacks $1 or $2".into());
        let (head, rest) = self.sql.split_once("$1").ok_or_else(malformed)?;
        let (middle, tail) = rest.split_once("$2").ok_or_else(malformed)?;
        out.push_sql(head);
        out.push_bind_param::<A, FA>(self.first)?;
        out.push_sql(middle);
        out.push_bind_param::<B, FB>(self.second)?;
        out.push_sql(tail);
        Ok(())
    }
}
