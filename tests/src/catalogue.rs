//! The tests' own walk of the catalogue (as the superuser, apart from the
//! server's), so a claim about every table is checked on every table there is.

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Text};

#[derive(QueryableByName)]
struct TableName {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Every table of every schema but the system's and `skipped` that has a
/// `column` column, as `schema.table`, in name order.
pub fn tables_with_column(conn: &mut PgConnection, column: &str, skipped: &[&str]) -> Vec<String> {
    diesel::sql_query(
        "SELECT format('%I.%I', n.nspname, c.relname) AS name
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
            AND n.nspname <> ALL ($2)
            AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                           AND a.attname = $1 AND NOT a.attisdropped)
          ORDER BY 1",
    )
    .bind::<Text, _>(column)
    .bind::<Array<Text>, _>(skipped)
    .load::<TableName>(conn)
    .expect("read the catalogue")
    .into_iter()
    .map(|t| t.name)
    .collect()
}

/// The `n` a counting query answers (`SELECT count(*) AS n ...`).
pub fn count(conn: &mut PgConnection, sql: &str) -> i64 {
    diesel::sql_query(sql)
        .get_result::<Count>(conn)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .n
}
