//! Exports of every record of the clinic (promise D3, portability): asked for,
//! read, and downloaded as an age-encrypted archive built while it streams.

use std::io::Write;
use std::str::FromStr;

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use salus_domain::DomainError;
use salus_domain::actor::Actor;
use salus_domain::export::{Asked, Target, mode};
use salus_domain::identity::model::ClientInfo;
use salus_domain::ports::export::ExportRecord;
use salus_domain::services::Services;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use crate::auth::client::Client;
use crate::auth::extractor::Authenticated;
use crate::json::ValidatedJson;
use crate::problem::{ApiError, Problem};
use crate::state::Ports;

/// Encrypted chunks buffered between the archive's writer and the response.
const CHUNKS_IN_FLIGHT: usize = 8;

/// How the archive is encrypted.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ExportEncryption {
    /// To the age X25519 recipient given in `recipient` (`age1...`).
    Recipient,
    /// To a passphrase Salus generates and shows once, in the answer.
    Passphrase,
}

/// An export to make.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
// The example recipient is the public key of age's own documentation (not a secret).
#[schema(example = json!({"encryption": "recipient", "recipient": "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"}))]
pub struct ExportRequest {
    /// `recipient` or `passphrase`.
    pub encryption: ExportEncryption,
    /// The owner's age recipient (`age1...`); required with `recipient`, refused
    /// with `passphrase`.
    #[validate(length(min = 10, max = 200))]
    #[schema(min_length = 10, max_length = 200)]
    pub recipient: Option<String>,
}

/// An export.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportResponse {
    /// Its id.
    pub id: Uuid,
    /// `recipient` or `passphrase`; `expired` once the export expired.
    pub encryption: String,
    /// When it was asked for.
    pub created_at: DateTime<Utc>,
    /// Until when it can be downloaded.
    pub expires_at: DateTime<Utc>,
    /// Complete downloads so far.
    pub downloads: i32,
    /// SHA-256 of the last complete download's manifest, hex.
    pub last_manifest_sha256: Option<String>,
    /// Where to download the archive (step-up).
    pub archive_path: String,
    /// The generated passphrase: in the answer that creates a passphrase
    /// export, and never again.
    pub passphrase: Option<String>,
}

impl ExportResponse {
    /// The answer for `export`, with the passphrase when it is shown.
    pub fn of(export: ExportRecord, passphrase: Option<String>) -> Self {
        Self {
            id: export.id,
            encryption: mode(&export.encryption).to_owned(),
            created_at: export.created_at,
            expires_at: export.expires_at,
            downloads: export.downloads,
            last_manifest_sha256: export.last_manifest_sha256,
            archive_path: format!("/api/v1/clinic/exports/{}/archive", export.id),
            passphrase,
        }
    }
}

/// Asks for an export of every record of the clinic.
#[utoipa::path(
    operation_id = "clinic_exports_create",
    tag = "clinic",
    summary = "Ask for an export of the clinic's data",
    description = "Step-up MFA. The archive (every table of the clinic with health fields decrypted, the staff, the audit trail with its hashes and checkpoints, and a manifest signed with Ed25519) is encrypted with age to `recipient`, or to a passphrase returned once in this answer. It is built while it is downloaded and never stored. At most 5 exports a day; the owners are emailed. `salus export verify FILE --identity KEY` checks a download offline.",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("data.export"))),
    request_body = ExportRequest,
    responses(
        (status = 201, description = "Asked for; download it from `archive_path` within 24 hours.", body = ExportResponse),
        (status = 403, description = "Missing permission, or no recent MFA check (`step_up_required`).", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Five exports were asked for in the last 24 hours.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/clinic/exports")]
pub async fn create(
    ports: web::Data<Ports>,
    client: Client,
    who: Authenticated,
    body: ValidatedJson<ExportRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let asked = match body.encryption {
        ExportEncryption::Recipient => Asked::Recipient(body.recipient),
        ExportEncryption::Passphrase => Asked::Passphrase(body.recipient),
    };
    let created = ports
        .call_as(&who, move |services, actor| {
            services.exports.create_export(actor, asked, &client.0)
        })
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(ExportResponse::of(created.export, created.passphrase)))
}

/// One export.
#[utoipa::path(
    operation_id = "clinic_exports_read",
    tag = "clinic",
    summary = "Get an export's state",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("data.export"))),
    params(("id" = Uuid, Path, description = "The export.")),
    responses(
        (status = 200, description = "The export.", body = ExportResponse),
        (status = 404, description = "No such export.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/clinic/exports/{id}")]
pub async fn read(
    ports: web::Data<Ports>,
    who: Authenticated,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let export = ports
        .call_as(&who, move |services, actor| {
            services.exports.export_status(actor, id)
        })
        .await?;
    Ok(HttpResponse::Ok().json(ExportResponse::of(export, None)))
}

/// Downloads an export's archive.
#[utoipa::path(
    operation_id = "clinic_exports_archive",
    tag = "clinic",
    summary = "Download an export's archive",
    description = "Step-up MFA. An age-encrypted NDJSON archive (`salus-clinic-export` version 1), built from one snapshot of the clinic while it streams: memory stays flat whatever the clinic's size. A download cut short has no manifest and does not verify.",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("data.export"))),
    params(("id" = Uuid, Path, description = "The export.")),
    responses(
        (status = 200, description = "The archive, streamed.", content_type = "application/octet-stream", body = String),
        (status = 403, description = "Missing permission, or no recent MFA check (`step_up_required`).", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such export.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The export expired (`export_expired`).", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/clinic/exports/{id}/archive")]
pub async fn archive(
    ports: web::Data<Ports>,
    client: Client,
    who: Authenticated,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let open_client = client.0.clone();
    let (actor, target) = ports
        .call_as(&who, move |services, actor| {
            let target = services.exports.open_export(actor, id, &open_client)?;
            Ok((actor.clone(), target))
        })
        .await?;
    let (sender, receiver) = tokio::sync::mpsc::channel(CHUNKS_IN_FLIGHT);
    let services = ports.services.clone();
    let clinic = actor.clinic_id;
    let span = tracing::Span::current();
    std::thread::Builder::new()
        .name("salus-export".to_owned())
        .spawn(move || {
            let _entered = span.enter();
            if let Err(e) = stream_archive(&services, &actor, id, target, &client.0, sender) {
                tracing::warn!(export_id = %id, error = %e, "the export's download stopped");
            }
        })
        .map_err(|e| ApiError::from(DomainError::Internal(format!("export thread: {e}"))))?;
    let body = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver
            .recv()
            .await
            .map(|chunk: Bytes| (Ok::<_, ApiError>(chunk), receiver))
    });
    Ok(HttpResponse::Ok()
        .content_type("application/octet-stream")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"salus-export-{}-{id}.ndjson.age\"",
                clinic.uuid()
            ),
        ))
        .streaming(body))
}

/// Writes into the response's channel, blocking while it is full (so the
/// archive is built no faster than the client reads it).
struct ChannelWriter(tokio::sync::mpsc::Sender<Bytes>);

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .blocking_send(Bytes::copy_from_slice(buf))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client left"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Builds, encrypts and sends the archive; records a complete download.
fn stream_archive(
    services: &Services,
    actor: &Actor,
    id: Uuid,
    target: Target,
    client: &ClientInfo,
    sender: tokio::sync::mpsc::Sender<Bytes>,
) -> Result<(), DomainError> {
    let failed =
        |e: &dyn std::fmt::Display| DomainError::Internal(format!("export encryption: {e}"));
    let encryptor = match &target {
        Target::Recipient(r) => {
            let recipient = age::x25519::Recipient::from_str(r).map_err(|e| failed(&e))?;
            age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
                .map_err(|e| failed(&e))?
        }
        Target::Passphrase(p) => {
            age::Encryptor::with_user_passphrase(age::secrecy::SecretString::from(p.clone()))
        }
    };
    let out = std::io::BufWriter::with_capacity(64 * 1024, ChannelWriter(sender));
    let mut writer = encryptor.wrap_output(out).map_err(|e| failed(&e))?;
    let manifest = services.exports.write_archive(actor, id, &mut |bytes| {
        writer.write_all(bytes).map_err(|e| failed(&e))
    })?;
    let mut out = writer.finish().map_err(|e| failed(&e))?;
    out.flush().map_err(|e| failed(&e))?;
    // The response ends when the channel's sender is dropped: keep it until
    // the download is recorded, so a client that has read the whole archive
    // already sees it counted.
    let recorded = services
        .exports
        .export_downloaded(actor, id, &manifest, client);
    drop(out);
    recorded
}
