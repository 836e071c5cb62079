//! `NotesRepo` on PostgreSQL.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use salus_domain::DomainError;
use salus_domain::ids::{AppointmentId, ClinicId, MembershipId, NoteId, PatientId};
use salus_domain::ports::notes::{NotesRepo, StoredNote};
use uuid::Uuid;

use crate::schema::clinical_notes;
use crate::store::{PgTx, db_error};

type Res<T> = Result<T, DomainError>;

#[derive(Queryable, Selectable)]
#[diesel(table_name = clinical_notes)]
struct Row {
    id: Uuid,
    patient_id: Uuid,
    appointment_id: Option<Uuid>,
    author_membership_id: Uuid,
    amends_id: Option<Uuid>,
    body: Vec<u8>,
    signed_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    version: i32,
}

fn note(r: Row) -> StoredNote {
    StoredNote {
        id: NoteId(r.id),
        patient_id: PatientId(r.patient_id),
        appointment_id: r.appointment_id.map(AppointmentId),
        author: MembershipId(r.author_membership_id),
        amends_id: r.amends_id.map(NoteId),
        sealed_body: r.body,
        signed_at: r.signed_at,
        created_at: r.created_at,
        version: r.version,
    }
}

impl NotesRepo for PgTx<'_> {
    fn insert_note(&mut self, clinic: ClinicId, n: &StoredNote) -> Res<()> {
        diesel::insert_into(clinical_notes::table)
            .values((
                clinical_notes::clinic_id.eq(clinic.0),
                clinical_notes::id.eq(n.id.0),
                clinical_notes::patient_id.eq(n.patient_id.0),
                clinical_notes::appointment_id.eq(n.appointment_id.map(|a| a.0)),
                clinical_notes::author_membership_id.eq(n.author.0),
                clinical_notes::amends_id.eq(n.amends_id.map(|a| a.0)),
                clinical_notes::body.eq(&n.sealed_body),
                clinical_notes::signed_at.eq(n.signed_at),
                clinical_notes::created_at.eq(n.created_at),
                clinical_notes::updated_at.eq(n.created_at),
            ))
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }

    fn note(&mut self, clinic: ClinicId, id: NoteId) -> Res<Option<StoredNote>> {
        clinical_notes::table
            .find((clinic.0, id.0))
            .select(Row::as_select())
            .for_update()
            .first(self.conn)
            .optional()
            .map(|r| r.map(note))
            .map_err(db_error)
    }

    fn update_note(&mut self, clinic: ClinicId, n: &StoredNote, at: DateTime<Utc>) -> Res<()> {
        diesel::update(clinical_notes::table.find((clinic.0, n.id.0)))
            .set((
                clinical_notes::body.eq(&n.sealed_body),
                clinical_notes::signed_at.eq(n.signed_at),
                clinical_notes::updated_at.eq(at),
                clinical_notes::version.eq(n.version),
            ))
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }

    fn notes(&mut self, clinic: ClinicId, patient: PatientId) -> Res<Vec<StoredNote>> {
        clinical_notes::table
            .filter(clinical_notes::clinic_id.eq(clinic.0))
            .filter(clinical_notes::patient_id.eq(patient.0))
            .order(clinical_notes::seq.asc())
            .limit(1000)
            .select(Row::as_select())
            .load(self.conn)
            .map(|rows| rows.into_iter().map(note).collect())
            .map_err(db_error)
    }
}
