//! Webhook endpoints and deliveries on PostgreSQL. An event's deliveries are
//! written by one `INSERT .. SELECT` over the clinic's subscribed endpoints (on
//! the business plan), in the transaction of the change; the worker claims due deliveries of every
//! clinic with `FOR UPDATE SKIP LOCKED` (the deliveries' policy opens them to
//! the platform scope; the endpoints, with their URLs and secrets, stay the
//! clinic's) and leases them, so any number of nodes share the work.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Text, Timestamptz, Uuid as SqlUuid};
use salus_domain::DomainError;
use salus_domain::ids::{ClinicId, WebhookEndpointId, WebhookEventId};
use salus_domain::paging::Page;
use salus_domain::plans::Plan;
use salus_domain::ports::webhooks::{
    ClaimedDelivery, Delivery, DeliveryKey, DeliveryState, DisabledReason, EndpointKey,
    NewWebhookEvent, Next, Settlement, StoredEndpoint, WebhookEndpoint, WebhookEventsRepo,
    WebhooksRepo,
};
use salus_domain::webhooks::events::EventType;
use uuid::Uuid;

use crate::cached::CacheStatement;
use crate::schema::clinics;
use crate::schema::webhook_deliveries as d;
use crate::schema::webhook_endpoints as e;
use crate::store::{PgTx, db_error};

type Res<T> = Result<T, DomainError>;

/// Settled deliveries the purge removes per round at most.
const PURGE_BATCH: i64 = 5000;

type EndpointRow = (
    Uuid,
    String,
    String,
    Vec<String>,
    Option<DateTime<Utc>>,
    Option<String>,
    Vec<u8>,
    Option<Vec<u8>>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    i32,
    DateTime<Utc>,
    DateTime<Utc>,
);

type EndpointColumns = (
    e::id,
    e::url,
    e::description,
    e::event_types,
    e::disabled_at,
    e::disabled_reason,
    e::sealed_secret,
    e::sealed_previous_secret,
    e::previous_secret_expires_at,
    e::failing_since,
    e::version,
    e::created_at,
    e::updated_at,
);

const ENDPOINT_COLUMNS: EndpointColumns = (
    e::id,
    e::url,
    e::description,
    e::event_types,
    e::disabled_at,
    e::disabled_reason,
    e::sealed_secret,
    e::sealed_previous_secret,
    e::previous_secret_expires_at,
    e::failing_since,
    e::version,
    e::created_at,
    e::updated_at,
);

fn stored_error(what: &str) -> DomainError {
    DomainError::Internal(format!(
        "webhooks: a stored {what} is not one this server knows"
    ))
}

fn event_type(code: &str) -> Res<EventType> {
    EventType::parse(code).ok_or_else(|| stored_error("event type"))
}

fn to_endpoint(row: EndpointRow) -> Res<StoredEndpoint> {
    let (
        id,
        url,
        description,
        types,
        disabled_at,
        disabled_reason,
        sealed_secret,
        sealed_previous_secret,
        previous_secret_expires_at,
        failing_since,
        version,
        created_at,
        updated_at,
    ) = row;
    let disabled = match (disabled_reason, disabled_at) {
        (Some(reason), Some(at)) => Some((
            DisabledReason::parse(&reason).ok_or_else(|| stored_error("disabled reason"))?,
            at,
        )),
        _ => None,
    };
    Ok(StoredEndpoint {
        endpoint: WebhookEndpoint {
            id: WebhookEndpointId(id),
            url,
            description,
            event_types: types.iter().map(|t| event_type(t)).collect::<Res<_>>()?,
            disabled,
            previous_secret_expires_at,
            failing_since,
            version,
            created_at,
            updated_at,
        },
        sealed_secret,
        sealed_previous_secret,
    })
}

fn codes(types: &[EventType]) -> Vec<String> {
    types.iter().map(|t| t.code().to_owned()).collect()
}

type DeliveryRow = (
    i64,
    Uuid,
    String,
    DateTime<Utc>,
    String,
    i32,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<i32>,
    Option<String>,
    Option<DateTime<Utc>>,
);

type DeliveryColumns = (
    d::seq,
    d::event_id,
    d::event_type,
    d::created_at,
    d::state,
    d::attempts,
    d::next_attempt_at,
    d::last_attempt_at,
    d::last_status,
    d::last_error,
    d::delivered_at,
);

const DELIVERY_COLUMNS: DeliveryColumns = (
    d::seq,
    d::event_id,
    d::event_type,
    d::created_at,
    d::state,
    d::attempts,
    d::next_attempt_at,
    d::last_attempt_at,
    d::last_status,
    d::last_error,
    d::delivered_at,
);

fn to_delivery(row: DeliveryRow) -> Res<(i64, Delivery)> {
    let (seq, event, kind, created_at, state, attempts, next, last, status, error, delivered) = row;
    let state = DeliveryState::parse(&state).ok_or_else(|| stored_error("delivery state"))?;
    Ok((
        seq,
        Delivery {
            event_id: WebhookEventId(event),
            event_type: event_type(&kind)?,
            created_at,
            state,
            attempts,
            next_attempt_at: (state == DeliveryState::Pending).then_some(next),
            last_attempt_at: last,
            last_status: status,
            last_error: error,
            delivered_at: delivered,
        },
    ))
}

impl WebhookEventsRepo for PgTx<'_> {
    fn enqueue_webhook_event(&mut self, clinic: ClinicId, event: &NewWebhookEvent) -> Res<usize> {
        use diesel::sql_types::Nullable;
        let code = event.kind.code();
        // Webhooks are the business plan's: on another plan (a clinic moved
        // off it), nothing is queued; its endpoints wait for the plan's return.
        let on_the_plan = clinics::table
            .filter(clinics::id.eq(clinic.0))
            .filter(clinics::plan.eq(Plan::Business.as_str()))
            .select(clinics::id);
        let subscribed = e::table
            .filter(e::clinic_id.eq(clinic.0))
            .filter(e::clinic_id.eq_any(on_the_plan))
            .filter(e::enabled.eq(true))
            .filter(e::event_types.contains(vec![code]))
            .select((
                e::clinic_id,
                e::id,
                event.id.0.into_sql::<SqlUuid>(),
                code.into_sql::<Text>(),
                event.resource.into_sql::<SqlUuid>(),
                event.patient.map(|p| p.0).into_sql::<Nullable<SqlUuid>>(),
                event.payload.as_str().into_sql::<Text>(),
                event.at.into_sql::<Timestamptz>(),
                DeliveryState::Pending.as_str().into_sql::<Text>(),
                event.at.into_sql::<Timestamptz>(),
                event.give_up_at.into_sql::<Timestamptz>(),
            ));
        diesel::insert_into(d::table)
            .values(subscribed)
            .into_columns((
                d::clinic_id,
                d::endpoint_id,
                d::event_id,
                d::event_type,
                d::resource_id,
                d::patient_id,
                d::payload,
                d::created_at,
                d::state,
                d::next_attempt_at,
                d::give_up_at,
            ))
            .execute(self.conn)
            .map_err(db_error)
    }
}

#[derive(QueryableByName)]
struct ClaimedRow {
    #[diesel(sql_type = SqlUuid)]
    clinic_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    endpoint_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    event_id: Uuid,
    #[diesel(sql_type = Text)]
    payload: String,
    #[diesel(sql_type = Integer)]
    attempts: i32,
    #[diesel(sql_type = Timestamptz)]
    give_up_at: DateTime<Utc>,
}

/// Due deliveries, oldest due first, none behind an earlier pending delivery of
/// the same resource to the same endpoint, locked (skipping those another
/// worker holds) and leased until `$2`.
const CLAIM_SQL: &str = "\
WITH due AS (
    SELECT w.clinic_id, w.endpoint_id, w.event_id
      FROM webhook_deliveries w
     WHERE w.state = 'pending' AND w.next_attempt_at <= $1
       AND NOT EXISTS (
           SELECT 1 FROM webhook_deliveries earlier
            WHERE earlier.clinic_id = w.clinic_id AND earlier.endpoint_id = w.endpoint_id
              AND earlier.resource_id = w.resource_id AND earlier.state = 'pending'
              AND earlier.seq < w.seq)
     ORDER BY w.next_attempt_at, w.seq
     LIMIT $3
       FOR UPDATE SKIP LOCKED)
UPDATE webhook_deliveries w SET next_attempt_at = $2
  FROM due
 WHERE w.clinic_id = due.clinic_id AND w.endpoint_id = due.endpoint_id AND w.event_id = due.event_id
RETURNING w.clinic_id, w.endpoint_id, w.event_id, w.payload, w.attempts, w.give_up_at";

impl WebhooksRepo for PgTx<'_> {
    fn webhook_endpoints(
        &mut self,
        clinic: ClinicId,
        after: Option<EndpointKey>,
        limit: i64,
    ) -> Res<Page<WebhookEndpoint, EndpointKey>> {
        let mut q = e::table.filter(e::clinic_id.eq(clinic.0)).into_boxed();
        if let Some(EndpointKey { id }) = after {
            q = q.filter(e::id.gt(id));
        }
        let rows: Vec<EndpointRow> = q
            .order(e::id.asc())
            .limit(Page::<(), ()>::fetch_size(limit))
            .select(ENDPOINT_COLUMNS)
            .load(self.conn)
            .map_err(db_error)?;
        let endpoints = rows
            .into_iter()
            .map(|row| to_endpoint(row).map(|s| s.endpoint))
            .collect::<Res<Vec<_>>>()?;
        Ok(Page::from_rows(endpoints, limit, |w: &WebhookEndpoint| {
            EndpointKey { id: w.id.0 }
        }))
    }

    fn count_webhook_endpoints(&mut self, clinic: ClinicId) -> Res<i64> {
        e::table
            .filter(e::clinic_id.eq(clinic.0))
            .count()
            .get_result(self.conn)
            .map_err(db_error)
    }

    fn webhook_endpoint(
        &mut self,
        clinic: ClinicId,
        id: WebhookEndpointId,
    ) -> Res<Option<StoredEndpoint>> {
        e::table
            .filter(e::clinic_id.eq(clinic.0))
            .filter(e::id.eq(id.0))
            .select(ENDPOINT_COLUMNS)
            .first::<EndpointRow>(self.conn)
            .optional()
            .map_err(db_error)?
            .map(to_endpoint)
            .transpose()
    }

    fn insert_webhook_endpoint(&mut self, clinic: ClinicId, s: &StoredEndpoint) -> Res<()> {
        let w = &s.endpoint;
        diesel::insert_into(e::table)
            .values((
                e::clinic_id.eq(clinic.0),
                e::id.eq(w.id.0),
                e::url.eq(&w.url),
                e::description.eq(&w.description),
                e::event_types.eq(codes(&w.event_types)),
                e::enabled.eq(w.disabled.is_none()),
                e::disabled_at.eq(w.disabled.map(|(_, at)| at)),
                e::disabled_reason.eq(w.disabled.map(|(r, _)| r.as_str())),
                e::sealed_secret.eq(&s.sealed_secret),
                e::sealed_previous_secret.eq(&s.sealed_previous_secret),
                e::previous_secret_expires_at.eq(w.previous_secret_expires_at),
                e::failing_since.eq(w.failing_since),
                e::version.eq(w.version),
                e::created_at.eq(w.created_at),
                e::updated_at.eq(w.updated_at),
            ))
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }

    fn update_webhook_endpoint(&mut self, clinic: ClinicId, s: &StoredEndpoint) -> Res<()> {
        let w = &s.endpoint;
        diesel::update(
            e::table
                .filter(e::clinic_id.eq(clinic.0))
                .filter(e::id.eq(w.id.0)),
        )
        .set((
            e::url.eq(&w.url),
            e::description.eq(&w.description),
            e::event_types.eq(codes(&w.event_types)),
            e::enabled.eq(w.disabled.is_none()),
            e::disabled_at.eq(w.disabled.map(|(_, at)| at)),
            e::disabled_reason.eq(w.disabled.map(|(r, _)| r.as_str())),
            e::sealed_secret.eq(&s.sealed_secret),
            e::sealed_previous_secret.eq(&s.sealed_previous_secret),
            e::previous_secret_expires_at.eq(w.previous_secret_expires_at),
            e::failing_since.eq(w.failing_since),
            e::version.eq(w.version),
            e::updated_at.eq(w.updated_at),
        ))
        .execute(self.conn)
        .map(|_| ())
        .map_err(db_error)
    }

    fn set_webhook_failing_since(
        &mut self,
        clinic: ClinicId,
        id: WebhookEndpointId,
        since: Option<DateTime<Utc>>,
    ) -> Res<()> {
        let row = e::table
            .filter(e::clinic_id.eq(clinic.0))
            .filter(e::id.eq(id.0));
        // Written only when it changes: a success after a success writes nothing.
        let written = match since {
            Some(_) => diesel::update(row.filter(e::failing_since.is_null()))
                .set(e::failing_since.eq(since))
                .execute(self.conn),
            None => diesel::update(row.filter(e::failing_since.is_not_null()))
                .set(e::failing_since.eq(since))
                .execute(self.conn),
        };
        written.map(|_| ()).map_err(db_error)
    }

    fn delete_webhook_endpoint(&mut self, clinic: ClinicId, id: WebhookEndpointId) -> Res<bool> {
        diesel::delete(
            d::table
                .filter(d::clinic_id.eq(clinic.0))
                .filter(d::endpoint_id.eq(id.0)),
        )
        .execute(self.conn)
        .map_err(db_error)?;
        diesel::delete(
            e::table
                .filter(e::clinic_id.eq(clinic.0))
                .filter(e::id.eq(id.0)),
        )
        .execute(self.conn)
        .map(|n| n == 1)
        .map_err(db_error)
    }

    fn webhook_deliveries(
        &mut self,
        clinic: ClinicId,
        endpoint: WebhookEndpointId,
        before: Option<DeliveryKey>,
        limit: i64,
    ) -> Res<Page<Delivery, DeliveryKey>> {
        let mut q = d::table
            .filter(d::clinic_id.eq(clinic.0))
            .filter(d::endpoint_id.eq(endpoint.0))
            .into_boxed();
        if let Some(DeliveryKey { seq }) = before {
            q = q.filter(d::seq.lt(seq));
        }
        let rows: Vec<DeliveryRow> = q
            .order(d::seq.desc())
            .limit(Page::<(), ()>::fetch_size(limit))
            .select(DELIVERY_COLUMNS)
            .load(self.conn)
            .map_err(db_error)?;
        let rows = rows.into_iter().map(to_delivery).collect::<Res<Vec<_>>>()?;
        Ok(
            Page::from_rows(rows, limit, |(seq, _)| DeliveryKey { seq: *seq })
                .map(|(_, delivery)| delivery),
        )
    }

    fn webhook_delivery(
        &mut self,
        clinic: ClinicId,
        endpoint: WebhookEndpointId,
        event: WebhookEventId,
    ) -> Res<Option<Delivery>> {
        d::table
            .filter(d::clinic_id.eq(clinic.0))
            .filter(d::endpoint_id.eq(endpoint.0))
            .filter(d::event_id.eq(event.0))
            .select(DELIVERY_COLUMNS)
            .first::<DeliveryRow>(self.conn)
            .optional()
            .map_err(db_error)?
            .map(|row| to_delivery(row).map(|(_, delivery)| delivery))
            .transpose()
    }

    fn rearm_webhook_delivery(
        &mut self,
        clinic: ClinicId,
        endpoint: WebhookEndpointId,
        event: WebhookEventId,
        now: DateTime<Utc>,
        give_up_at: DateTime<Utc>,
    ) -> Res<()> {
        diesel::update(
            d::table
                .filter(d::clinic_id.eq(clinic.0))
                .filter(d::endpoint_id.eq(endpoint.0))
                .filter(d::event_id.eq(event.0)),
        )
        .set((
            d::state.eq(DeliveryState::Pending.as_str()),
            d::attempts.eq(0),
            d::next_attempt_at.eq(now),
            d::give_up_at.eq(give_up_at),
            d::delivered_at.eq(None::<DateTime<Utc>>),
        ))
        .execute(self.conn)
        .map(|_| ())
        .map_err(db_error)
    }

    fn give_up_webhook_deliveries(
        &mut self,
        clinic: ClinicId,
        endpoint: WebhookEndpointId,
        why: &str,
    ) -> Res<usize> {
        diesel::update(
            d::table
                .filter(d::clinic_id.eq(clinic.0))
                .filter(d::endpoint_id.eq(endpoint.0))
                .filter(d::state.eq(DeliveryState::Pending.as_str())),
        )
        .set((
            d::state.eq(DeliveryState::Failed.as_str()),
            d::last_error.eq(why),
        ))
        .execute(self.conn)
        .map_err(db_error)
    }

    fn claim_webhook_deliveries(
        &mut self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: i64,
    ) -> Res<Vec<ClaimedDelivery>> {
        let rows: Vec<ClaimedRow> = diesel::sql_query(CLAIM_SQL)
            .bind::<Timestamptz, _>(now)
            .bind::<Timestamptz, _>(lease_until)
            .bind::<BigInt, _>(limit)
            .cached()
            .load(self.conn)
            .map_err(db_error)?;
        Ok(rows
            .into_iter()
            .map(|r| ClaimedDelivery {
                clinic: ClinicId(r.clinic_id),
                endpoint: WebhookEndpointId(r.endpoint_id),
                event: WebhookEventId(r.event_id),
                payload: r.payload,
                attempts: r.attempts,
                give_up_at: r.give_up_at,
            })
            .collect())
    }

    fn settle_webhook_delivery(
        &mut self,
        clinic: ClinicId,
        endpoint: WebhookEndpointId,
        event: WebhookEventId,
        s: &Settlement,
    ) -> Res<()> {
        let (state, next, delivered_at) = match s.next {
            Next::Delivered => (
                DeliveryState::Delivered,
                s.attempted_at,
                Some(s.attempted_at),
            ),
            Next::Retry(at) => (DeliveryState::Pending, at, None),
            Next::GiveUp => (DeliveryState::Failed, s.attempted_at, None),
        };
        diesel::update(
            d::table
                .filter(d::clinic_id.eq(clinic.0))
                .filter(d::endpoint_id.eq(endpoint.0))
                .filter(d::event_id.eq(event.0))
                .filter(d::state.eq(DeliveryState::Pending.as_str())),
        )
        .set((
            d::state.eq(state.as_str()),
            d::attempts.eq(d::attempts + 1),
            d::next_attempt_at.eq(next),
            d::last_attempt_at.eq(Some(s.attempted_at)),
            d::last_status.eq(s.status),
            d::last_error.eq(s.error.as_deref()),
            d::delivered_at.eq(delivered_at),
        ))
        .execute(self.conn)
        .map(|_| ())
        .map_err(db_error)
    }

    fn purge_webhook_deliveries(&mut self, before: DateTime<Utc>) -> Res<usize> {
        diesel::sql_query(
            "DELETE FROM webhook_deliveries WHERE seq IN (\
               SELECT seq FROM webhook_deliveries \
                WHERE state <> 'pending' AND created_at < $1 LIMIT $2)",
        )
        .bind::<Timestamptz, _>(before)
        .bind::<BigInt, _>(PURGE_BATCH)
        .execute(self.conn)
        .map_err(db_error)
    }
}
