//! The audit export's byte format (`GET /api/v1/audit-events/export`): NDJSON,
//! whose lines are the events' canonical encodings with their hashes (so an
//! export verifies offline with nothing but SHA-256 and the public keys in its
//! first line), or CSV with the same fields as columns. The HTTP layer only
//! picks the format and streams the batches.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use uuid::Uuid;

use crate::audit::AuditEvent;
use crate::audit::chain::{canonical, format_time};
use crate::ids::ClinicId;
use crate::ports::audit::Checkpoint;

/// Lower-case hexadecimal, as hashes are written in exports and answers.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One JSON object a line: a header with the checkpoints and public keys,
    /// then each event's canonical encoding with its hashes.
    Ndjson,
    /// One row an event under a header of column names.
    Csv,
}

impl Format {
    /// The name recorded in the `audit.exported` event.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ndjson => "ndjson",
            Self::Csv => "csv",
        }
    }

    /// The media type of the export.
    pub fn media_type(self) -> &'static str {
        match self {
            Self::Ndjson => "application/x-ndjson",
            Self::Csv => "text/csv; charset=utf-8",
        }
    }

    /// What the export starts with: the NDJSON header line (the clinic, the
    /// encoding, the checkpoints and the keys that signed them) or the CSV
    /// column names.
    pub fn preamble(
        self,
        clinic: ClinicId,
        checkpoints: &[Checkpoint],
        keys: Vec<(String, String)>,
    ) -> Vec<u8> {
        match self {
            Self::Ndjson => export_header(clinic, checkpoints, keys),
            Self::Csv => CSV_COLUMNS.as_bytes().to_vec(),
        }
    }

    /// One event, encoded: NDJSON is the canonical encoding with `prev_hash` and
    /// `hash` appended (drop those two members to get the hashed bytes back); CSV
    /// has the same fields as columns.
    pub fn line(self, e: &AuditEvent) -> Vec<u8> {
        match self {
            Self::Ndjson => ndjson_line(e),
            Self::Csv => csv_row(e),
        }
    }
}

/// The CSV export's header row.
pub const CSV_COLUMNS: &str = "chain_id,seq,id,clinic_id,occurred_at,account_id,membership_id,session_id,client_ip,user_agent,request_id,action,resource_type,resource_id,outcome,details,prev_hash,hash\r\n";

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// One event as a CSV row, in the order of `CSV_COLUMNS`.
fn csv_row(e: &AuditEvent) -> Vec<u8> {
    let ev = &e.event;
    let id = |u: Option<Uuid>| u.map(|u| u.to_string()).unwrap_or_default();
    let text = |t: &Option<String>| t.clone().unwrap_or_default();
    let fields = [
        e.chain_id.to_string(),
        e.seq.to_string(),
        ev.id.to_string(),
        id(ev.clinic_id.map(Uuid::from)),
        format_time(ev.occurred_at),
        id(ev.account_id.map(Uuid::from)),
        id(ev.membership_id.map(Uuid::from)),
        id(ev.session_id.map(Uuid::from)),
        text(&ev.client_ip),
        text(&ev.user_agent),
        text(&ev.request_id),
        ev.action.clone(),
        text(&ev.resource_type),
        id(ev.resource_id),
        ev.outcome.as_str().to_owned(),
        ev.details.clone(),
        hex(&e.prev_hash),
        hex(&e.hash),
    ];
    let mut line = fields
        .iter()
        .map(|f| csv_field(f))
        .collect::<Vec<_>>()
        .join(",")
        .into_bytes();
    line.extend_from_slice(b"\r\n");
    line
}

fn ndjson_line(e: &AuditEvent) -> Vec<u8> {
    let mut encoded = canonical(e.chain_id, e.seq, &e.event);
    encoded.pop();
    encoded.extend_from_slice(
        format!(
            ",\"prev_hash\":\"{}\",\"hash\":\"{}\"}}\n",
            hex(&e.prev_hash),
            hex(&e.hash)
        )
        .as_bytes(),
    );
    encoded
}

#[derive(serde::Serialize)]
struct ExportCheckpoint {
    seq: i64,
    hash: String,
    sealed_at: String,
    key_id: String,
    signature: String,
}

fn export_header(
    clinic: ClinicId,
    checkpoints: &[Checkpoint],
    keys: Vec<(String, String)>,
) -> Vec<u8> {
    let header = serde_json::json!({
        "export": {
            "clinic_id": clinic.uuid(),
            "encoding": "each line after this one is the event's canonical JSON with prev_hash and hash appended; hash = SHA-256(prev_hash bytes || the line without those two members); see docs/security.md",
            "checkpoint_signature": "Ed25519 over 'salus-audit-checkpoint-v1' || chain id (16 bytes) || seq (i64 BE) || hash (32 bytes) || sealed_at (microseconds since the epoch, i64 BE)",
            "public_keys": keys
                .into_iter()
                .map(|(id, key)| (id, serde_json::Value::String(key)))
                .collect::<serde_json::Map<String, serde_json::Value>>(),
            "checkpoints": checkpoints.iter().map(|c| ExportCheckpoint {
                seq: c.seq,
                hash: hex(&c.hash),
                sealed_at: format_time(c.sealed_at),
                key_id: c.key_id.clone(),
                signature: STANDARD.encode(&c.signature),
            }).collect::<Vec<_>>(),
        }
    });
    let mut line = serde_json::to_vec(&header).unwrap_or_default();
    line.push(b'\n');
    line
}
