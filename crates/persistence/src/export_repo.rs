//! `ExportRepo` on PostgreSQL: export records, and the walk over every table
//! of a clinic with a server-side cursor per table (fetched in batches, so
//! memory stays flat whatever the clinic's size), inside the caller's
//! read-only snapshot.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::Text;
use salus_domain::DomainError;
use salus_domain::ids::{AccountId, ClinicId};
use salus_domain::ports::export::{Encryption, ExportRecord, ExportRepo, ExportTable};
use uuid::Uuid;

use crate::cached::CacheStatement;
use crate::schema::clinic_exports as ce;
use crate::store::{PgTx, db_error};

type Res<T> = Result<T, DomainError>;
type JsonRow = serde_json::Map<String, serde_json::Value>;

/// Rows fetched per round trip.
const FETCH: usize = 500;

/// Tables that are not the clinic's data but its secrets and machinery: keys,
/// sign-in secrets and sessions, the chain heads (the audit part holds the
/// chain), the exports themselves, and the answers kept a day for idempotent
/// retries (copies of what the records hold, sealed).
const LEFT_OUT: &[&str] = &[
    "public.clinic_keys",
    "public.sessions",
    "public.refresh_tokens",
    "public.mfa_challenges",
    "public.audit_chain_heads",
    "public.clinic_exports",
    "public.idempotent_requests",
];

/// Columns left out wherever they are: token hashes, the blind index, and
/// webhook endpoints' sealed signing secrets.
const COLUMNS_LEFT_OUT: &[&str] = &[
    "token_hash",
    "national_id_index",
    "sealed_secret",
    "sealed_previous_secret",
];

#[derive(QueryableByName)]
struct Table {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    clinic_column: String,
    #[diesel(sql_type = diesel::sql_types::Array<Text>)]
    columns: Vec<String>,
}

#[derive(QueryableByName)]
struct Json {
    #[diesel(sql_type = Text)]
    json: String,
}

#[derive(QueryableByName)]
struct Version {
    #[diesel(sql_type = Text)]
    version: String,
}

type Row = (
    Uuid,
    Uuid,
    Uuid,
    DateTime<Utc>,
    DateTime<Utc>,
    Option<String>,
    Option<Vec<u8>>,
    i32,
    Option<String>,
);

fn record(r: Row) -> ExportRecord {
    let encryption = match (r.5, r.6) {
        (Some(recipient), _) => Encryption::Recipient(recipient),
        (None, Some(sealed)) => Encryption::Passphrase(sealed),
        (None, None) => Encryption::Forgotten,
    };
    ExportRecord {
        clinic_id: ClinicId(r.0),
        id: r.1,
        requested_by: AccountId(r.2),
        created_at: r.3,
        expires_at: r.4,
        encryption,
        downloads: r.7,
        last_manifest_sha256: r.8,
    }
}

fn parse(json: &str) -> Res<JsonRow> {
    serde_json::from_str(json).map_err(|e| DomainError::Internal(format!("export row: {e}")))
}

impl PgTx<'_> {
    /// Runs `query` (one JSON text column, `json`) through a cursor, calling
    /// `each` per row; the count.
    fn through_cursor(
        &mut self,
        query: &str,
        each: &mut dyn FnMut(JsonRow) -> Res<()>,
    ) -> Res<i64> {
        diesel::sql_query(format!("DECLARE salus_export NO SCROLL CURSOR FOR {query}"))
            .execute(self.conn)
            .map_err(db_error)?;
        let mut count = 0;
        loop {
            let batch = diesel::sql_query(format!("FETCH {FETCH} FROM salus_export"))
                .load::<Json>(self.conn)
                .map_err(db_error)?;
            for row in &batch {
                each(parse(&row.json)?)?;
                count += 1;
            }
            if batch.len() < FETCH {
                break;
            }
        }
        diesel::sql_query("CLOSE salus_export")
            .execute(self.conn)
            .map_err(db_error)?;
        Ok(count)
    }
}

impl ExportRepo for PgTx<'_> {
    fn insert_export(&mut self, e: &ExportRecord) -> Res<()> {
        let (recipient, sealed) = match &e.encryption {
            Encryption::Recipient(r) => (Some(r.as_str()), None),
            Encryption::Passphrase(s) => (None, Some(s.as_slice())),
            Encryption::Forgotten => (None, None),
        };
        diesel::insert_into(ce::table)
            .values((
                ce::clinic_id.eq(e.clinic_id.0),
                ce::id.eq(e.id),
                ce::requested_by.eq(e.requested_by.0),
                ce::created_at.eq(e.created_at),
                ce::expires_at.eq(e.expires_at),
                ce::recipient.eq(recipient),
                ce::sealed_passphrase.eq(sealed),
            ))
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }

    fn export(&mut self, clinic: ClinicId, id: Uuid) -> Res<Option<ExportRecord>> {
        ce::table
            .find((clinic.0, id))
            .select((
                ce::clinic_id,
                ce::id,
                ce::requested_by,
                ce::created_at,
                ce::expires_at,
                ce::recipient,
                ce::sealed_passphrase,
                ce::downloads,
                ce::last_manifest_sha256,
            ))
            .first::<Row>(self.conn)
            .optional()
            .map(|r| r.map(record))
            .map_err(db_error)
    }

    fn exports_since(&mut self, clinic: ClinicId, since: DateTime<Utc>) -> Res<i64> {
        ce::table
            .filter(ce::clinic_id.eq(clinic.0))
            .filter(ce::created_at.ge(since))
            .count()
            .get_result(self.conn)
            .map_err(db_error)
    }

    fn export_downloaded(&mut self, clinic: ClinicId, id: Uuid, manifest_sha256: &str) -> Res<()> {
        diesel::update(ce::table.find((clinic.0, id)))
            .set((
                ce::downloads.eq(ce::downloads + 1),
                ce::last_manifest_sha256.eq(manifest_sha256),
            ))
            .execute(self.conn)
            .map(|_| ())
            .map_err(db_error)
    }

    fn forget_expired_passphrases(&mut self, now: DateTime<Utc>) -> Res<usize> {
        diesel::update(
            ce::table.filter(ce::expires_at.le(now)).filter(
                ce::recipient
                    .is_not_null()
                    .or(ce::sealed_passphrase.is_not_null()),
            ),
        )
        .set((
            ce::recipient.eq(None::<String>),
            ce::sealed_passphrase.eq(None::<Vec<u8>>),
        ))
        .execute(self.conn)
        .map_err(db_error)
    }

    fn schema_version(&mut self) -> Res<String> {
        diesel::sql_query("SELECT max(version)::text AS version FROM __diesel_schema_migrations")
            .cached()
            .get_result::<Version>(self.conn)
            .map(|v| v.version)
            .map_err(db_error)
    }

    fn export_tables(&mut self) -> Res<Vec<ExportTable>> {
        let tables = diesel::sql_query(
            "SELECT format('%I.%I', s.nspname, c.relname) AS name,
                    CASE WHEN c.oid = 'public.clinics'::regclass THEN 'id' ELSE 'clinic_id' END
                        AS clinic_column,
                    array_agg(quote_ident(a.attname::text) ORDER BY a.attnum)
                        FILTER (WHERE a.attname <> ALL ($1)) AS columns
               FROM pg_class c
               JOIN pg_namespace s ON s.oid = c.relnamespace
               JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
              WHERE c.relkind IN ('r', 'p')
                AND s.nspname NOT IN ('pg_catalog', 'information_schema')
                AND s.nspname NOT LIKE 'pg\\_%'
                AND (c.oid = 'public.clinics'::regclass OR EXISTS (
                     SELECT 1 FROM pg_attribute k WHERE k.attrelid = c.oid
                        AND k.attname = 'clinic_id' AND NOT k.attisdropped))
              GROUP BY s.nspname, c.relname, c.oid
              ORDER BY c.oid <> 'public.clinics'::regclass, 1",
        )
        .bind::<diesel::sql_types::Array<Text>, _>(COLUMNS_LEFT_OUT)
        .cached()
        .load::<Table>(self.conn)
        .map_err(db_error)?;
        Ok(tables
            .into_iter()
            .filter(|t| !LEFT_OUT.contains(&t.name.as_str()))
            .map(|t| ExportTable {
                name: t.name,
                clinic_column: t.clinic_column,
                columns: t.columns,
            })
            .collect())
    }

    fn export_rows(
        &mut self,
        table: &ExportTable,
        clinic: ClinicId,
        each: &mut dyn FnMut(JsonRow) -> Res<()>,
    ) -> Res<i64> {
        // Names come from the catalogue (quoted there); the clinic is a typed
        // id, so nothing here is text from a request.
        self.through_cursor(
            &format!(
                "SELECT row_to_json(t)::text AS json FROM (SELECT {} FROM {} WHERE {} = '{}'::uuid) t",
                table.columns.join(", "),
                table.name,
                table.clinic_column,
                clinic.0
            ),
            each,
        )
    }

    fn export_staff(
        &mut self,
        clinic: ClinicId,
        each: &mut dyn FnMut(JsonRow) -> Res<()>,
    ) -> Res<i64> {
        self.through_cursor(
            &format!(
                "SELECT json_build_object('membership_id', m.id, 'account_id', a.id, 'email', a.email,
                        'given_name', a.given_name, 'family_name', a.family_name, 'role', m.role,
                        'active', m.active, 'joined_at', m.created_at)::text AS json
                   FROM memberships m JOIN accounts a ON a.id = m.account_id
                  WHERE m.clinic_id = '{}'::uuid",
                clinic.0
            ),
            each,
        )
    }
}
