//! `IdempotencyRepo` on PostgreSQL: the claim is an `INSERT .. ON CONFLICT DO
//! NOTHING` on the `(clinic_id, caller_id, key_sha256)` key, so of concurrent
//! copies exactly one inserts and the others wait for its transaction, then
//! find its row.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Timestamptz, Uuid as SqlUuid};
use salus_domain::DomainError;
use salus_domain::ids::{ClinicId, PatientId};
use salus_domain::ports::idempotency::{
    IdempotencyRepo, IdempotentRequest, NewIdempotentRequest, SealedAnswer,
};
use uuid::Uuid;

use crate::cached::CacheStatement;
use crate::schema::idempotent_requests as ir;
use crate::store::{PgTx, db_error};

type Res<T> = Result<T, DomainError>;

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
}

type Row = (
    Uuid,
    String,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<i16>,
    Option<serde_json::Value>,
    Option<Vec<u8>>,
);

fn request(row: Row) -> Res<IdempotentRequest> {
    let (id, fingerprint, expires_at, locked_until, status, headers, body) = row;
    let answer = match (status, headers, body) {
        (Some(status), Some(headers), Some(body)) => Some(SealedAnswer {
            status: u16::try_from(status)
                .map_err(|_| DomainError::Internal("stored status out of range".into()))?,
            headers: serde_json::from_value(headers)
                .map_err(|e| DomainError::Internal(format!("stored headers: {e}")))?,
            body,
        }),
        _ => None,
    };
    Ok(IdempotentRequest {
        id,
        fingerprint,
        expires_at,
        locked_until,
        answer,
    })
}

impl IdempotencyRepo for PgTx<'_> {
    fn insert_idempotent_request(&mut self, request: &NewIdempotentRequest<'_>) -> Res<bool> {
        diesel::insert_into(ir::table)
            .values((
                ir::clinic_id.eq(request.clinic.0),
                ir::id.eq(request.id),
                ir::caller_id.eq(request.caller),
                ir::key_sha256.eq(request.key),
                ir::fingerprint.eq(request.fingerprint),
                ir::created_at.eq(request.created_at),
                ir::expires_at.eq(request.expires_at),
                ir::locked_until.eq(request.locked_until),
            ))
            .on_conflict((ir::clinic_id, ir::caller_id, ir::key_sha256))
            .do_nothing()
            .execute(self.conn)
            .map(|n| n == 1)
            .map_err(db_error)
    }

    fn idempotent_request(
        &mut self,
        clinic: ClinicId,
        caller: Uuid,
        key: &str,
    ) -> Res<Option<IdempotentRequest>> {
        ir::table
            .filter(ir::clinic_id.eq(clinic.0))
            .filter(ir::caller_id.eq(caller))
            .filter(ir::key_sha256.eq(key))
            .select((
                ir::id,
                ir::fingerprint,
                ir::expires_at,
                ir::locked_until,
                ir::response_status,
                ir::response_headers,
                ir::response_body,
            ))
            .for_update()
            .first::<Row>(self.conn)
            .optional()
            .map_err(db_error)?
            .map(request)
            .transpose()
    }

    fn forget_idempotent_request(&mut self, clinic: ClinicId, id: Uuid) -> Res<bool> {
        diesel::delete(ir::table.find((clinic.0, id)))
            .execute(self.conn)
            .map(|n| n == 1)
            .map_err(db_error)
    }

    fn answer_idempotent_request(
        &mut self,
        clinic: ClinicId,
        id: Uuid,
        answer: &SealedAnswer,
        patient: Option<PatientId>,
        now: DateTime<Utc>,
    ) -> Res<bool> {
        let status = i16::try_from(answer.status)
            .map_err(|_| DomainError::Internal("status out of range".into()))?;
        let headers = serde_json::to_value(&answer.headers)
            .map_err(|e| DomainError::Internal(format!("headers: {e}")))?;
        diesel::update(
            ir::table
                .find((clinic.0, id))
                .filter(ir::locked_until.is_not_null()),
        )
        .set((
            ir::locked_until.eq(None::<DateTime<Utc>>),
            ir::answered_at.eq(now),
            ir::response_status.eq(status),
            ir::response_headers.eq(headers),
            ir::response_body.eq(&answer.body),
            ir::patient_id.eq(patient.map(|p| p.0)),
        ))
        .execute(self.conn)
        .map(|n| n == 1)
        .map_err(db_error)
    }

    fn purge_idempotent_requests(
        &mut self,
        clinic: ClinicId,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Res<usize> {
        diesel::sql_query(
            "DELETE FROM idempotent_requests WHERE clinic_id = $1 AND id IN (
                 SELECT id FROM idempotent_requests WHERE clinic_id = $1 AND expires_at <= $2
                  ORDER BY expires_at LIMIT $3 FOR UPDATE SKIP LOCKED)",
        )
        .bind::<SqlUuid, _>(clinic.0)
        .bind::<Timestamptz, _>(now)
        .bind::<BigInt, _>(limit)
        .execute(self.conn)
        .map_err(db_error)
    }

    fn idempotency_clinics(&mut self) -> Res<Vec<ClinicId>> {
        diesel::sql_query(
            "SELECT clinic_id AS id FROM audit_chain_heads WHERE clinic_id IS NOT NULL ORDER BY 1",
        )
        .cached()
        .load::<Id>(self.conn)
        .map(|ids| ids.into_iter().map(|i| ClinicId(i.id)).collect())
        .map_err(db_error)
    }
}
