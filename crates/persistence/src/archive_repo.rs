//! `ArchiveRepo` on PostgreSQL: the clinics (through their audit chains, which
//! the platform scope sees), the clinic row locked `SKIP LOCKED`, and the one
//! statement that moves inactive patients to the records archive.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Timestamptz, Uuid as SqlUuid};
use salus_domain::DomainError;
use salus_domain::ids::{ClinicId, PatientId};
use salus_domain::ports::archive::ArchiveRepo;
use uuid::Uuid;

use crate::cached::CacheStatement;
use crate::store::{PgTx, db_error};

type Res<T> = Result<T, DomainError>;

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
}

impl ArchiveRepo for PgTx<'_> {
    fn archive_clinics(&mut self) -> Res<Vec<ClinicId>> {
        diesel::sql_query(
            "SELECT clinic_id AS id FROM audit_chain_heads WHERE clinic_id IS NOT NULL ORDER BY 1",
        )
        .cached()
        .load::<Id>(self.conn)
        .map(|ids| ids.into_iter().map(|i| ClinicId(i.id)).collect())
        .map_err(db_error)
    }

    fn lock_clinic_for_archive(&mut self, clinic: ClinicId) -> Res<bool> {
        diesel::sql_query("SELECT id FROM clinics WHERE id = $1 FOR UPDATE SKIP LOCKED")
            .bind::<SqlUuid, _>(clinic.0)
            .cached()
            .get_result::<Id>(self.conn)
            .optional()
            .map(|r| r.is_some())
            .map_err(db_error)
    }

    fn move_to_records_archive(
        &mut self,
        clinic: ClinicId,
        before: DateTime<Utc>,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Res<Vec<PatientId>> {
        diesel::sql_query(
            "UPDATE patients p SET records_archived_at = $3, version = p.version + 1, updated_at = $3
              WHERE p.clinic_id = $1 AND p.id IN (
                    SELECT q.id FROM patients q
                     WHERE q.clinic_id = $1 AND q.records_archived_at IS NULL
                       AND coalesce(greatest(
                               (SELECT max(a.starts_at) FROM appointments a
                                 WHERE a.clinic_id = q.clinic_id AND a.patient_id = q.id
                                   AND a.status NOT IN ('cancelled', 'no_show')),
                               (SELECT max(n.created_at) FROM clinical_notes n
                                 WHERE n.clinic_id = q.clinic_id AND n.patient_id = q.id)),
                           q.created_at) < $2
                     ORDER BY q.id LIMIT $4 FOR UPDATE SKIP LOCKED)
              RETURNING p.id",
        )
        .bind::<SqlUuid, _>(clinic.0)
        .bind::<Timestamptz, _>(before)
        .bind::<Timestamptz, _>(now)
        .bind::<BigInt, _>(limit)
        .cached().load::<Id>(self.conn)
        .map(|ids| ids.into_iter().map(|i| PatientId(i.id)).collect())
        .map_err(db_error)
    }
}
