//! The clinic's settings.

use actix_web::{HttpResponse, get, patch, web};
use salus_domain::identity::model::Clinic;
use salus_domain::ports::clinic::ClinicChanges;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use crate::auth::client::Client;
use crate::auth::extractor::Authenticated;
use crate::json::ValidatedJson;
use crate::preconditions::{IfMatch, with_etag};
use crate::problem::{ApiError, Problem};
use crate::state::Ports;

/// The clinic's settings.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClinicResponse {
    /// Its id.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// `free`, `pro` or `business` (set by the operator).
    pub plan: String,
    /// Sessions end after this many idle minutes (5 to 60).
    pub idle_timeout_minutes: i32,
    /// Whether every member must use MFA.
    pub require_mfa: bool,
    /// IANA time zone of working hours.
    pub time_zone: String,
    /// Reminders go out this many hours before an appointment.
    pub reminder_offset_hours: i32,
    /// Years a medical record is kept after the patient's last encounter (their
    /// last appointment or note): no erasure before. 20 by default (the French
    /// Code de la santé publique, art. R1112-7); set your jurisdiction's period.
    pub record_retention_years: i32,
    /// Patients without an encounter for this many years move to the records
    /// archive (out of lists; read by break-the-glass). 5 by default.
    pub archive_after_years: i32,
    /// Whether every clinical read must say why, in the `X-Purpose-Of-Use`
    /// header (an HL7 PurposeOfUse code, kept in the audit event). Off by default.
    pub purpose_of_use_required: bool,
    /// The settings' version: its ETag is `"v<version>"`, to send in `If-Match`.
    pub version: i32,
}

impl From<Clinic> for ClinicResponse {
    fn from(c: Clinic) -> Self {
        Self {
            id: c.id.uuid(),
            name: c.name,
            plan: c.plan,
            idle_timeout_minutes: c.idle_timeout_minutes,
            require_mfa: c.require_mfa,
            time_zone: c.time_zone,
            reminder_offset_hours: c.reminder_offset_hours,
            record_retention_years: c.record_retention_years,
            archive_after_years: c.archive_after_years,
            purpose_of_use_required: c.purpose_of_use_required,
            version: c.version,
        }
    }
}

/// Changes to the settings.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Harbour Clinic", "time_zone": "Europe/Paris", "idle_timeout_minutes": 30, "reminder_offset_hours": 24, "require_mfa": true}))]
pub struct UpdateClinicRequest {
    /// New name.
    #[validate(length(min = 1, max = 200))]
    #[schema(min_length = 1, max_length = 200)]
    pub name: Option<String>,
    /// Idle timeout in minutes (5 to 60).
    #[validate(range(min = 5, max = 60))]
    #[schema(minimum = 5, maximum = 60)]
    pub idle_timeout_minutes: Option<i32>,
    /// Require MFA of every member.
    pub require_mfa: Option<bool>,
    /// IANA time zone (`Europe/Paris`).
    #[validate(length(min = 1, max = 64))]
    #[schema(min_length = 1, max_length = 64)]
    pub time_zone: Option<String>,
    /// Hours before an appointment its reminder goes out (1 to 168).
    #[validate(range(min = 1, max = 168))]
    #[schema(minimum = 1, maximum = 168)]
    pub reminder_offset_hours: Option<i32>,
    /// Years a medical record is kept after the last encounter (1 to 100).
    #[validate(range(min = 1, max = 100))]
    #[schema(minimum = 1, maximum = 100)]
    pub record_retention_years: Option<i32>,
    /// Years without an encounter before the records archive (1 to 50).
    #[validate(range(min = 1, max = 50))]
    #[schema(minimum = 1, maximum = 50)]
    pub archive_after_years: Option<i32>,
    /// Require the `X-Purpose-Of-Use` header on every clinical read.
    pub purpose_of_use_required: Option<bool>,
}

/// The caller's clinic.
#[utoipa::path(
    operation_id = "clinic_read",
    tag = "clinic",
    summary = "Get the clinic's settings",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("clinic.read"))),
    responses(
        (status = 200, description = "Settings; `ETag` header.", body = ClinicResponse, headers(("ETag" = String, description = "The version: send it back in `If-Match` to change the settings."))),
    )
)]
#[get("/api/v1/clinic")]
pub async fn get_settings(
    ports: web::Data<Ports>,
    who: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let clinic = ports
        .call_as(&who, move |services, actor| {
            services.clinics.clinic_settings(actor)
        })
        .await?;
    Ok(with_etag(&mut HttpResponse::Ok(), clinic.version).json(ClinicResponse::from(clinic)))
}

/// Changes the clinic's settings.
#[utoipa::path(
    operation_id = "clinic_update",
    tag = "clinic",
    summary = "Change the clinic's settings",
    description = "Step-up MFA. `require_mfa` applies on each member's next request: members without MFA may then only enrol.",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("clinic.update"))),
    params(("If-Match" = String, Header, description = "The ETag of the version read, or `*`.")),
    request_body = UpdateClinicRequest,
    responses(
        (status = 200, description = "Changed; new `ETag`.", body = ClinicResponse, headers(("ETag" = String, description = "The version: send it back in `If-Match` to change the settings."))),
        (status = 403, description = "Missing permission or step-up required.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/api/v1/clinic")]
pub async fn update_settings(
    ports: web::Data<Ports>,
    client: Client,
    who: Authenticated,
    if_match: IfMatch,
    body: ValidatedJson<UpdateClinicRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let changes = ClinicChanges {
        name: body.name,
        idle_timeout_minutes: body.idle_timeout_minutes,
        require_mfa: body.require_mfa,
        time_zone: body.time_zone,
        reminder_offset_hours: body.reminder_offset_hours,
        record_retention_years: body.record_retention_years,
        archive_after_years: body.archive_after_years,
        purpose_of_use_required: body.purpose_of_use_required,
    };
    let clinic = ports
        .call_as(&who, move |services, actor| {
            services
                .clinics
                .update_clinic_settings(actor, &changes, if_match.0, &client.0)
        })
        .await?;
    Ok(with_etag(&mut HttpResponse::Ok(), clinic.version).json(ClinicResponse::from(clinic)))
}
