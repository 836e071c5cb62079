//! The shared counts of the request rate limits (`request_rate_limits`, a
//! platform table) and the plans of the clinics they limit, for the sync task
//! of every node (`salus_domain::rate_limits::counters`).

use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Int8, Text, Timestamptz, Uuid as SqlUuid};
use salus_domain::DomainError;
use salus_domain::ids::ClinicId;
use salus_domain::plans::Plan;
use salus_domain::rate_limits::counters::{SyncBatch, Synced};
use uuid::Uuid;

use crate::DbPool;
use crate::cached::CacheStatement;
use crate::errors::db_error;

/// Adds the batch's hits and reads every total back, in one statement: the
/// buckets with new hits are upserted, those without are only read.
const ADD_AND_READ: &str = "
WITH d AS (
    SELECT * FROM unnest($1::text[], $2::int8[]) AS d(key, hits)
), added AS (
    INSERT INTO request_rate_limits AS r (key, window_start, hits)
    SELECT d.key, $3, d.hits FROM d WHERE d.hits > 0
    ON CONFLICT (key, window_start) DO UPDATE SET hits = r.hits + EXCLUDED.hits
    RETURNING r.key, r.hits
)
SELECT key, hits FROM added
UNION ALL
SELECT r.key, r.hits FROM request_rate_limits r JOIN d ON d.key = r.key
 WHERE d.hits = 0 AND r.window_start = $3";

#[derive(QueryableByName)]
struct Total {
    #[diesel(sql_type = Text)]
    key: String,
    #[diesel(sql_type = BigInt)]
    hits: i64,
}

#[derive(QueryableByName)]
struct ClinicPlan {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Text)]
    plan: String,
}

/// One sync round, in one transaction: adds the batch's hits to the shared
/// totals and reads them back, deletes the rows of earlier windows, and reads
/// the plans the batch asks for.
pub fn sync(pool: &DbPool, batch: &SyncBatch) -> Result<Synced, DomainError> {
    let mut conn = crate::pool::checkout(pool)?;
    let keys: Vec<&str> = batch.deltas.iter().map(|d| d.key.as_str()).collect();
    let hits: Vec<i64> = batch
        .deltas
        .iter()
        .map(|d| i64::try_from(d.hits).unwrap_or(i64::MAX))
        .collect();
    let clinics: Vec<Uuid> = batch.clinics.iter().map(|c| c.0).collect();
    conn.transaction(|conn| {
        let totals: Vec<Total> = if keys.is_empty() {
            Vec::new()
        } else {
            diesel::sql_query(ADD_AND_READ)
                .bind::<Array<Text>, _>(&keys)
                .bind::<Array<Int8>, _>(&hits)
                .bind::<Timestamptz, _>(batch.window_start)
                .cached()
                .load(conn)?
        };
        diesel::sql_query("DELETE FROM request_rate_limits WHERE window_start < $1")
            .bind::<Timestamptz, _>(batch.window_start)
            .execute(conn)?;
        let plans: Vec<ClinicPlan> = if clinics.is_empty() {
            Vec::new()
        } else {
            diesel::sql_query("SELECT id, plan FROM public.salus_rate_limit_plans($1)")
                .bind::<Array<SqlUuid>, _>(&clinics)
                .cached()
                .load(conn)?
        };
        Ok(Synced {
            totals: totals
                .into_iter()
                .map(|t| (t.key, u64::try_from(t.hits).unwrap_or(0)))
                .collect(),
            plans: plans
                .into_iter()
                .filter_map(|p| Some((ClinicId(p.id), Plan::parse(&p.plan)?)))
                .collect(),
        })
    })
    .map_err(db_error)
}
