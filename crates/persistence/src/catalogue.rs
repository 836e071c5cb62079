//! The catalogue walks the destruction paths share: which tables hold a column
//! (so a new table is covered without a change), what a destruction function
//! reported, and what still remains after it.

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Text};
use salus_domain::DomainError;
use salus_domain::ports::closure::TableRows;

use crate::cached::CacheStatement;
use crate::store::db_error;

type Res<T> = Result<T, DomainError>;

#[derive(QueryableByName)]
struct TableName {
    #[diesel(sql_type = Text)]
    table_name: String,
}

/// One line of what a destruction function (`salus_destroy_clinic`,
/// `salus_erase_patient`) returns: a table and the rows it deleted there.
#[derive(QueryableByName)]
pub(crate) struct Deleted {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = BigInt)]
    deleted: i64,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Every table of every schema but the system's and `skipped` with a
/// `column` column, as `schema.table`, in name order.
pub(crate) fn tables_with_column(
    conn: &mut PgConnection,
    column: &str,
    skipped: &[&str],
) -> Res<Vec<String>> {
    diesel::sql_query(
        "SELECT format('%I.%I', s.nspname, c.relname) AS table_name
           FROM pg_class c
           JOIN pg_namespace s ON s.oid = c.relnamespace
           JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = $1 AND NOT a.attisdropped
          WHERE c.relkind IN ('r', 'p')
            AND s.nspname NOT IN ('pg_catalog', 'information_schema')
            AND s.nspname NOT LIKE 'pg\\_%'
            AND s.nspname <> ALL ($2)
          ORDER BY 1",
    )
    .bind::<Text, _>(column)
    .bind::<Array<Text>, _>(skipped)
    .cached()
    .load::<TableName>(conn)
    .map(|t| t.into_iter().map(|t| t.table_name).collect())
    .map_err(db_error)
}

/// A destruction function's report, as the domain's rows per table.
pub(crate) fn table_rows(deleted: Vec<Deleted>) -> Vec<TableRows> {
    deleted
        .into_iter()
        .map(|d| TableRows {
            table: d.table_name,
            rows: d.deleted,
        })
        .collect()
}

/// The tables among `targets` (`schema.table`, and the condition its rows
/// match) that still hold matching rows, with how many.
pub(crate) fn remaining(
    conn: &mut PgConnection,
    targets: impl IntoIterator<Item = (String, String)>,
) -> Res<Vec<TableRows>> {
    let mut remains = Vec::new();
    for (table, condition) in targets {
        let n = diesel::sql_query(format!(
            "SELECT count(*) AS n FROM {table} WHERE {condition}"
        ))
        .cached()
        .get_result::<Count>(conn)
        .map_err(db_error)?
        .n;
        if n > 0 {
            remains.push(TableRows { table, rows: n });
        }
    }
    Ok(remains)
}
