//! The destruction register on disk (`DESTRUCTION_REGISTER_DIR`): one signed
//! JSON file per destruction (certificates of destruction, the second
//! certificates that no backup holds the data any more, and patients' erasures),
//! named by time so they sort in order. It lives outside the database, so no restore takes it back;
//! `salus backup restore` and the restore drill re-apply every destruction it
//! holds to the restored copy before it is used (`reapply`).

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;
use salus_domain::DomainError;
use salus_domain::closure::certificate::{Destruction, PatientErasure, Signed};
use salus_domain::ports::closure::DestructionRegister;

/// The register in a directory.
#[derive(Debug, Clone)]
pub struct FileRegister {
    dir: PathBuf,
}

impl FileRegister {
    /// The register in `dir` (created, mode 0700, on first write).
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_owned(),
        }
    }

    /// Its directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn write(&self, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
        anyhow::ensure!(
            !name.contains('/') && name.ends_with(".json"),
            "a register entry's name is a plain .json file name (got '{name}')"
        );
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("cannot create {}", self.dir.display()))?;
        std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o700))?;
        let path = self.dir.join(name);
        let staged = self.dir.join(format!(".{name}.new"));
        let _ = std::fs::remove_file(&staged);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&staged)
            .with_context(|| format!("cannot write {}", staged.display()))?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&staged, &path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        std::fs::File::open(&self.dir)?.sync_all()?;
        Ok(())
    }

    /// Every entry, in the order the destructions happened, each checked
    /// against the platform's keys: an entry that does not verify is an error
    /// (a register that cannot be trusted must not be half applied).
    pub fn entries(&self, trusted: &[(String, String)]) -> anyhow::Result<Vec<(String, Signed)>> {
        let mut names: Vec<String> = match std::fs::read_dir(&self.dir) {
            Ok(dir) => dir
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".json") && !n.starts_with('.'))
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => {
                return Err(e).with_context(|| format!("cannot read {}", self.dir.display()));
            }
        };
        names.sort();
        names
            .into_iter()
            .map(|name| {
                let path = self.dir.join(&name);
                let signed = read_signed(&path)?;
                signed.verify(trusted).map_err(|reason| {
                    anyhow::anyhow!(
                        "register entry {} does not verify: {reason}",
                        path.display()
                    )
                })?;
                Ok((name, signed))
            })
            .collect()
    }
}

/// The entries of one `kind` (read once with [`FileRegister::entries`]), as
/// the document they hold, in order.
pub fn of_kind<T: serde::de::DeserializeOwned>(
    entries: &[(String, Signed)],
    kind: &str,
) -> anyhow::Result<Vec<T>> {
    entries
        .iter()
        .filter(|(_, s)| s.kind() == kind)
        .map(|(name, s)| {
            serde_json::from_value(s.document.clone())
                .with_context(|| format!("register entry {name} is not a well-formed {kind}"))
        })
        .collect()
}

impl DestructionRegister for FileRegister {
    fn keep(&self, name: &str, entry: &[u8]) -> Result<(), DomainError> {
        self.write(name, entry).map_err(|e| {
            DomainError::Internal(format!(
                "the destruction register ({}) cannot be written: {e:#}",
                self.dir.display()
            ))
        })
    }

    fn withdraw(&self, name: &str) -> Result<(), DomainError> {
        let path = self.dir.join(name);
        let removed = match std::fs::remove_file(&path) {
            Ok(()) => std::fs::File::open(&self.dir).and_then(|d| d.sync_all()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        };
        removed.map_err(|e| {
            DomainError::Internal(format!(
                "the destruction register entry {} cannot be withdrawn: {e}",
                path.display()
            ))
        })
    }
}

/// A signed document from a file.
pub fn read_signed(path: &Path) -> anyhow::Result<Signed> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a signed Salus document", path.display()))
}

/// What re-applying the register to a restored copy did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Reapplied {
    /// Destructions in the register.
    pub destructions: usize,
    /// Of them, clinics the copy still held (deleted again).
    pub reapplied: Vec<uuid::Uuid>,
    /// Rows deleted in the copy.
    pub rows: i64,
    /// Patients' erasures in the register.
    pub erasures: usize,
    /// Of them, patients the copy still held (erased again).
    pub erased_again: Vec<uuid::Uuid>,
}

/// Re-applies every destruction of the register to a copy, through `run`
/// (one SQL text on the copy as its superuser, returning the rows it printed):
/// the clinics destroyed, then the patients erased (with their tombstones);
/// then checks that none of them remains.
pub fn reapply(
    destructions: &[Destruction],
    erasures: &[PatientErasure],
    run: &mut dyn FnMut(&str) -> anyhow::Result<Vec<Vec<String>>>,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<Reapplied> {
    let mut done = Reapplied {
        destructions: destructions.len(),
        erasures: erasures.len(),
        ..Reapplied::default()
    };
    for d in destructions {
        let present = run(&format!(
            "SELECT count(*) FROM public.clinics WHERE id = '{}';",
            d.clinic_id
        ))?;
        if first(&present) == "0" {
            continue;
        }
        progress(&format!(
            "re-applying the destruction of clinic {} ({}, certificate {}, destroyed {})",
            d.clinic_id,
            d.clinic_name,
            d.certificate_id,
            d.executed_at.to_rfc3339()
        ));
        let rows = run(&format!(
            "SELECT coalesce(sum(deleted), 0) FROM public.salus_destroy_clinic('{}');",
            d.clinic_id
        ))?;
        done.rows += first(&rows).parse::<i64>().unwrap_or_default();
        done.reapplied.push(d.clinic_id);
    }
    for d in destructions {
        let left = run(&format!(
            "SELECT count(*) FROM public.clinics WHERE id = '{}';",
            d.clinic_id
        ))?;
        anyhow::ensure!(
            first(&left) == "0",
            "clinic {} is still in the copy after its destruction was re-applied",
            d.clinic_id
        );
    }
    for e in erasures {
        let present = run(&patient_count(e))?;
        if first(&present) == "0" {
            continue;
        }
        progress(&format!(
            "re-applying the erasure of patient {} of clinic {} (entry {}, erased {})",
            e.patient_id,
            e.clinic_id,
            e.certificate_id,
            e.executed_at.to_rfc3339()
        ));
        let rows = run(&format!(
            "SELECT coalesce(sum(deleted), 0) FROM public.salus_erase_patient('{}', '{}');",
            e.clinic_id, e.patient_id
        ))?;
        run(&format!(
            "INSERT INTO public.patient_tombstones
                 (clinic_id, erased_patient_id, request_id, requested_by, decided_by, erased_at)
             VALUES ('{}', '{}', '{}', '{}', '{}', '{}') ON CONFLICT DO NOTHING;",
            e.clinic_id,
            e.patient_id,
            e.request_id,
            e.requested_by,
            e.decided_by,
            e.executed_at.to_rfc3339()
        ))?;
        done.rows += first(&rows).parse::<i64>().unwrap_or_default();
        done.erased_again.push(e.patient_id);
    }
    for e in erasures {
        let left = run(&patient_count(e))?;
        anyhow::ensure!(
            first(&left) == "0",
            "patient {} of clinic {} is still in the copy after their erasure was re-applied",
            e.patient_id,
            e.clinic_id
        );
    }
    Ok(done)
}

fn patient_count(e: &PatientErasure) -> String {
    format!(
        "SELECT count(*) FROM public.patients WHERE clinic_id = '{}' AND id = '{}';",
        e.clinic_id, e.patient_id
    )
}

fn first(rows: &[Vec<String>]) -> &str {
    rows.first()
        .and_then(|r| r.first())
        .map_or("", String::as_str)
}
