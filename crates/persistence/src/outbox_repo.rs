//! The outbox on PostgreSQL: enqueue in the caller's transaction; claim and settle
//! for the delivery worker with `FOR UPDATE SKIP LOCKED`, so several nodes can run it.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use salus_domain::DomainError;
use salus_domain::ids::OutboxMessageId;
use salus_domain::outbox::{Channel, DeliveryStatus, NewMessage, OutboxRepo, PendingMessage};
use uuid::Uuid;

use crate::DbPool;
use crate::schema::outbox;
use crate::store::{PgTx, db_error};

/// When a message was delivered, and when it was given up.
type DeliveryTimes = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// Attempts before a message is given up.
pub const MAX_ATTEMPTS: i32 = 8;

impl OutboxRepo for PgTx<'_> {
    fn enqueue(&mut self, m: &NewMessage) -> Result<(), DomainError> {
        diesel::insert_into(outbox::table)
            .values((
                outbox::id.eq(m.id.0),
                outbox::channel.eq(m.channel.as_str()),
                outbox::recipient.eq(&m.recipient),
                outbox::subject.eq(&m.subject),
                outbox::body.eq(&m.body),
                outbox::created_at.eq(m.created_at),
                outbox::available_at.eq(m.available_at),
            ))
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }

    fn withdraw(&mut self, id: OutboxMessageId) -> Result<bool, DomainError> {
        diesel::delete(
            outbox::table
                .find(id.0)
                .filter(outbox::delivered_at.is_null()),
        )
        .execute(self.conn)
        .map(|n| n == 1)
        .map_err(db_error)
    }

    fn delivery_status(
        &mut self,
        id: OutboxMessageId,
    ) -> Result<Option<DeliveryStatus>, DomainError> {
        let row: Option<DeliveryTimes> = outbox::table
            .find(id.0)
            .select((outbox::delivered_at, outbox::failed_at))
            .first(self.conn)
            .optional()
            .map_err(db_error)?;
        Ok(row.map(|(delivered, failed)| match (delivered, failed) {
            (Some(_), _) => DeliveryStatus::Delivered,
            (None, Some(_)) => DeliveryStatus::Failed,
            (None, None) => DeliveryStatus::Pending,
        }))
    }
}

/// Claims up to `batch` due messages, delivers each with `deliver`, and records the
/// outcome, all in one transaction (rows stay locked while they are sent). A
/// delivered or given-up message keeps its envelope but not its body, which may
/// hold a one-time token or code: nothing of it outlives its delivery at rest.
/// Failures are retried with exponential back-off, given up after `MAX_ATTEMPTS`.
/// Returns how many were delivered.
pub fn deliver_due(
    pool: &DbPool,
    now: DateTime<Utc>,
    batch: i64,
    deliver: &dyn Fn(&PendingMessage) -> Result<(), String>,
) -> Result<usize, DomainError> {
    let mut conn = crate::pool::checkout(pool)?;
    conn.transaction(|conn| {
        type Row = (Uuid, String, String, String, String, i32);
        let rows: Vec<Row> = outbox::table
            .filter(outbox::delivered_at.is_null())
            .filter(outbox::failed_at.is_null())
            .filter(outbox::available_at.le(now))
            .order(outbox::available_at.asc())
            .limit(batch)
            .select((
                outbox::id,
                outbox::channel,
                outbox::recipient,
                outbox::subject,
                outbox::body,
                outbox::attempts,
            ))
            .for_update()
            .skip_locked()
            .load(conn)?;
        let mut delivered = 0;
        for (id, channel, recipient, subject, body, attempts) in rows {
            let message = PendingMessage {
                id: OutboxMessageId(id),
                channel: Channel::parse(&channel).unwrap_or(Channel::Email),
                recipient,
                subject,
                body,
                attempts,
            };
            let row = outbox::table.find(id);
            match deliver(&message) {
                Ok(()) => {
                    delivered += 1;
                    // The envelope stays (who, what subject, when); the body,
                    // which may carry a one-time token or code, goes.
                    diesel::update(row)
                        .set((
                            outbox::delivered_at.eq(now),
                            outbox::attempts.eq(attempts + 1),
                            outbox::body.eq(""),
                        ))
                        .execute(conn)?;
                }
                Err(error) => {
                    let attempts = attempts + 1;
                    let backoff = Duration::seconds(30 * (1i64 << attempts.clamp(0, 10)));
                    let failed_at = (attempts >= MAX_ATTEMPTS).then_some(now);
                    tracing::warn!(message_id = %id, attempts, "outbox delivery failed");
                    diesel::update(row)
                        .set((
                            outbox::attempts.eq(attempts),
                            outbox::last_error.eq(error.chars().take(500).collect::<String>()),
                            outbox::available_at.eq(now + backoff),
                            outbox::failed_at.eq(failed_at),
                        ))
                        .execute(conn)?;
                    if failed_at.is_some() {
                        // Given up: the body is dropped like a delivered one's.
                        diesel::update(row).set(outbox::body.eq("")).execute(conn)?;
                    }
                }
            }
        }
        Ok(delivered)
    })
    .map_err(db_error)
}

/// The backlog at `now` (for monitoring): messages that should have been delivered
/// by then, neither delivered nor given up, and either due or already tried once
/// (waiting for a retry). Messages scheduled for later and never tried, such as
/// tomorrow's reminders, are not a backlog. One count over the pending index.
///
/// It runs in a read-only transaction, like every other query: diesel judges a
/// pooled connection broken by its transaction state, which a failed `BEGIN` on a
/// connection the database dropped sets; a lone prepared query failing there left
/// the dead connection in the pool, and every later scrape failed with it.
pub fn backlog(pool: &DbPool, now: DateTime<Utc>) -> Result<i64, DomainError> {
    let mut conn = crate::pool::checkout(pool)?;
    conn.build_transaction()
        .read_only()
        .run(|conn| {
            outbox::table
                .filter(outbox::delivered_at.is_null())
                .filter(outbox::failed_at.is_null())
                .filter(outbox::available_at.le(now).or(outbox::attempts.gt(0)))
                .count()
                .get_result(conn)
        })
        .map_err(db_error)
}
