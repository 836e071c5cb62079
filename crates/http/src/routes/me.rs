//! The signed-in member: profile, sessions, password, email, phone and MFA.

use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use salus_domain::actor::ActorKind;
use salus_domain::ids::SessionId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use crate::auth::client::Client;
use crate::auth::extractor::{Enrolling, Member};
use crate::json::ValidatedJson;
use crate::problem::{ApiError, Problem};
use crate::routes::auth::{Accepted, SecondFactorFields};
use crate::state::Ports;

/// The clinic a session acts in.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClinicSummary {
    /// Its id.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// Its plan.
    pub plan: String,
}

/// The signed-in person and membership.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeResponse {
    /// The account.
    pub account_id: Uuid,
    /// Email.
    pub email: String,
    /// Whether the email is verified.
    pub email_verified: bool,
    /// Given name.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// Verified phone number.
    pub phone: Option<String>,
    /// Whether an authenticator is enrolled.
    pub mfa_enrolled: bool,
    /// Whether this membership must use MFA.
    pub mfa_required: bool,
    /// The clinic.
    pub clinic: ClinicSummary,
    /// The membership.
    pub membership_id: Uuid,
    /// The role in this clinic.
    #[schema(value_type = crate::contract::enums::RoleName)]
    pub role: String,
    /// The current session.
    pub session_id: Uuid,
}

/// A session, with what helps a person recognise the device.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionResponse {
    /// Its id.
    pub id: Uuid,
    /// Whether it is the one making this request.
    pub current: bool,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last request.
    pub last_seen_at: DateTime<Utc>,
    /// Ends after inactivity at.
    pub idle_expires_at: DateTime<Utc>,
    /// Ends at the latest at.
    pub absolute_expires_at: DateTime<Utc>,
    /// Ended at.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Why it ended.
    pub revoked_reason: Option<String>,
    /// Address at sign-in.
    pub ip: Option<String>,
    /// Browser or app at sign-in.
    pub user_agent: Option<String>,
}

/// A page of sessions.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionList {
    /// The sessions, newest first (at most 100).
    pub items: Vec<SessionResponse>,
    /// Always null: the list is capped, not paged.
    pub next_cursor: Option<String>,
}

/// Change the password.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"current_password": "mossy anchor twelve lyric", "new_password": "quiet saffron kettle dune"}))]
pub struct ChangePasswordRequest {
    /// The current password.
    #[validate(length(min = 1, max = 1024))]
    #[schema(min_length = 1, max_length = 1024)]
    pub current_password: String,
    /// The new password.
    #[validate(custom(function = "crate::routes::auth::new_password_length"))]
    #[schema(min_length = 16, max_length = 256)]
    pub new_password: String,
}

/// Change the email address.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"password": "mossy anchor twelve lyric", "new_email": "ada.lovelace@clinic.example"}))]
pub struct ChangeEmailRequest {
    /// The current password.
    #[validate(length(min = 1, max = 1024))]
    #[schema(min_length = 1, max_length = 1024)]
    pub password: String,
    /// The new address.
    #[validate(length(min = 3, max = 254))]
    #[schema(min_length = 3, max_length = 254)]
    pub new_email: String,
}

/// Set a phone number.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"phone": "+33612345678"}))]
pub struct PhoneRequest {
    /// E.164 number, such as `+33612345678`.
    #[validate(length(min = 8, max = 20))]
    #[schema(min_length = 8, max_length = 20)]
    pub phone: String,
}

/// A one-time code.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"code": "123456"}))]
pub struct CodeRequest {
    /// The code.
    #[validate(length(min = 6, max = 8))]
    #[schema(min_length = 6, max_length = 8)]
    pub code: String,
}

/// Turn MFA off.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"password": "mossy anchor twelve lyric", "code": "123456"}))]
pub struct DisableMfaRequest {
    /// The current password.
    #[validate(length(min = 1, max = 1024))]
    #[schema(min_length = 1, max_length = 1024)]
    pub password: String,
    /// A current TOTP code.
    #[validate(length(min = 6, max = 8))]
    #[schema(min_length = 6, max_length = 8)]
    pub code: Option<String>,
    /// Or a recovery code.
    #[validate(length(min = 8, max = 32))]
    #[schema(min_length = 8, max_length = 32)]
    pub recovery_code: Option<String>,
}

/// A new authenticator to add.
#[derive(Debug, Serialize, ToSchema)]
pub struct TotpEnrolment {
    /// The `otpauth://` URI.
    pub otpauth_uri: String,
    /// The same as an SVG QR code.
    pub qr_svg: String,
}

/// Recovery codes, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecoveryCodes {
    /// Ten single-use codes.
    pub recovery_codes: Vec<String>,
}

/// The signed-in member.
#[utoipa::path(
    operation_id = "me_read",
    tag = "me",
    summary = "Who am I",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("self"))),
    responses(
        (status = 200, description = "The account, clinic and session.", body = MeResponse),
        (status = 403, description = "MFA enrolment required first.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/me")]
pub async fn me(ports: web::Data<Ports>, who: Member) -> Result<HttpResponse, ApiError> {
    let (actor, (account, clinic)) = ports
        .call_as(&who, move |services, actor| {
            Ok((actor.clone(), services.auth.me(actor)?))
        })
        .await?;
    Ok(HttpResponse::Ok().json(MeResponse {
        account_id: account.id.uuid(),
        email: account.email,
        email_verified: account.email_verified_at.is_some(),
        given_name: account.given_name,
        family_name: account.family_name,
        phone: account
            .phone
            .filter(|_| account.phone_verified_at.is_some()),
        mfa_enrolled: account.totp_confirmed_at.is_some(),
        mfa_required: actor.mfa_required,
        clinic: ClinicSummary {
            id: clinic.id.uuid(),
            name: clinic.name,
            plan: clinic.plan,
        },
        membership_id: actor.membership_id.uuid(),
        role: match actor.kind {
            ActorKind::Member(role) => role.as_str().to_owned(),
            ActorKind::Service => "service".to_owned(),
        },
        session_id: actor.session_id.uuid(),
    }))
}

/// The member's sessions in this clinic.
#[utoipa::path(
    operation_id = "me_sessions_list",
    tag = "me",
    summary = "List my sessions",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("self"))),
    responses(
        (status = 200, description = "Sessions, newest first.", body = SessionList),
        (status = 403, description = "MFA enrolment required first.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/me/sessions")]
pub async fn sessions(ports: web::Data<Ports>, who: Member) -> Result<HttpResponse, ApiError> {
    let current = who.session_id();
    let list = ports
        .call_as(&who, move |services, actor| services.auth.sessions(actor))
        .await?;
    let items = list
        .into_iter()
        .map(|s| SessionResponse {
            id: s.id.uuid(),
            current: s.id == current,
            created_at: s.created_at,
            last_seen_at: s.last_seen_at,
            idle_expires_at: s.idle_expires_at,
            absolute_expires_at: s.absolute_expires_at,
            revoked_at: s.revoked_at,
            revoked_reason: s.revoked_reason,
            ip: s.ip,
            user_agent: s.user_agent,
        })
        .collect();
    Ok(HttpResponse::Ok().json(SessionList {
        items,
        next_cursor: None,
    }))
}

/// End one of the member's own sessions.
#[utoipa::path(
    operation_id = "me_sessions_revoke",
    tag = "me",
    summary = "Sign out one of my sessions",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("self"))),
    params(("id" = Uuid, Path, description = "The session.")),
    responses(
        (status = 204, description = "Ended."),
        (status = 403, description = "MFA enrolment required first.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such live session of yours.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/api/v1/me/sessions/{id}")]
pub async fn revoke_session(
    ports: web::Data<Ports>,
    client: Client,
    who: Member,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = SessionId(id.into_inner());
    ports
        .call_as(&who, move |services, actor| {
            services.auth.revoke_own_session(actor, id, &client.0)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Change the password.
#[utoipa::path(
    operation_id = "me_change_password",
    tag = "me",
    summary = "Change my password",
    description = "Ends the other sessions and notifies by email.",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("self"))),
    request_body = ChangePasswordRequest,
    responses(
        (status = 204, description = "Changed."),
        (status = 403, description = "MFA enrolment required first.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Wrong current password or a refused new one.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/me/password")]
pub async fn change_password(
    ports: web::Data<Ports>,
    client: Client,
    who: Member,
    body: ValidatedJson<ChangePasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let _permit = ports.hashing_permit().await?;
    ports
        .call_as(&who, move |services, actor| {
            services.auth.change_password(
                actor,
                &body.current_password,
                &body.new_password,
                &client.0,
            )
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Start an email change.
#[utoipa::path(
    operation_id = "me_change_email",
    tag = "me",
    summary = "Change my email",
    description = "Needs the password and a recent MFA check (step-up). The new address receives a token to confirm; the old one is told.",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("self"))),
    request_body = ChangeEmailRequest,
    responses(
        (status = 202, description = "Confirmation sent.", body = Accepted),
        (status = 403, description = "Step-up required.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Wrong password or invalid address.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/me/email")]
pub async fn change_email(
    ports: web::Data<Ports>,
    client: Client,
    who: Member,
    body: ValidatedJson<ChangeEmailRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let _permit = ports.hashing_permit().await?;
    ports
        .call_as(&who, move |services, actor| {
            services
                .auth
                .request_email_change(actor, &body.password, &body.new_email, &client.0)
        })
        .await?;
    Ok(HttpResponse::Accepted().json(Accepted {
        status: "accepted",
        message: "Confirm the new address with the code sent to it.",
    }))
}

/// Set a phone number and send it a code.
#[utoipa::path(
    operation_id = "me_set_phone",
    tag = "me",
    summary = "Set my phone number",
    description = "Sends a 6-digit code by SMS, valid 10 minutes with 5 attempts. Resending is throttled and keeps the attempt count.",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("self"))),
    request_body = PhoneRequest,
    responses(
        (status = 202, description = "Code sent.", body = Accepted),
        (status = 403, description = "MFA enrolment required first.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not an E.164 number.", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Sent too recently.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/me/phone")]
pub async fn set_phone(
    ports: web::Data<Ports>,
    client: Client,
    who: Member,
    body: ValidatedJson<PhoneRequest>,
) -> Result<HttpResponse, ApiError> {
    let phone = body.into_inner().phone;
    ports
        .call_as(&who, move |services, actor| {
            services
                .auth
                .start_phone_verification(actor, &phone, &client.0)
        })
        .await?;
    Ok(HttpResponse::Accepted().json(Accepted {
        status: "accepted",
        message: "Enter the code sent by SMS.",
    }))
}

/// Verify the phone number.
#[utoipa::path(
    operation_id = "me_verify_phone",
    tag = "me",
    summary = "Verify my phone number",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("self"))),
    request_body = CodeRequest,
    responses(
        (status = 204, description = "Verified."),
        (status = 403, description = "MFA enrolment required first.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Wrong, expired or exhausted code.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/me/phone/verify")]
pub async fn verify_phone(
    ports: web::Data<Ports>,
    client: Client,
    who: Member,
    body: ValidatedJson<CodeRequest>,
) -> Result<HttpResponse, ApiError> {
    let code = body.into_inner().code;
    ports
        .call_as(&who, move |services, actor| {
            services.auth.verify_phone(actor, &code, &client.0)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Start TOTP enrolment.
#[utoipa::path(
    operation_id = "me_start_totp",
    tag = "me",
    summary = "Enrol an authenticator app",
    description = "Returns the secret as an otpauth URI and an SVG QR code; confirm with a first code. Replacing a confirmed authenticator needs step-up.",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("self"))),
    responses(
        (status = 200, description = "Scan it, then confirm.", body = TotpEnrolment),
        (status = 403, description = "Step-up required.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/me/mfa/totp")]
pub async fn start_totp(ports: web::Data<Ports>, who: Enrolling) -> Result<HttpResponse, ApiError> {
    let e = ports
        .call_as(&who, move |services, actor| services.auth.start_totp(actor))
        .await?;
    Ok(HttpResponse::Ok().json(TotpEnrolment {
        otpauth_uri: e.otpauth_uri,
        qr_svg: e.qr_svg,
    }))
}

/// Confirm TOTP enrolment.
#[utoipa::path(
    operation_id = "me_confirm_totp",
    tag = "me",
    summary = "Confirm the authenticator",
    description = "Turns MFA on and returns ten recovery codes, shown this once.",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("self"))),
    request_body = CodeRequest,
    responses(
        (status = 200, description = "MFA is on.", body = RecoveryCodes),
        (status = 422, description = "The code does not match.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/me/mfa/totp/confirm")]
pub async fn confirm_totp(
    ports: web::Data<Ports>,
    client: Client,
    who: Enrolling,
    body: ValidatedJson<CodeRequest>,
) -> Result<HttpResponse, ApiError> {
    let code = body.into_inner().code;
    let recovery_codes = ports
        .call_as(&who, move |services, actor| {
            services.auth.confirm_totp(actor, &code, &client.0)
        })
        .await?;
    Ok(HttpResponse::Ok().json(RecoveryCodes { recovery_codes }))
}

/// Turn MFA off.
#[utoipa::path(
    operation_id = "me_disable_totp",
    tag = "me",
    summary = "Remove the authenticator",
    description = "Needs the password and a code; refused while the membership requires MFA.",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("self"))),
    request_body = DisableMfaRequest,
    responses(
        (status = 204, description = "MFA is off."),
        (status = 401, description = "Not signed in, wrong password or code.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The membership requires MFA.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/me/mfa/totp/disable")]
pub async fn disable_totp(
    ports: web::Data<Ports>,
    client: Client,
    who: Member,
    body: ValidatedJson<DisableMfaRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let factor = SecondFactorFields {
        code: body.code,
        recovery_code: body.recovery_code,
    }
    .factor()?;
    let _permit = ports.hashing_permit().await?;
    ports
        .call_as(&who, move |services, actor| {
            services
                .auth
                .disable_totp(actor, &body.password, &factor, &client.0)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Replace the recovery codes.
#[utoipa::path(
    operation_id = "me_regenerate_recovery_codes",
    tag = "me",
    summary = "Regenerate recovery codes",
    description = "Needs step-up; the old codes stop working.",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("self"))),
    responses(
        (status = 200, description = "New codes, shown this once.", body = RecoveryCodes),
        (status = 403, description = "Step-up required.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/me/mfa/recovery-codes")]
pub async fn regenerate_recovery_codes(
    ports: web::Data<Ports>,
    client: Client,
    who: Member,
) -> Result<HttpResponse, ApiError> {
    let recovery_codes = ports
        .call_as(&who, move |services, actor| {
            services.auth.regenerate_recovery_codes(actor, &client.0)
        })
        .await?;
    Ok(HttpResponse::Ok().json(RecoveryCodes { recovery_codes }))
}
