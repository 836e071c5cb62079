//! The platform operator realm's routes, under `/api/v1/platform/`: enrolment
//! with the one-time link, sign-in (password and authenticator, always), the
//! operator's own account, and the clinics' metadata and counts. None of them
//! answers a patient's row or a decrypted field.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use salus_domain::ids::ClinicId;
use salus_domain::platform::{OperatorActor, role_permissions};
use salus_domain::ports::operators::ClinicSummary;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use crate::auth::client::Client;
use crate::auth::operator::Operator;
use crate::json::ValidatedJson;
use crate::problem::{ApiError, Problem};
use crate::routes::me::TotpEnrolment;
use crate::state::Ports;

/// The enrolment link's token and a new password.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"token": "h8Yk2pQ0d0H1xJt6Q3rVw9mZbC5nL7sE4aF2gU1iO0k", "password": "slate harbour ninety cobalt"}))]
pub struct StartEnrolmentRequest {
    /// The enrolment code from the email.
    #[validate(length(min = 1, max = 200))]
    #[schema(min_length = 1, max_length = 200)]
    pub token: String,
    /// A new password (16 to 256 characters; a passphrase).
    #[validate(custom(function = "crate::routes::auth::new_password_length"))]
    #[schema(min_length = 16, max_length = 256)]
    pub password: String,
}

/// The enrolment link's token and the authenticator's first code.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"token": "h8Yk2pQ0d0H1xJt6Q3rVw9mZbC5nL7sE4aF2gU1iO0k", "code": "123456"}))]
pub struct ConfirmEnrolmentRequest {
    /// The enrolment code from the email.
    #[validate(length(min = 1, max = 200))]
    #[schema(min_length = 1, max_length = 200)]
    pub token: String,
    /// A code of the authenticator just added.
    #[validate(length(min = 6, max = 8))]
    #[schema(min_length = 6, max_length = 8)]
    pub code: String,
}

/// An operator's sign-in: every factor at once.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "uli@ops.example", "password": "slate harbour ninety cobalt", "code": "123456"}))]
pub struct OperatorLoginRequest {
    /// The operator's address.
    #[validate(length(min = 3, max = 254))]
    #[schema(min_length = 3, max_length = 254)]
    pub email: String,
    /// The password.
    #[validate(length(min = 1, max = 256))]
    #[schema(min_length = 1, max_length = 256)]
    pub password: String,
    /// A code of the authenticator.
    #[validate(length(min = 6, max = 8))]
    #[schema(min_length = 6, max_length = 8)]
    pub code: String,
}

/// A signed-in operator's token.
#[derive(Debug, Serialize, ToSchema)]
pub struct OperatorToken {
    /// The bearer token (`salus_op_...`), shown once: send it as
    /// `Authorization: Bearer` to the platform's operations.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// The session ends then without a request.
    pub idle_expires_at: DateTime<Utc>,
    /// The session ends then whatever happens (8 hours at most, and never
    /// after the account's end).
    pub absolute_expires_at: DateTime<Utc>,
}

/// The signed-in operator.
#[derive(Debug, Serialize, ToSchema)]
pub struct OperatorResponse {
    /// Their id.
    pub id: Uuid,
    /// Their address.
    pub email: String,
    /// `incident_manager`, `security_officer` or `support`.
    pub role: &'static str,
    /// Their platform permissions.
    pub permissions: Vec<&'static str>,
    /// When their access ends.
    pub ends_at: DateTime<Utc>,
}

impl From<OperatorActor> for OperatorResponse {
    fn from(a: OperatorActor) -> Self {
        Self {
            id: a.operator_id.uuid(),
            email: a.email,
            role: a.role.as_str(),
            permissions: role_permissions(a.role).iter().map(|p| p.code()).collect(),
            ends_at: a.ends_at,
        }
    }
}

/// A clinic as an operator sees it: metadata and counts.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClinicSummaryResponse {
    /// Its id.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// Its plan.
    pub plan: String,
    /// Signed up when.
    pub created_at: DateTime<Utc>,
    /// Active members.
    pub members: i64,
    /// Patients: a count, never a row.
    pub patients: i64,
    /// Whether its closure is asked for.
    pub closure_requested: bool,
}

impl From<ClinicSummary> for ClinicSummaryResponse {
    fn from(c: ClinicSummary) -> Self {
        Self {
            id: c.id.uuid(),
            name: c.name,
            plan: c.plan,
            created_at: c.created_at,
            members: c.members,
            patients: c.patients,
            closure_requested: c.closure_requested,
        }
    }
}

/// Sets the password of an operator account opened by the CLI.
#[utoipa::path(
    operation_id = "platform_enrolment_start",
    tag = "platform",
    summary = "Enrol as an operator: password",
    description = "With the enrolment code the CLI emailed (`salus operator add`), valid 72 hours and until enrolment completes: sets the password and answers the authenticator to add (again on each call, until it is confirmed). The account signs in only once the authenticator is confirmed.",
    security(()),
    request_body = StartEnrolmentRequest,
    responses(
        (status = 200, description = "The authenticator to add.", body = TotpEnrolment),
    )
)]
#[post("/api/v1/platform/enrolment")]
pub async fn start_enrolment(
    ports: web::Data<Ports>,
    client: Client,
    body: ValidatedJson<StartEnrolmentRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let _permit = ports.hashing_permit().await?;
    let enrolment = ports
        .call(move |services| {
            services.platform.throttled_enrolment(&client.0)?;
            services
                .platform
                .start_enrolment(&body.token, &body.password)
        })
        .await?;
    Ok(HttpResponse::Ok().json(TotpEnrolment {
        otpauth_uri: enrolment.otpauth_uri,
        qr_svg: enrolment.qr_svg,
    }))
}

/// Confirms an operator's authenticator, completing enrolment.
#[utoipa::path(
    operation_id = "platform_enrolment_confirm",
    tag = "platform",
    summary = "Enrol as an operator: authenticator",
    description = "The first code of the authenticator added confirms it and spends the enrolment code; the operator can then sign in.",
    security(()),
    request_body = ConfirmEnrolmentRequest,
    responses(
        (status = 204, description = "Enrolled."),
        (status = 409, description = "No password set yet.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/platform/enrolment/confirm")]
pub async fn confirm_enrolment(
    ports: web::Data<Ports>,
    client: Client,
    body: ValidatedJson<ConfirmEnrolmentRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    ports
        .call(move |services| {
            services.platform.throttled_enrolment(&client.0)?;
            services
                .platform
                .confirm_enrolment(&body.token, &body.code, &client.0)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Signs an operator in.
#[utoipa::path(
    operation_id = "platform_login",
    tag = "platform",
    summary = "Operator sign-in",
    description = "Address, password and a code of the authenticator, in one request: MFA is never optional for an operator. Unknown address, wrong password or code, a locked, ended or revoked account all answer the same 401. The token's session ends after 15 minutes without a request or 8 hours after sign-in (and never after the account's end).",
    security(()),
    request_body = OperatorLoginRequest,
    responses(
        (status = 200, description = "Signed in.", body = OperatorToken),
        (status = 401, description = "Invalid credentials.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/platform/auth/login")]
pub async fn login(
    ports: web::Data<Ports>,
    client: Client,
    body: ValidatedJson<OperatorLoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let _permit = ports.hashing_permit().await?;
    let grant = ports
        .call(move |services| {
            services
                .platform
                .sign_in(&body.email, &body.password, &body.code, &client.0)
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(OperatorToken {
            access_token: grant.token,
            token_type: "Bearer",
            idle_expires_at: grant.idle_expires_at,
            absolute_expires_at: grant.absolute_expires_at,
        }))
}

/// Signs the operator's session out.
#[utoipa::path(
    operation_id = "platform_logout",
    tag = "platform",
    summary = "Operator sign-out",
    security(("operator" = [])),
    extensions(("x-permission" = json!("self"))),
    responses(
        (status = 204, description = "Signed out; the token no longer works."),
    )
)]
#[post("/api/v1/platform/auth/logout")]
pub async fn logout(
    ports: web::Data<Ports>,
    client: Client,
    who: Operator,
) -> Result<HttpResponse, ApiError> {
    ports
        .call(move |services| services.platform.sign_out(&who.0, &client.0))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The signed-in operator.
#[utoipa::path(
    operation_id = "platform_me",
    tag = "platform",
    summary = "The signed-in operator",
    security(("operator" = [])),
    extensions(("x-permission" = json!("self"))),
    responses(
        (status = 200, description = "The operator.", body = OperatorResponse),
    )
)]
#[get("/api/v1/platform/me")]
pub async fn me(who: Operator) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(OperatorResponse::from(who.0)))
}

/// The clinics' metadata and counts.
#[utoipa::path(
    operation_id = "platform_clinics_list",
    tag = "platform",
    summary = "List the clinics (operators)",
    description = "Every clinic's name, plan, sign-up date, member and patient counts and closure state: nothing of any clinic's rows. Recorded in the platform's audit chain.",
    security(("operator" = [])),
    extensions(("x-permission" = json!("platform.clinics.read"))),
    responses(
        (status = 200, description = "The clinics, by name.", body = Vec<ClinicSummaryResponse>),
    )
)]
#[get("/api/v1/platform/clinics")]
pub async fn clinics(
    ports: web::Data<Ports>,
    client: Client,
    who: Operator,
) -> Result<HttpResponse, ApiError> {
    let clinics = ports
        .call(move |services| services.platform.clinics(&who.0, &client.0))
        .await?;
    let body: Vec<ClinicSummaryResponse> = clinics.into_iter().map(Into::into).collect();
    Ok(HttpResponse::Ok().json(body))
}

/// One clinic's metadata and counts.
#[utoipa::path(
    operation_id = "platform_clinics_read",
    tag = "platform",
    summary = "One clinic (operators)",
    description = "The clinic's summary. Recorded in the platform's audit chain and in the clinic's own audit trail (`operator.clinic_read`), which its auditors read.",
    security(("operator" = [])),
    extensions(("x-permission" = json!("platform.clinics.read"))),
    params(("id" = Uuid, Path, description = "The clinic.")),
    responses(
        (status = 200, description = "The clinic.", body = ClinicSummaryResponse),
        (status = 404, description = "No such clinic.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/platform/clinics/{id}")]
pub async fn clinic(
    ports: web::Data<Ports>,
    client: Client,
    who: Operator,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = ClinicId(id.into_inner());
    let clinic = ports
        .call(move |services| services.platform.clinic(&who.0, id, &client.0))
        .await?;
    Ok(HttpResponse::Ok().json(ClinicSummaryResponse::from(clinic)))
}
