//! The source's fingerprint of a backup: the row count and a checksum of every
//! table, at a named restore point, so the drill can compare a restored copy
//! with what the live database held at exactly that point.
//!
//! Right after a backup, one transaction locks every table in `SHARE` mode
//! (writers wait; readers go on), and one statement then takes the transaction's
//! snapshot and writes the restore point `salus-drill-<label>` into the WAL. No
//! write to any table can commit between the two (every writer needs a lock
//! that conflicts with `SHARE`), so the snapshot and the restore point hold the
//! same data, and the sums computed in that snapshot are what a recovery to
//! that point must show. The lock is held while the sums are computed; its
//! length is part of the fingerprint (docs/operations.md has the figures).
//!
//! Unlogged tables (the rate-limit counters) are left out: PostgreSQL writes
//! no WAL for them and empties them on recovery, by design, so no backup holds
//! them.
//!
//! A row's checksum is the first 60 bits of the MD5 of its text form; a table's
//! is their sum (order-free, so no sort). This detects a lost, added or changed
//! row; it is a consistency check, not a defence against forgery (the audit
//! chain's hashes are that).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::psql::Psql;

/// A table's count and checksum.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableSum {
    /// `schema.table`.
    pub table: String,
    /// Whether it holds clinics' rows (it has a `clinic_id` column).
    pub tenant: bool,
    /// Its rows.
    pub rows: i64,
    /// The sum of its rows' checksums.
    pub checksum: String,
}

/// What the live database held at a backup's restore point.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// The backup's label.
    pub label: String,
    /// The restore point's name (the drill's recovery target).
    pub restore_point: String,
    /// Its WAL position.
    pub lsn: String,
    /// When it was taken.
    pub taken_at: DateTime<Utc>,
    /// How long writers waited for it, in milliseconds.
    pub lock_ms: u64,
    /// Every table, by name.
    pub tables: Vec<TableSum>,
}

/// The restore point a backup's fingerprint is taken at.
pub fn restore_point(label: &str) -> String {
    format!("salus-drill-{label}")
}

/// Where a backup's fingerprint is kept.
pub fn path(reports: &Path, label: &str) -> PathBuf {
    reports.join(format!("{label}.source.json"))
}

/// Every ordinary table of `database` outside the system schemas, with whether
/// it is a tenant table.
fn tables(psql: &Psql, database: &str) -> anyhow::Result<Vec<(String, bool)>> {
    let rows = psql.run(
        database,
        "SELECT format('%I.%I', n.nspname, c.relname), \
                EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid \
                        AND a.attname = 'clinic_id' AND NOT a.attisdropped) \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE c.relkind = 'r' AND c.relpersistence = 'p' \
           AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
           AND n.nspname NOT LIKE 'pg\\_%' \
         ORDER BY 1;",
    )?;
    rows.into_iter()
        .map(|r| match r.as_slice() {
            [name, tenant] => Ok((name.clone(), tenant == "t")),
            _ => bail!("unexpected table listing: {r:?}"),
        })
        .collect()
}

/// The statements that print `table|rows|checksum` for each table.
fn sums_sql(tables: &[(String, bool)]) -> String {
    tables
        .iter()
        .map(|(table, _)| {
            format!(
                "SELECT '{table}', count(*), coalesce(sum(('x' || substr(md5(t::text), 1, 15))::bit(60)::bigint), 0) FROM {table} t;\n",
                table = table.replace('\'', "''")
            )
        })
        .collect()
}

fn parse_sums(tables: &[(String, bool)], rows: &[Vec<String>]) -> anyhow::Result<Vec<TableSum>> {
    tables
        .iter()
        .map(|(table, tenant)| {
            let row = rows
                .iter()
                .find(|r| r.first() == Some(table))
                .with_context(|| format!("no checksum printed for {table}"))?;
            match row.as_slice() {
                [_, count, sum] => Ok(TableSum {
                    table: table.clone(),
                    tenant: *tenant,
                    rows: count.parse().context("a row count")?,
                    checksum: sum.clone(),
                }),
                _ => bail!("unexpected checksum row {row:?}"),
            }
        })
        .collect()
}

/// Takes the live database's fingerprint at a new restore point for `label`
/// (superuser: it locks every table and writes a restore point). Retried when
/// the locks cannot be had within 10 s (a long writer, or a deadlock with one).
pub(super) fn take(psql: &Psql, database: &str, label: &str) -> anyhow::Result<Fingerprint> {
    let tables = tables(psql, database)?;
    let names: Vec<&str> = tables.iter().map(|(t, _)| t.as_str()).collect();
    let point = restore_point(label);
    let script = format!(
        "SET lock_timeout = '10s';\n\
         BEGIN ISOLATION LEVEL REPEATABLE READ;\n\
         LOCK TABLE {} IN SHARE MODE;\n\
         SELECT '#point', pg_create_restore_point('{point}')::text, (extract(epoch FROM now()) * 1000000)::bigint;\n\
         {}COMMIT;\n",
        names.join(", "),
        sums_sql(&tables),
    );
    let mut last_error = None;
    for _ in 0..3 {
        let started = Instant::now();
        match psql.run(database, &script) {
            Ok(rows) => {
                let lock_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                let Some([_, lsn, at]) = rows
                    .iter()
                    .find(|r| r.first().is_some_and(|c| c == "#point"))
                    .map(Vec::as_slice)
                else {
                    bail!("the restore point was not reported");
                };
                let taken_at = at
                    .parse()
                    .ok()
                    .and_then(DateTime::from_timestamp_micros)
                    .with_context(|| format!("the restore point's time '{at}'"))?;
                return Ok(Fingerprint {
                    label: label.to_owned(),
                    restore_point: point,
                    lsn: lsn.clone(),
                    taken_at,
                    lock_ms,
                    tables: parse_sums(&tables, &rows)?,
                });
            }
            Err(e) => last_error = Some(e),
        }
    }
    Err(last_error.unwrap_or_else(|| anyhow::anyhow!("no attempt made")))
        .context("cannot take the fingerprint of the live database")
}

/// The same sums on a restored copy (nothing writes to it: no locks).
pub(super) fn sums(psql: &Psql, database: &str) -> anyhow::Result<Vec<TableSum>> {
    let tables = tables(psql, database)?;
    let rows = psql.run(
        database,
        &format!(
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;\n{}COMMIT;\n",
            sums_sql(&tables)
        ),
    )?;
    parse_sums(&tables, &rows)
}

/// The differences between the source's tables and a copy's: one line each.
pub fn differences(source: &[TableSum], copy: &[TableSum]) -> Vec<String> {
    let mut out = Vec::new();
    for s in source {
        match copy.iter().find(|c| c.table == s.table) {
            None => out.push(format!("{}: missing from the restored copy", s.table)),
            Some(c) if c.rows != s.rows => out.push(format!(
                "{}: {} rows restored, {} in the source",
                s.table, c.rows, s.rows
            )),
            Some(c) if c.checksum != s.checksum => out.push(format!(
                "{}: the rows differ from the source's ({} rows each)",
                s.table, s.rows
            )),
            Some(_) => {}
        }
    }
    for c in copy {
        if !source.iter().any(|s| s.table == c.table) {
            out.push(format!("{}: in the restored copy only", c.table));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(table: &str, rows: i64, checksum: &str) -> TableSum {
        TableSum {
            table: table.to_owned(),
            tenant: true,
            rows,
            checksum: checksum.to_owned(),
        }
    }

    #[test]
    fn a_lost_changed_or_extra_table_is_named() {
        let source = [
            sum("public.a", 2, "10"),
            sum("public.b", 1, "5"),
            sum("public.c", 0, "0"),
        ];
        let copy = [
            sum("public.a", 1, "4"),
            sum("public.b", 1, "6"),
            sum("public.d", 0, "0"),
        ];
        let found = differences(&source, &copy);
        assert_eq!(
            found,
            [
                "public.a: 1 rows restored, 2 in the source",
                "public.b: the rows differ from the source's (1 rows each)",
                "public.c: missing from the restored copy",
                "public.d: in the restored copy only",
            ]
        );
        assert!(differences(&source, &source).is_empty());
    }
}
