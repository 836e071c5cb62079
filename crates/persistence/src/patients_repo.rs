//! `PatientsRepo` on PostgreSQL.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use salus_domain::DomainError;
use salus_domain::ids::{ClinicId, PatientId};
use salus_domain::paging::Page;
use salus_domain::ports::patients::{
    Address, EmergencyContact, PatientFields, PatientKey, PatientQuery, PatientsRepo, Sex,
    StoredPatient,
};
use salus_domain::records::RecordState;
use uuid::Uuid;

use crate::schema::patients;
use crate::store::{PgTx, db_error};

type Res<T> = Result<T, DomainError>;

/// Rows per multi-row INSERT.
const INSERT_CHUNK: usize = 1000;

#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = patients)]
#[diesel(treat_none_as_null = true)]
struct PatientRow {
    clinic_id: Uuid,
    id: Uuid,
    family_name: String,
    given_name: String,
    birth_date: NaiveDate,
    sex: String,
    national_id: Option<Vec<u8>>,
    national_id_index: Option<Vec<u8>>,
    phone: Option<String>,
    email: Option<String>,
    address: Option<serde_json::Value>,
    emergency_contact: Option<serde_json::Value>,
    preferred_language: Option<String>,
    reminder_email: bool,
    reminder_sms: bool,
    medical_history: Option<Vec<u8>>,
    archived_at: Option<DateTime<Utc>>,
    version: i32,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    processing_restricted_at: Option<DateTime<Utc>>,
    records_archived_at: Option<DateTime<Utc>>,
}

fn to_json<T: serde::Serialize>(v: &Option<T>) -> Res<Option<serde_json::Value>> {
    v.as_ref()
        .map(|v| serde_json::to_value(v).map_err(|e| DomainError::Internal(e.to_string())))
        .transpose()
}

fn from_json<T: serde::de::DeserializeOwned>(v: Option<serde_json::Value>) -> Res<Option<T>> {
    v.map(|v| serde_json::from_value(v).map_err(|e| DomainError::Internal(e.to_string())))
        .transpose()
}

fn row(clinic: ClinicId, p: &StoredPatient) -> Res<PatientRow> {
    let f = &p.fields;
    Ok(PatientRow {
        clinic_id: clinic.0,
        id: p.id.0,
        family_name: f.family_name.clone(),
        given_name: f.given_name.clone(),
        birth_date: f.birth_date,
        sex: f.sex.as_str().to_owned(),
        national_id: p.sealed_national_id.clone(),
        national_id_index: p.national_id_index.clone(),
        phone: f.phone.clone(),
        email: f.email.clone(),
        address: to_json(&f.address)?,
        emergency_contact: to_json(&f.emergency_contact)?,
        preferred_language: f.preferred_language.clone(),
        reminder_email: f.reminder_email,
        reminder_sms: f.reminder_sms,
        medical_history: p.sealed_medical_history.clone(),
        archived_at: p.archived_at,
        version: p.version,
        created_at: p.created_at,
        updated_at: p.updated_at,
        processing_restricted_at: p.restricted_at,
        records_archived_at: p.records_archived_at,
    })
}

fn stored(r: PatientRow) -> Res<StoredPatient> {
    Ok(StoredPatient {
        id: PatientId(r.id),
        fields: PatientFields {
            family_name: r.family_name,
            given_name: r.given_name,
            birth_date: r.birth_date,
            sex: Sex::parse(&r.sex)
                .ok_or_else(|| DomainError::Internal(format!("unknown sex {}", r.sex)))?,
            national_id: None,
            phone: r.phone,
            email: r.email,
            address: from_json::<Address>(r.address)?,
            emergency_contact: from_json::<EmergencyContact>(r.emergency_contact)?,
            preferred_language: r.preferred_language,
            reminder_email: r.reminder_email,
            reminder_sms: r.reminder_sms,
        },
        sealed_national_id: r.national_id,
        national_id_index: r.national_id_index,
        sealed_medical_history: r.medical_history,
        archived_at: r.archived_at,
        restricted_at: r.processing_restricted_at,
        records_archived_at: r.records_archived_at,
        version: r.version,
        created_at: r.created_at,
        updated_at: r.updated_at,
    })
}

diesel::define_sql_function! {
    /// SQL `lower()`, for case-insensitive name order and prefix search.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

impl PatientsRepo for PgTx<'_> {
    fn insert_patient(&mut self, clinic: ClinicId, p: &StoredPatient) -> Res<()> {
        self.insert_patients(clinic, std::slice::from_ref(p))
    }

    fn insert_patients(&mut self, clinic: ClinicId, many: &[StoredPatient]) -> Res<()> {
        // PostgreSQL takes at most 65,535 parameters per statement (21 per row).
        for chunk in many.chunks(INSERT_CHUNK) {
            let rows = chunk
                .iter()
                .map(|p| row(clinic, p))
                .collect::<Res<Vec<_>>>()?;
            diesel::insert_into(patients::table)
                .values(&rows)
                .execute(self.conn)
                .map_err(db_error)?;
        }
        Ok(())
    }

    fn record_state(&mut self, clinic: ClinicId, patient: PatientId) -> Res<Option<RecordState>> {
        let archived: Option<Option<DateTime<Utc>>> = patients::table
            .find((clinic.0, patient.0))
            .select(patients::records_archived_at)
            .get_result(self.conn)
            .optional()
            .map_err(db_error)?;
        Ok(archived.map(|at| {
            if at.is_some() {
                RecordState::InRecordsArchive
            } else {
                RecordState::Active
            }
        }))
    }

    fn patient(&mut self, clinic: ClinicId, id: PatientId) -> Res<Option<StoredPatient>> {
        patients::table
            .find((clinic.0, id.0))
            .select(PatientRow::as_select())
            .first(self.conn)
            .optional()
            .map_err(db_error)?
            .map(stored)
            .transpose()
    }

    fn update_patient(&mut self, clinic: ClinicId, p: &StoredPatient, expected: i32) -> Res<bool> {
        diesel::update(
            patients::table
                .find((clinic.0, p.id.0))
                .filter(patients::version.eq(expected)),
        )
        .set(row(clinic, p)?)
        .execute(self.conn)
        .map(|n| n == 1)
        .map_err(db_error)
    }

    fn patients(
        &mut self,
        clinic: ClinicId,
        q: &PatientQuery,
        national_id_index: Option<&[u8]>,
    ) -> Res<Page<StoredPatient, PatientKey>> {
        let mut query = patients::table
            .filter(patients::clinic_id.eq(clinic.0))
            .select((
                PatientRow::as_select(),
                lower(patients::family_name),
                lower(patients::given_name),
            ))
            .into_boxed();
        // Patients in the records archive leave lists and search altogether.
        query = query.filter(patients::records_archived_at.is_null());
        if !q.include_archived {
            query = query.filter(patients::archived_at.is_null());
        }
        if let Some(name) = &q.name {
            // Folded by the database, like the names it compares them with.
            let escaped = name
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            let pattern = lower(format!("{escaped}%"));
            query = query.filter(
                lower(patients::family_name)
                    .like(pattern.clone())
                    .or(lower(patients::given_name).like(pattern)),
            );
        }
        if let Some(date) = q.birth_date {
            query = query.filter(patients::birth_date.eq(date));
        }
        if let Some(phone) = &q.phone {
            query = query.filter(patients::phone.eq(phone.clone()));
        }
        if let Some(index) = national_id_index {
            query = query.filter(patients::national_id_index.eq(index.to_vec()));
        }
        if let Some(PatientKey { family, given, id }) = &q.after {
            let (f, g, i) = (family.clone(), given.clone(), id.0);
            // Implied by the condition below; stated alone so the index on the
            // list's order starts the page at the cursor instead of the clinic's start.
            query = query.filter(lower(patients::family_name).ge(f.clone()));
            query = query.filter(
                lower(patients::family_name)
                    .gt(f.clone())
                    .or(lower(patients::family_name)
                        .eq(f.clone())
                        .and(lower(patients::given_name).gt(g.clone())))
                    .or(lower(patients::family_name)
                        .eq(f)
                        .and(lower(patients::given_name).eq(g))
                        .and(patients::id.gt(i))),
            );
        }
        let rows: Vec<(PatientRow, String, String)> = query
            .order((
                lower(patients::family_name).asc(),
                lower(patients::given_name).asc(),
                patients::id.asc(),
            ))
            .limit(Page::<(), ()>::fetch_size(q.limit))
            .load(self.conn)
            .map_err(db_error)?;
        let keyed = rows
            .into_iter()
            .map(|(row, family, given)| {
                let key = PatientKey {
                    family,
                    given,
                    id: PatientId(row.id),
                };
                stored(row).map(|patient| (patient, key))
            })
            .collect::<Res<Vec<_>>>()?;
        Ok(Page::from_rows(keyed, q.limit, |(_, key)| key.clone()).map(|(patient, _)| patient))
    }
}
