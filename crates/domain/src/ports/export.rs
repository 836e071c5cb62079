//! Storage of clinic exports (promise D3, portability): the export records and
//! the walk over every table of a clinic, row by row in batches (implemented by
//! the persistence crate with cursors, in one read-only snapshot).

use chrono::{DateTime, Utc};

use crate::DomainError;
use crate::ids::{AccountId, ClinicId};

/// How an export's archive is encrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Encryption {
    /// To the owner's age X25519 recipient (`age1...`).
    Recipient(String),
    /// To a passphrase Salus generated and showed once (sealed with the
    /// clinic's data key until the export expires).
    Passphrase(Vec<u8>),
    /// Expired: the recipient and the sealed passphrase are forgotten.
    Forgotten,
}

/// An export, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportRecord {
    /// Its id.
    pub id: uuid::Uuid,
    /// The clinic.
    pub clinic_id: ClinicId,
    /// Who asked.
    pub requested_by: AccountId,
    /// When.
    pub created_at: DateTime<Utc>,
    /// Until when it can be downloaded.
    pub expires_at: DateTime<Utc>,
    /// The encryption.
    pub encryption: Encryption,
    /// How many times it was downloaded in full.
    pub downloads: i32,
    /// The last complete download's manifest: SHA-256 of the manifest line, hex.
    pub last_manifest_sha256: Option<String>,
}

/// One table of the export: its name and the columns written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportTable {
    /// `schema.table`.
    pub name: String,
    /// The column naming the clinic (`clinic_id`; `id` for `clinics`).
    pub clinic_column: String,
    /// The columns exported (secrets and blind indexes are left out).
    pub columns: Vec<String>,
}

/// Storage of exports and the walk over a clinic's rows.
pub trait ExportRepo {
    /// Stores an export record.
    fn insert_export(&mut self, export: &ExportRecord) -> Result<(), DomainError>;
    /// One export of the clinic.
    fn export(
        &mut self,
        clinic: ClinicId,
        id: uuid::Uuid,
    ) -> Result<Option<ExportRecord>, DomainError>;
    /// Exports of the clinic created since `since`.
    fn exports_since(&mut self, clinic: ClinicId, since: DateTime<Utc>)
    -> Result<i64, DomainError>;
    /// Records a complete download.
    fn export_downloaded(
        &mut self,
        clinic: ClinicId,
        id: uuid::Uuid,
        manifest_sha256: &str,
    ) -> Result<(), DomainError>;
    /// Forgets the sealed passphrases of exports expired at `now` (platform
    /// scope): the count.
    fn forget_expired_passphrases(&mut self, now: DateTime<Utc>) -> Result<usize, DomainError>;
    /// The newest migration applied (the archive's schema version).
    fn schema_version(&mut self) -> Result<String, DomainError>;
    /// Every table of every schema with a `clinic_id` column, except the
    /// clinic's keys and its sign-in secrets, with the columns to export.
    fn export_tables(&mut self) -> Result<Vec<ExportTable>, DomainError>;
    /// Calls `each` with every row of `table` that belongs to `clinic`, as a
    /// JSON object (binary columns as `\x...` hex), in batches; the count.
    fn export_rows(
        &mut self,
        table: &ExportTable,
        clinic: ClinicId,
        each: &mut dyn FnMut(serde_json::Map<String, serde_json::Value>) -> Result<(), DomainError>,
    ) -> Result<i64, DomainError>;
    /// Calls `each` with every member of the clinic and their account's
    /// address and names (the staff list); the count.
    fn export_staff(
        &mut self,
        clinic: ClinicId,
        each: &mut dyn FnMut(serde_json::Map<String, serde_json::Value>) -> Result<(), DomainError>,
    ) -> Result<i64, DomainError>;
}
