//! The clinic export (promise D3, portability): an owner with `data.export`
//! and a recent MFA check asks for an export (to their age recipient key, or
//! to a passphrase shown once); the archive is built while it is downloaded,
//! from one read-only snapshot of every table of the clinic, health fields
//! decrypted, and encrypted on the way out (the HTTP layer's age stream), so
//! the server never holds the archive, in plaintext or otherwise. Exports are
//! audited, limited to a few a day, and announced to the owners by email.

pub mod archive;

use chrono::Duration;

use crate::DomainError;
use crate::access::Permission;
use crate::actor::Actor;
use crate::audit::actions;
use crate::audit::record::AuditRecord;
use crate::crypto::{ClinicKeys, SEALED_COLUMNS};
use crate::identity::model::{ClientInfo, Role};
use crate::ports::export::{Encryption, ExportRecord};
use crate::shared::{Core, transactions};
use crate::store::{ExportTx, Scope};
use archive::{ArchiveWriter, FORMAT, Header, Manifest, VERSION};

/// How long an export can be downloaded.
pub const EXPORT_LIFETIME: Duration = Duration::hours(24);
/// Exports a clinic may ask for per day.
pub const EXPORTS_PER_DAY: i64 = 5;

/// How the owner wants the archive encrypted, as asked (checked after the
/// permission: the recipient must be an age X25519 recipient).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Asked {
    /// To the age recipient given (`age1...`).
    Recipient(Option<String>),
    /// To a passphrase Salus generates (a recipient given too is refused).
    Passphrase(Option<String>),
}

impl Asked {
    fn checked(self) -> Result<Option<String>, DomainError> {
        use std::str::FromStr;
        match self {
            Self::Recipient(Some(r)) if age::x25519::Recipient::from_str(&r).is_ok() => Ok(Some(r)),
            Self::Recipient(Some(_)) => Err(DomainError::invalid(
                "recipient",
                "invalid",
                "is not an age X25519 recipient (age1...)",
            )),
            Self::Recipient(None) => Err(DomainError::invalid(
                "recipient",
                "required",
                "is required with the recipient encryption",
            )),
            Self::Passphrase(None) => Ok(None),
            Self::Passphrase(Some(_)) => Err(DomainError::invalid(
                "recipient",
                "invalid",
                "must be left out with the passphrase encryption",
            )),
        }
    }
}

/// A new export, with the passphrase when Salus generated one (shown once).
#[derive(Debug, Clone)]
pub struct Created {
    /// The export.
    pub export: ExportRecord,
    /// The passphrase, in passphrase mode.
    pub passphrase: Option<String>,
}

/// What the archive of an export is encrypted to, opened for its download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An age X25519 recipient.
    Recipient(String),
    /// A passphrase (age's scrypt recipient).
    Passphrase(String),
}

/// Clinic exports.
#[derive(Clone)]
pub struct ClinicExports {
    core: Core,
}

impl ClinicExports {
    /// The service over the shared core.
    pub fn new(core: Core) -> Self {
        Self { core }
    }

    transactions!(ExportTx);

    /// Asks for an export (`data.export`, step-up): at most
    /// [`EXPORTS_PER_DAY`] a day; the owners are emailed.
    pub fn create_export(
        &self,
        actor: &Actor,
        asked: Asked,
        client: &ClientInfo,
    ) -> Result<Created, DomainError> {
        actor.require(Permission::DataExport)?;
        actor.require_step_up(self.core.now())?;
        let recipient = asked.checked()?;
        let now = self.core.now();
        let id: uuid::Uuid = self.core.new_id();
        self.tx(Scope::Clinic(actor.clinic_id), |tx| {
            if tx.exports_since(actor.clinic_id, now - Duration::days(1))? >= EXPORTS_PER_DAY {
                return Err(DomainError::RateLimited {
                    retry_after_secs: 3600,
                });
            }
            let (encryption, passphrase) = match recipient {
                Some(recipient) => (Encryption::Recipient(recipient), None),
                None => {
                    let passphrase = crate::random::secret_token(self.core.random());
                    let keys = self.core.clinic_keys(tx, actor.clinic_id)?;
                    let sealed = keys.seal_field(
                        self.core.random(),
                        "clinic_exports",
                        "passphrase",
                        id,
                        passphrase.as_bytes(),
                    )?;
                    (Encryption::Passphrase(sealed), Some(passphrase))
                }
            };
            let export = ExportRecord {
                id,
                clinic_id: actor.clinic_id,
                requested_by: actor.account_id,
                created_at: now,
                expires_at: now + EXPORT_LIFETIME,
                encryption,
                downloads: 0,
                last_manifest_sha256: None,
            };
            tx.insert_export(&export)?;
            let mode = mode(&export.encryption);
            self.core.audit(
                tx,
                AuditRecord::by(actor, actions::CLINIC_EXPORT_CREATED)
                    .on("clinic_export", id)
                    .detail("encryption", mode)
                    .detail("expires_at", export.expires_at.to_rfc3339()),
                client,
            )?;
            let members = tx.members(actor.clinic_id)?;
            let by = members
                .iter()
                .find(|m| m.membership_id == actor.membership_id)
                .map_or_else(String::new, |m| m.email.clone());
            let name = tx
                .clinic(actor.clinic_id)?
                .ok_or(DomainError::NotFound)?
                .name;
            for owner in members.iter().filter(|m| m.active && m.role == Role::Owner) {
                self.core.email(
                    tx,
                    &owner.email,
                    &format!("An export of {name}'s data was made"),
                    format!(
                        "{by} asked for an export of every record of {name} on {}. It can be \
                         downloaded until {}, encrypted ({mode}). If this was not expected, \
                         change your password and review the audit trail.",
                        now.to_rfc3339(),
                        export.expires_at.to_rfc3339()
                    ),
                )?;
            }
            Ok(Created { export, passphrase })
        })
    }

    /// One export's record (`data.export`).
    pub fn export_status(
        &self,
        actor: &Actor,
        id: uuid::Uuid,
    ) -> Result<ExportRecord, DomainError> {
        actor.require(Permission::DataExport)?;
        self.tx(Scope::Clinic(actor.clinic_id), |tx| {
            tx.export(actor.clinic_id, id)?.ok_or(DomainError::NotFound)
        })
    }

    /// Opens an export for its download (`data.export`, step-up): what to
    /// encrypt the archive to. Refused once it has expired; recorded.
    pub fn open_export(
        &self,
        actor: &Actor,
        id: uuid::Uuid,
        client: &ClientInfo,
    ) -> Result<Target, DomainError> {
        actor.require(Permission::DataExport)?;
        actor.require_step_up(self.core.now())?;
        let now = self.core.now();
        self.tx(Scope::Clinic(actor.clinic_id), |tx| {
            let export = tx
                .export(actor.clinic_id, id)?
                .ok_or(DomainError::NotFound)?;
            if export.expires_at <= now {
                return Err(DomainError::Conflict {
                    code: "export_expired",
                    detail: format!(
                        "This export expired at {}: ask for a new one.",
                        export.expires_at.to_rfc3339()
                    ),
                });
            }
            let target = match export.encryption {
                Encryption::Forgotten => return Err(DomainError::NotFound),
                Encryption::Recipient(r) => Target::Recipient(r),
                Encryption::Passphrase(sealed) => {
                    let keys = self.core.clinic_keys(tx, actor.clinic_id)?;
                    let opened = keys.open_field("clinic_exports", "passphrase", id, &sealed)?;
                    Target::Passphrase(String::from_utf8(opened).map_err(|_| {
                        DomainError::Internal("the export's passphrase is not text".into())
                    })?)
                }
            };
            self.core.audit(
                tx,
                AuditRecord::by(actor, actions::CLINIC_EXPORT_STARTED).on("clinic_export", id),
                client,
            )?;
            Ok(target)
        })
    }

    /// Writes the export's archive (before encryption) to `out`, line by line,
    /// from one read-only snapshot: every table of the clinic, sealed health
    /// fields decrypted, the staff with their addresses, the audit trail with
    /// its hashes and checkpoints, and the signed manifest (`data.export`).
    pub fn write_archive(
        &self,
        actor: &Actor,
        id: uuid::Uuid,
        out: &mut dyn FnMut(&[u8]) -> Result<(), DomainError>,
    ) -> Result<Manifest, DomainError> {
        actor.require(Permission::DataExport)?;
        let clinic = actor.clinic_id;
        let now = self.core.now();
        self.core.settle_audit(clinic.into(), Some(clinic))?;
        self.core.in_snapshot(Scope::Clinic(clinic), |tx| {
            let tx: &mut dyn ExportTx = tx;
            let header = Header {
                format: FORMAT.to_owned(),
                version: VERSION,
                export_id: id,
                clinic_id: clinic.0,
                schema_version: tx.schema_version()?,
                created_at: now,
            };
            let keys = tx
                .clinic_keys(clinic)?
                .map(|wrapped| ClinicKeys::unwrap(clinic, self.core.master_keys(), &wrapped))
                .transpose()?;
            let mut writer = ArchiveWriter::start(header, out)?;
            for table in tx.export_tables()? {
                writer.part(&table.name);
                let short = table.name.trim_start_matches("public.").to_owned();
                let mut failed = None;
                tx.export_rows(&table, clinic, &mut |mut row| {
                    if let Err(e) = open_sealed(keys.as_ref(), &short, &mut row) {
                        failed.get_or_insert(e);
                    }
                    writer.row(&table.name, &serde_json::Value::Object(row))
                })?;
                if let Some(e) = failed {
                    return Err(e);
                }
            }
            writer.part("staff");
            tx.export_staff(clinic, &mut |row| {
                writer.row("staff", &serde_json::Value::Object(row))
            })?;
            writer.finish(self.core.sealer())
        })
    }

    /// Records a complete download with its manifest's hash (`data.export`).
    pub fn export_downloaded(
        &self,
        actor: &Actor,
        id: uuid::Uuid,
        manifest: &Manifest,
        client: &ClientInfo,
    ) -> Result<(), DomainError> {
        actor.require(Permission::DataExport)?;
        let sha = crate::audit::export::hex(&crate::crypto::sha256(
            &serde_json::to_vec(manifest)
                .map_err(|e| DomainError::Internal(format!("manifest: {e}")))?,
        ));
        let rows: i64 = manifest.parts.iter().map(|p| p.rows).sum();
        self.tx(Scope::Clinic(actor.clinic_id), |tx| {
            tx.export_downloaded(actor.clinic_id, id, &sha)?;
            self.core.audit(
                tx,
                AuditRecord::by(actor, actions::CLINIC_EXPORT_DOWNLOADED)
                    .on("clinic_export", id)
                    .detail("parts", manifest.parts.len())
                    .detail("rows", rows)
                    .detail("manifest_sha256", sha.clone()),
                client,
            )
        })
    }

    /// Forgets the sealed passphrases of expired exports (the closure job's
    /// round): the count.
    pub fn forget_expired_exports(&self) -> Result<usize, DomainError> {
        let now = self.core.now();
        self.tx(Scope::Platform, |tx| tx.forget_expired_passphrases(now))
    }
}

/// The encryption's name (`recipient`, `passphrase`; `expired` once forgotten).
pub fn mode(encryption: &Encryption) -> &'static str {
    match encryption {
        Encryption::Recipient(_) => "recipient",
        Encryption::Passphrase(_) => "passphrase",
        Encryption::Forgotten => "expired",
    }
}

/// Replaces each sealed column of a row of `table` by its plaintext (JSON when
/// it is JSON, text otherwise).
fn open_sealed(
    keys: Option<&ClinicKeys>,
    table: &str,
    row: &mut serde_json::Map<String, serde_json::Value>,
) -> Result<(), DomainError> {
    for (_, column) in SEALED_COLUMNS.iter().filter(|(t, _)| *t == table) {
        let Some(serde_json::Value::String(hex)) = row.get(*column) else {
            continue;
        };
        let keys = keys.ok_or_else(|| {
            DomainError::Internal(format!(
                "{table}.{column} is sealed but the clinic has no keys"
            ))
        })?;
        let sealed = from_hex(hex.trim_start_matches("\\x"))
            .ok_or_else(|| DomainError::Internal(format!("{table}.{column} is not hex")))?;
        let id = row
            .get("id")
            .and_then(|v| v.as_str())
            .and_then(|s| uuid::Uuid::parse_str(s).ok())
            .ok_or_else(|| DomainError::Internal(format!("{table} row without an id")))?;
        let plain = keys.open_field(table, column, id, &sealed)?;
        let value = serde_json::from_slice(&plain).unwrap_or_else(|_| {
            serde_json::Value::String(String::from_utf8_lossy(&plain).into_owned())
        });
        row.insert((*column).to_owned(), value);
    }
    Ok(())
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    (0..text.len())
        .step_by(2)
        .map(|i| {
            text.get(i..i + 2)
                .and_then(|b| u8::from_str_radix(b, 16).ok())
        })
        .collect()
}
