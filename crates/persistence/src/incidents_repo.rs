//! `IncidentsRepo` on PostgreSQL: the incident register's tables, and the
//! owners' and administrators' addresses through
//! `salus_platform_incident_contacts` (an operator's transaction names no table
//! of a clinic's own).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{
    Array, BigInt, Bytea, Integer, Nullable, Text, Timestamptz, Uuid as SqlUuid,
};
use salus_domain::DomainError;
use salus_domain::ids::{ClinicId, EvidenceId, IncidentId, OperatorId};
use salus_domain::ports::incidents::{
    AffectedClinic, ENTRY_KINDS, Entry, Evidence, Incident, IncidentStatus, IncidentsRepo, Notice,
    PersonalData, Severity, WithClinics,
};
use uuid::Uuid;

use crate::DbPool;
use crate::cached::CacheStatement;
use crate::store::{PgTx, db_error};

type Res<T> = Result<T, DomainError>;

const INCIDENT_COLUMNS: &str = "i.id, i.title, i.severity, i.status, i.personal_data, i.declared_at, \
     i.declared_by, i.aware_at, i.authority_notified_at, i.authority_reference, i.root_cause, \
     i.preventive_measures, i.closed_at";

#[derive(QueryableByName)]
struct IncidentRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Text)]
    title: String,
    #[diesel(sql_type = Text)]
    severity: String,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Text)]
    personal_data: String,
    #[diesel(sql_type = Timestamptz)]
    declared_at: DateTime<Utc>,
    #[diesel(sql_type = SqlUuid)]
    declared_by: Uuid,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    aware_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    authority_notified_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Text>)]
    authority_reference: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    root_cause: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    preventive_measures: Option<String>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    closed_at: Option<DateTime<Utc>>,
}

fn unknown(what: &str, value: &str) -> DomainError {
    DomainError::Internal(format!("unknown incident {what} {value}"))
}

impl TryFrom<IncidentRow> for Incident {
    type Error = DomainError;

    fn try_from(r: IncidentRow) -> Res<Self> {
        Ok(Self {
            id: IncidentId(r.id),
            severity: Severity::parse(&r.severity)
                .ok_or_else(|| unknown("severity", &r.severity))?,
            status: IncidentStatus::parse(&r.status).ok_or_else(|| unknown("status", &r.status))?,
            personal_data: PersonalData::parse(&r.personal_data)
                .ok_or_else(|| unknown("personal data", &r.personal_data))?,
            title: r.title,
            declared_at: r.declared_at,
            declared_by: OperatorId(r.declared_by),
            aware_at: r.aware_at,
            authority_notified_at: r.authority_notified_at,
            authority_reference: r.authority_reference,
            root_cause: r.root_cause,
            preventive_measures: r.preventive_measures,
            closed_at: r.closed_at,
        })
    }
}

#[derive(QueryableByName)]
struct ClinicRow {
    #[diesel(sql_type = SqlUuid)]
    incident_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    clinic_id: Uuid,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    notified_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Text>)]
    notice: Option<String>,
}

impl TryFrom<ClinicRow> for AffectedClinic {
    type Error = DomainError;

    fn try_from(r: ClinicRow) -> Res<Self> {
        let notice = r
            .notice
            .map(|n| serde_json::from_str::<Notice>(&n))
            .transpose()
            .map_err(|e| DomainError::Internal(format!("incident notice: {e}")))?;
        Ok(Self {
            clinic_id: ClinicId(r.clinic_id),
            notified_at: r.notified_at,
            notice,
        })
    }
}

#[derive(QueryableByName)]
struct EntryRow {
    #[diesel(sql_type = Integer)]
    seq: i32,
    #[diesel(sql_type = Timestamptz)]
    at: DateTime<Utc>,
    #[diesel(sql_type = SqlUuid)]
    operator_id: Uuid,
    #[diesel(sql_type = Text)]
    kind: String,
    #[diesel(sql_type = Text)]
    text: String,
}

#[derive(QueryableByName)]
struct EvidenceRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    clinic_id: Uuid,
    #[diesel(sql_type = BigInt)]
    events: i64,
    #[diesel(sql_type = Bytea)]
    sha256: Vec<u8>,
    #[diesel(sql_type = Timestamptz)]
    taken_at: DateTime<Utc>,
}

#[derive(QueryableByName)]
struct ClinicIncidentRow {
    #[diesel(embed)]
    incident: IncidentRow,
    #[diesel(embed)]
    clinic: ClinicRow,
}

#[derive(QueryableByName)]
struct EmailRow {
    #[diesel(sql_type = Text)]
    email: String,
}

fn load_incidents(conn: &mut PgConnection, only: Option<Uuid>, lock: bool) -> Res<Vec<Incident>> {
    let sql = format!(
        "SELECT {INCIDENT_COLUMNS} FROM incidents i WHERE ($1::uuid IS NULL OR i.id = $1)
          ORDER BY i.declared_at DESC, i.id DESC{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    diesel::sql_query(sql)
        .bind::<Nullable<SqlUuid>, _>(only)
        .cached()
        .load::<IncidentRow>(conn)
        .map_err(db_error)?
        .into_iter()
        .map(Incident::try_from)
        .collect()
}

fn load_clinics(conn: &mut PgConnection, only: Option<Uuid>) -> Res<Vec<(Uuid, AffectedClinic)>> {
    diesel::sql_query(
        "SELECT incident_id, clinic_id, notified_at, notice::text AS notice FROM incident_clinics
          WHERE $1::uuid IS NULL OR incident_id = $1 ORDER BY incident_id, clinic_id",
    )
    .bind::<Nullable<SqlUuid>, _>(only)
    .cached()
    .load::<ClinicRow>(conn)
    .map_err(db_error)?
    .into_iter()
    .map(|r| Ok((r.incident_id, AffectedClinic::try_from(r)?)))
    .collect()
}

fn with_clinics(conn: &mut PgConnection) -> Res<Vec<WithClinics>> {
    let incidents = load_incidents(conn, None, false)?;
    let mut clinics = load_clinics(conn, None)?;
    Ok(incidents
        .into_iter()
        .map(|i| {
            let mine = clinics
                .iter()
                .filter(|(id, _)| *id == i.id.0)
                .map(|(_, c)| c.clone())
                .collect();
            clinics.retain(|(id, _)| *id != i.id.0);
            (i, mine)
        })
        .collect())
}

/// Every incident with its clinics, read in the platform scope in a read-only
/// transaction of its own (what `/metrics` counts the overdue deadlines of).
pub fn incidents_with_clinics(pool: &DbPool) -> Res<Vec<WithClinics>> {
    let mut conn = crate::pool::checkout(pool)?;
    conn.build_transaction()
        .read_only()
        .run::<_, diesel::result::Error, _>(|conn| Ok(with_clinics(conn)))
        .map_err(db_error)?
}

impl IncidentsRepo for PgTx<'_> {
    fn insert_incident(&mut self, i: &Incident, clinics: &[ClinicId]) -> Res<()> {
        diesel::sql_query(
            "INSERT INTO incidents (id, title, severity, status, personal_data, declared_at,
                                    declared_by, aware_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind::<SqlUuid, _>(i.id.0)
        .bind::<Text, _>(&i.title)
        .bind::<Text, _>(i.severity.as_str())
        .bind::<Text, _>(i.status.as_str())
        .bind::<Text, _>(i.personal_data.as_str())
        .bind::<Timestamptz, _>(i.declared_at)
        .bind::<SqlUuid, _>(i.declared_by.0)
        .bind::<Nullable<Timestamptz>, _>(i.aware_at)
        .execute(self.conn)
        .map_err(db_error)?;
        let ids: Vec<Uuid> = clinics.iter().map(|c| c.0).collect();
        diesel::sql_query(
            "INSERT INTO incident_clinics (incident_id, clinic_id) SELECT $1, unnest($2::uuid[])",
        )
        .bind::<SqlUuid, _>(i.id.0)
        .bind::<Array<SqlUuid>, _>(ids)
        .execute(self.conn)
        .map(|_| ())
        .map_err(db_error)
    }

    fn incident(&mut self, id: IncidentId, lock: bool) -> Res<Option<Incident>> {
        Ok(load_incidents(self.conn, Some(id.0), lock)?
            .into_iter()
            .next())
    }

    fn incidents(&mut self) -> Res<Vec<WithClinics>> {
        with_clinics(self.conn)
    }

    fn update_incident(&mut self, i: &Incident) -> Res<()> {
        diesel::sql_query(
            "UPDATE incidents SET status = $2, personal_data = $3, aware_at = $4,
                    authority_notified_at = $5, authority_reference = $6, root_cause = $7,
                    preventive_measures = $8, closed_at = $9
              WHERE id = $1",
        )
        .bind::<SqlUuid, _>(i.id.0)
        .bind::<Text, _>(i.status.as_str())
        .bind::<Text, _>(i.personal_data.as_str())
        .bind::<Nullable<Timestamptz>, _>(i.aware_at)
        .bind::<Nullable<Timestamptz>, _>(i.authority_notified_at)
        .bind::<Nullable<Text>, _>(i.authority_reference.as_deref())
        .bind::<Nullable<Text>, _>(i.root_cause.as_deref())
        .bind::<Nullable<Text>, _>(i.preventive_measures.as_deref())
        .bind::<Nullable<Timestamptz>, _>(i.closed_at)
        .execute(self.conn)
        .map(|_| ())
        .map_err(db_error)
    }

    fn affected_clinics(&mut self, id: IncidentId) -> Res<Vec<AffectedClinic>> {
        Ok(load_clinics(self.conn, Some(id.0))?
            .into_iter()
            .map(|(_, c)| c)
            .collect())
    }

    fn clinic_notified(
        &mut self,
        id: IncidentId,
        clinic: ClinicId,
        at: DateTime<Utc>,
        notice: &Notice,
    ) -> Res<()> {
        let notice = serde_json::to_string(notice)
            .map_err(|e| DomainError::Internal(format!("incident notice: {e}")))?;
        diesel::sql_query(
            "UPDATE incident_clinics SET notified_at = $3, notice = $4::jsonb
              WHERE incident_id = $1 AND clinic_id = $2",
        )
        .bind::<SqlUuid, _>(id.0)
        .bind::<SqlUuid, _>(clinic.0)
        .bind::<Timestamptz, _>(at)
        .bind::<Text, _>(notice)
        .execute(self.conn)
        .map(|_| ())
        .map_err(db_error)
    }

    fn add_entry(&mut self, id: IncidentId, e: &Entry) -> Res<()> {
        diesel::sql_query(
            "INSERT INTO incident_entries (incident_id, seq, at, operator_id, kind, text)
             SELECT $1, coalesce(max(seq), 0) + 1, $2, $3, $4, $5
               FROM incident_entries WHERE incident_id = $1",
        )
        .bind::<SqlUuid, _>(id.0)
        .bind::<Timestamptz, _>(e.at)
        .bind::<SqlUuid, _>(e.operator_id.0)
        .bind::<Text, _>(e.kind)
        .bind::<Text, _>(&e.text)
        .execute(self.conn)
        .map(|_| ())
        .map_err(db_error)
    }

    fn entries(&mut self, id: IncidentId) -> Res<Vec<Entry>> {
        diesel::sql_query(
            "SELECT seq, at, operator_id, kind, text FROM incident_entries
              WHERE incident_id = $1 ORDER BY seq",
        )
        .bind::<SqlUuid, _>(id.0)
        .cached()
        .load::<EntryRow>(self.conn)
        .map_err(db_error)?
        .into_iter()
        .map(|r| {
            let kind = ENTRY_KINDS
                .into_iter()
                .find(|k| *k == r.kind)
                .ok_or_else(|| unknown("entry kind", &r.kind))?;
            Ok(Entry {
                seq: r.seq,
                at: r.at,
                operator_id: OperatorId(r.operator_id),
                kind,
                text: r.text,
            })
        })
        .collect()
    }

    fn insert_evidence(&mut self, id: IncidentId, e: &Evidence) -> Res<()> {
        diesel::sql_query(
            "INSERT INTO incident_evidence (id, incident_id, clinic_id, events, sha256, taken_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind::<SqlUuid, _>(e.id.0)
        .bind::<SqlUuid, _>(id.0)
        .bind::<SqlUuid, _>(e.clinic_id.0)
        .bind::<BigInt, _>(e.events)
        .bind::<Bytea, _>(&e.sha256)
        .bind::<Timestamptz, _>(e.taken_at)
        .execute(self.conn)
        .map(|_| ())
        .map_err(db_error)
    }

    fn evidence(&mut self, id: IncidentId) -> Res<Vec<Evidence>> {
        Ok(diesel::sql_query(
            "SELECT id, clinic_id, events, sha256, taken_at FROM incident_evidence
              WHERE incident_id = $1 ORDER BY taken_at, clinic_id",
        )
        .bind::<SqlUuid, _>(id.0)
        .cached()
        .load::<EvidenceRow>(self.conn)
        .map_err(db_error)?
        .into_iter()
        .map(|r| Evidence {
            id: EvidenceId(r.id),
            clinic_id: ClinicId(r.clinic_id),
            events: r.events,
            sha256: r.sha256,
            taken_at: r.taken_at,
        })
        .collect())
    }

    fn incident_contacts(&mut self, clinic: ClinicId) -> Res<Vec<String>> {
        Ok(
            diesel::sql_query("SELECT email FROM public.salus_platform_incident_contacts($1)")
                .bind::<SqlUuid, _>(clinic.0)
                .cached()
                .load::<EmailRow>(self.conn)
                .map_err(db_error)?
                .into_iter()
                .map(|r| r.email)
                .collect(),
        )
    }

    fn clinic_incidents(&mut self, clinic: ClinicId) -> Res<Vec<(Incident, AffectedClinic)>> {
        diesel::sql_query(format!(
            "SELECT {INCIDENT_COLUMNS}, c.incident_id, c.clinic_id, c.notified_at,
                    c.notice::text AS notice
               FROM incident_clinics c JOIN incidents i ON i.id = c.incident_id
              WHERE c.clinic_id = $1 ORDER BY i.declared_at DESC, i.id DESC"
        ))
        .bind::<SqlUuid, _>(clinic.0)
        .cached()
        .load::<ClinicIncidentRow>(self.conn)
        .map_err(db_error)?
        .into_iter()
        .map(|r| {
            Ok((
                Incident::try_from(r.incident)?,
                AffectedClinic::try_from(r.clinic)?,
            ))
        })
        .collect()
    }
}
