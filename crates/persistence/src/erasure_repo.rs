//! `ErasureRepo` on PostgreSQL: erasure requests and decisions, the patient's last
//! encounter, the erasure function `salus_erase_patient` (migration 000022), the
//! catalogue walk that checks nothing of the patient remains, and tombstones.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Nullable, Timestamptz, Uuid as SqlUuid};
use salus_domain::DomainError;
use salus_domain::ids::{ClinicId, ErasureRequestId, MembershipId, PatientId};
use salus_domain::ports::closure::TableRows;
use salus_domain::ports::erasure::{
    Decided, ErasureDecision, ErasureRepo, ErasureRequest, Tombstone,
};
use uuid::Uuid;

use crate::cached::CacheStatement;
use crate::catalogue::{Deleted, remaining, table_rows, tables_with_column};
use crate::schema::patient_erasure_requests as er;
use crate::schema::patient_tombstones as pt;
use crate::store::{PgTx, db_error};

type Res<T> = Result<T, DomainError>;
type Row = (
    Uuid,
    Uuid,
    Uuid,
    DateTime<Utc>,
    String,
    Option<String>,
    Option<Uuid>,
    Option<DateTime<Utc>>,
    Option<String>,
);

const COLUMNS: (
    er::id,
    er::patient_id,
    er::requested_by,
    er::requested_at,
    er::reason,
    er::decision,
    er::decided_by,
    er::decided_at,
    er::decision_reason,
) = (
    er::id,
    er::patient_id,
    er::requested_by,
    er::requested_at,
    er::reason,
    er::decision,
    er::decided_by,
    er::decided_at,
    er::decision_reason,
);

fn request(r: Row) -> Res<ErasureRequest> {
    let decided = match (r.5, r.6, r.7, r.8) {
        (Some(decision), Some(by), Some(at), Some(reason)) => Some(Decided {
            decision: ErasureDecision::parse(&decision)
                .ok_or_else(|| DomainError::Internal(format!("erasure decision {decision}")))?,
            by: MembershipId(by),
            at,
            reason,
        }),
        _ => None,
    };
    Ok(ErasureRequest {
        id: ErasureRequestId(r.0),
        patient_id: PatientId(r.1),
        requested_by: MembershipId(r.2),
        requested_at: r.3,
        reason: r.4,
        decided,
    })
}

#[derive(QueryableByName)]
struct Last {
    #[diesel(sql_type = Nullable<Timestamptz>)]
    at: Option<DateTime<Utc>>,
}

impl ErasureRepo for PgTx<'_> {
    fn insert_erasure_request(&mut self, clinic: ClinicId, r: &ErasureRequest) -> Res<()> {
        diesel::insert_into(er::table)
            .values((
                er::clinic_id.eq(clinic.0),
                er::id.eq(r.id.0),
                er::patient_id.eq(r.patient_id.0),
                er::requested_by.eq(r.requested_by.0),
                er::requested_at.eq(r.requested_at),
                er::reason.eq(&r.reason),
            ))
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }

    fn latest_erasure_request(
        &mut self,
        clinic: ClinicId,
        patient: PatientId,
        lock: bool,
    ) -> Res<Option<ErasureRequest>> {
        let query = er::table
            .filter(er::clinic_id.eq(clinic.0))
            .filter(er::patient_id.eq(patient.0))
            .order((
                er::decision.is_null().desc(),
                er::requested_at.desc(),
                er::id.desc(),
            ))
            .select(COLUMNS);
        let row = if lock {
            query.for_update().first::<Row>(self.conn).optional()
        } else {
            query.first::<Row>(self.conn).optional()
        };
        row.map_err(db_error)?.map(request).transpose()
    }

    fn decide_erasure(&mut self, clinic: ClinicId, id: ErasureRequestId, d: &Decided) -> Res<()> {
        diesel::update(er::table.find((clinic.0, id.0)))
            .filter(er::decision.is_null())
            .set((
                er::decision.eq(d.decision.as_str()),
                er::decided_by.eq(d.by.0),
                er::decided_at.eq(d.at),
                er::decision_reason.eq(&d.reason),
            ))
            .execute(self.conn)
            .map_err(db_error)
            .and_then(|n| {
                if n == 1 {
                    Ok(())
                } else {
                    Err(DomainError::Internal(format!(
                        "erasure request {id} was decided twice"
                    )))
                }
            })
    }

    fn last_encounter(
        &mut self,
        clinic: ClinicId,
        patient: PatientId,
    ) -> Res<Option<DateTime<Utc>>> {
        diesel::sql_query(
            "SELECT greatest(
                 (SELECT max(a.starts_at) FROM appointments a
                   WHERE a.clinic_id = $1 AND a.patient_id = $2
                     AND a.status NOT IN ('cancelled', 'no_show')),
                 (SELECT max(n.created_at) FROM clinical_notes n
                   WHERE n.clinic_id = $1 AND n.patient_id = $2)) AS at",
        )
        .bind::<SqlUuid, _>(clinic.0)
        .bind::<SqlUuid, _>(patient.0)
        .cached()
        .get_result::<Last>(self.conn)
        .map(|l| l.at)
        .map_err(db_error)
    }

    fn erase_patient(&mut self, clinic: ClinicId, patient: PatientId) -> Res<Vec<TableRows>> {
        diesel::sql_query("SELECT table_name, deleted FROM public.salus_erase_patient($1, $2)")
            .bind::<SqlUuid, _>(clinic.0)
            .bind::<SqlUuid, _>(patient.0)
            .cached()
            .load::<Deleted>(self.conn)
            .map(table_rows)
            .map_err(db_error)
    }

    fn patient_remains(&mut self, clinic: ClinicId, patient: PatientId) -> Res<Vec<TableRows>> {
        let (clinic, patient) = (clinic.0, patient.0);
        let tables = tables_with_column(self.conn, "patient_id", &["audit"])?;
        let targets = tables
            .into_iter()
            .map(|t| (t, "patient_id"))
            .chain([("public.patients".to_owned(), "id")])
            .map(|(table, column)| {
                (
                    table,
                    format!("clinic_id = '{clinic}' AND {column} = '{patient}'"),
                )
            });
        remaining(self.conn, targets)
    }

    fn insert_tombstone(&mut self, clinic: ClinicId, t: &Tombstone) -> Res<()> {
        diesel::insert_into(pt::table)
            .values((
                pt::clinic_id.eq(clinic.0),
                pt::erased_patient_id.eq(t.patient_id.0),
                pt::request_id.eq(t.request_id.0),
                pt::requested_by.eq(t.requested_by.0),
                pt::decided_by.eq(t.decided_by.0),
                pt::erased_at.eq(t.erased_at),
            ))
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }

    fn tombstone(&mut self, clinic: ClinicId, patient: PatientId) -> Res<Option<Tombstone>> {
        pt::table
            .find((clinic.0, patient.0))
            .select((
                pt::request_id,
                pt::requested_by,
                pt::decided_by,
                pt::erased_at,
            ))
            .first::<(Uuid, Uuid, Uuid, DateTime<Utc>)>(self.conn)
            .optional()
            .map(|r| {
                r.map(|(request, requested_by, decided_by, erased_at)| Tombstone {
                    patient_id: patient,
                    request_id: ErasureRequestId(request),
                    requested_by: MembershipId(requested_by),
                    decided_by: MembershipId(decided_by),
                    erased_at,
                })
            })
            .map_err(db_error)
    }
}
