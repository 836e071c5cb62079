//! The clinic export's archive format (`salus-clinic-export`, version 1), before
//! encryption: NDJSON, one line each.
//!
//! 1. `{"header": {format, version, export_id, clinic_id, schema_version, created_at}}`
//! 2. `{"part": "public.patients", "row": {...}}`, every row of every part, each
//!    part's rows together, parts in the order the manifest lists them;
//! 3. `{"manifest": <signed document>}`: the header's fields, and per part its
//!    row count and the SHA-256 of its lines (each line's bytes with its `\n`),
//!    and the platform's public keys (for the audit checkpoints in the
//!    archive), signed with Ed25519 ([`Signed`]).
//!
//! The writer hashes as it writes, so nothing is held but the line at hand; the
//! verifier reads line by line the same way.

use std::io::BufRead;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::DomainError;
use crate::audit::export::hex;
use crate::audit::seal::AuditSealer;
use crate::closure::certificate::Signed;

/// The format's name.
pub const FORMAT: &str = "salus-clinic-export";
/// The format's version.
pub const VERSION: u32 = 1;
/// The manifest's `kind`.
pub const MANIFEST: &str = "clinic_export_manifest";

/// What the archive is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// [`FORMAT`].
    pub format: String,
    /// [`VERSION`].
    pub version: u32,
    /// The export.
    pub export_id: uuid::Uuid,
    /// The clinic.
    pub clinic_id: uuid::Uuid,
    /// The newest database migration applied when it was made.
    pub schema_version: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

/// One part's count and hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartSum {
    /// The part (`public.patients`, `staff`, `audit.events`, ...).
    pub part: String,
    /// Its rows.
    pub rows: i64,
    /// SHA-256 of its lines, hex.
    pub sha256: String,
}

/// The signed manifest's document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`MANIFEST`].
    pub kind: String,
    /// The archive's header, repeated.
    pub header: Header,
    /// Every part, in order.
    pub parts: Vec<PartSum>,
    /// The platform's public keys, `(key id, base64)`: they verify the audit
    /// checkpoints of the `audit.checkpoints` part and this manifest.
    pub public_keys: Vec<(String, String)>,
}

#[derive(Serialize)]
struct RowLine<'a> {
    part: &'a str,
    row: &'a serde_json::Value,
}

/// Writes an archive's lines to `out`, hashing each part.
pub struct ArchiveWriter<'a> {
    out: &'a mut dyn FnMut(&[u8]) -> Result<(), DomainError>,
    header: Header,
    done: Vec<PartSum>,
    current: Option<(String, Sha256, i64)>,
}

fn line(value: &impl Serialize) -> Result<Vec<u8>, DomainError> {
    let mut bytes = serde_json::to_vec(value)
        .map_err(|e| DomainError::Internal(format!("export line: {e}")))?;
    bytes.push(b'\n');
    Ok(bytes)
}

impl<'a> ArchiveWriter<'a> {
    /// Starts an archive: writes its header.
    pub fn start(
        header: Header,
        out: &'a mut dyn FnMut(&[u8]) -> Result<(), DomainError>,
    ) -> Result<Self, DomainError> {
        out(&line(&serde_json::json!({ "header": header }))?)?;
        Ok(Self {
            out,
            header,
            done: Vec::new(),
            current: None,
        })
    }

    /// Writes one row of `part` (a part's rows come together).
    pub fn row(&mut self, part: &str, row: &serde_json::Value) -> Result<(), DomainError> {
        if self.current.as_ref().is_none_or(|(p, _, _)| p != part) {
            self.close_part();
            if self.done.iter().any(|d| d.part == part) {
                return Err(DomainError::Internal(format!(
                    "export part {part} written twice"
                )));
            }
            self.current = Some((part.to_owned(), Sha256::new(), 0));
        }
        let bytes = line(&RowLine { part, row })?;
        if let Some((_, hash, rows)) = self.current.as_mut() {
            hash.update(&bytes);
            *rows += 1;
        }
        (self.out)(&bytes)
    }

    /// Declares `part` even when it has no row (so the manifest says it was
    /// looked at and was empty).
    pub fn part(&mut self, part: &str) {
        if self.current.as_ref().is_none_or(|(p, _, _)| p != part)
            && !self.done.iter().any(|d| d.part == part)
        {
            self.close_part();
            self.current = Some((part.to_owned(), Sha256::new(), 0));
        }
    }

    fn close_part(&mut self) {
        if let Some((part, hash, rows)) = self.current.take() {
            self.done.push(PartSum {
                part,
                rows,
                sha256: hex(&hash.finalize()),
            });
        }
    }

    /// Ends the archive with its signed manifest; the manifest.
    pub fn finish(mut self, sealer: &AuditSealer) -> Result<Manifest, DomainError> {
        self.close_part();
        let manifest = Manifest {
            kind: MANIFEST.to_owned(),
            header: self.header.clone(),
            parts: self.done,
            public_keys: sealer.public_keys(),
        };
        let signed = Signed::sign(sealer, &manifest)?;
        (self.out)(&line(&serde_json::json!({ "manifest": signed }))?)?;
        Ok(manifest)
    }
}

/// Checks an archive (decrypted) line by line: the header, every part's count
/// and hash against the manifest, and the manifest's signature by one of
/// `trusted`. The manifest, or what is wrong.
pub fn verify(reader: &mut dyn BufRead, trusted: &[(String, String)]) -> Result<Manifest, String> {
    let mut buf = Vec::new();
    let mut next = |buf: &mut Vec<u8>| -> Result<bool, String> {
        buf.clear();
        reader
            .read_until(b'\n', buf)
            .map(|n| n > 0)
            .map_err(|e| format!("the archive cannot be read: {e}"))
    };
    if !next(&mut buf)? {
        return Err("the archive is empty".to_owned());
    }
    let first: serde_json::Value =
        serde_json::from_slice(&buf).map_err(|e| format!("line 1 is not JSON: {e}"))?;
    let header: Header = serde_json::from_value(first["header"].clone())
        .map_err(|e| format!("line 1 is not the archive's header: {e}"))?;
    if header.format != FORMAT || header.version != VERSION {
        return Err(format!(
            "not a {FORMAT} archive of version {VERSION} ({} {})",
            header.format, header.version
        ));
    }
    let mut seen: Vec<PartSum> = Vec::new();
    let mut current: Option<(String, Sha256, i64)> = None;
    let mut number = 1;
    let close = |current: &mut Option<(String, Sha256, i64)>, seen: &mut Vec<PartSum>| {
        if let Some((part, hash, rows)) = current.take() {
            seen.push(PartSum {
                part,
                rows,
                sha256: hex(&hash.finalize()),
            });
        }
    };
    loop {
        if !next(&mut buf)? {
            return Err("the archive ends without its manifest (truncated?)".to_owned());
        }
        number += 1;
        let value: serde_json::Value =
            serde_json::from_slice(&buf).map_err(|e| format!("line {number} is not JSON: {e}"))?;
        if let Some(manifest) = value.get("manifest") {
            close(&mut current, &mut seen);
            let signed: Signed = serde_json::from_value(manifest.clone())
                .map_err(|e| format!("the manifest is malformed: {e}"))?;
            signed
                .verify(trusted)
                .map_err(|reason| format!("the manifest's signature: {reason}"))?;
            let manifest: Manifest = serde_json::from_value(signed.document)
                .map_err(|e| format!("the manifest is malformed: {e}"))?;
            if manifest.header != header {
                return Err("the manifest describes another archive than its header".to_owned());
            }
            let empty = hex(&Sha256::digest(b""));
            let mut found = seen.iter().peekable();
            for expected in &manifest.parts {
                if found.peek().is_none_or(|f| f.part != expected.part) {
                    // A part the manifest says was empty has no line.
                    if expected.rows == 0 && expected.sha256 == empty {
                        continue;
                    }
                    return Err(format!("part {} is missing or out of order", expected.part));
                }
                let Some(found) = found.next() else {
                    return Err(format!("part {} is missing", expected.part));
                };
                if expected.rows != found.rows || expected.sha256 != found.sha256 {
                    return Err(format!(
                        "part {}: the manifest says {} rows ({}), the archive holds {} ({})",
                        expected.part, expected.rows, expected.sha256, found.rows, found.sha256
                    ));
                }
            }
            if let Some(extra) = found.next() {
                return Err(format!("part {} is not in the manifest", extra.part));
            }
            if next(&mut buf)? {
                return Err("the archive goes on after its manifest".to_owned());
            }
            return Ok(manifest);
        }
        let part = value["part"]
            .as_str()
            .ok_or_else(|| format!("line {number} names no part"))?
            .to_owned();
        if current.as_ref().is_none_or(|(p, _, _)| *p != part) {
            close(&mut current, &mut seen);
            current = Some((part, Sha256::new(), 0));
        }
        if let Some((_, hash, rows)) = current.as_mut() {
            hash.update(&buf);
            *rows += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive(sealer: &AuditSealer, rows: &[(&str, serde_json::Value)]) -> Vec<u8> {
        let mut bytes = Vec::new();
        let mut out = |b: &[u8]| {
            bytes.extend_from_slice(b);
            Ok(())
        };
        let header = Header {
            format: FORMAT.into(),
            version: VERSION,
            export_id: uuid::Uuid::from_bytes([1; 16]),
            clinic_id: uuid::Uuid::from_bytes([2; 16]),
            schema_version: "20261203000021".into(),
            created_at: DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
        };
        let mut w = ArchiveWriter::start(header, &mut out).unwrap();
        for (part, row) in rows {
            w.row(part, row).unwrap();
        }
        w.part("empty");
        w.finish(sealer).unwrap();
        bytes
    }

    #[test]
    fn an_archive_verifies_and_an_edit_a_loss_or_a_stranger_breaks_it() {
        let sealer = AuditSealer::new(vec![("k".into(), [5; 32])]).unwrap();
        let trusted = sealer.public_keys();
        let rows = [
            (
                "public.patients",
                serde_json::json!({"id": 1, "family_name": "Curie"}),
            ),
            (
                "public.patients",
                serde_json::json!({"id": 2, "family_name": "Noether"}),
            ),
            ("staff", serde_json::json!({"email": "a@b.test"})),
        ];
        let good = archive(&sealer, &rows);
        let manifest = verify(&mut good.as_slice(), &trusted).unwrap();
        let counts: Vec<(&str, i64)> = manifest
            .parts
            .iter()
            .map(|p| (p.part.as_str(), p.rows))
            .collect();
        assert_eq!(counts, [("public.patients", 2), ("staff", 1), ("empty", 0)]);

        let edited = String::from_utf8(good.clone())
            .unwrap()
            .replace("Noether", "Noethe");
        assert!(
            verify(&mut edited.as_bytes(), &trusted)
                .unwrap_err()
                .contains("public.patients")
        );
        let text = String::from_utf8(good.clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let dropped = [lines[0], lines[1], lines[3], lines[4]].join("\n") + "\n";
        assert!(
            verify(&mut dropped.as_bytes(), &trusted).is_err(),
            "a row dropped"
        );
        let truncated = lines[..4].join("\n") + "\n";
        assert!(
            verify(&mut truncated.as_bytes(), &trusted)
                .unwrap_err()
                .contains("truncated")
        );
        let stranger = AuditSealer::new(vec![("k".into(), [6; 32])]).unwrap();
        let forged = archive(&stranger, &rows);
        assert!(verify(&mut forged.as_slice(), &trusted).is_err());
    }
}
