//! Public authentication routes: sign-up, sign-in, MFA, refresh, one-time tokens;
//! and sign-out and step-up for signed-in members.

use actix_web::{HttpResponse, post, web};
use chrono::{DateTime, Utc};
use salus_domain::identity::auth::{LoginOutcome, SessionGrant, SignUp};
use salus_domain::identity::mfa::SecondFactor;
use salus_domain::ids::ClinicId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use crate::auth::client::Client;
use crate::auth::extractor::{Enrolling, Member};
use crate::json::ValidatedJson;
use crate::problem::{ApiError, Problem};
use crate::state::Ports;

/// Sign up a clinic and its owner.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"clinic_name": "Harbour Clinic", "email": "ada@clinic.example", "password": "mossy anchor twelve lyric", "given_name": "Ada", "family_name": "Lovelace"}))]
pub struct SignUpRequest {
    /// The clinic's name.
    #[validate(length(min = 1, max = 200))]
    #[schema(min_length = 1, max_length = 200)]
    pub clinic_name: String,
    /// The owner's email.
    #[validate(length(min = 3, max = 254))]
    #[schema(min_length = 3, max_length = 254)]
    pub email: String,
    /// A new password (16 to 256 characters; a passphrase), or the existing
    /// account's current password.
    #[validate(custom(function = "crate::routes::auth::new_password_length"))]
    #[schema(min_length = 16, max_length = 256)]
    pub password: String,
    /// The owner's given name.
    #[validate(length(min = 1, max = 100))]
    #[schema(min_length = 1, max_length = 100)]
    pub given_name: String,
    /// The owner's family name.
    #[validate(length(min = 1, max = 100))]
    #[schema(min_length = 1, max_length = 100)]
    pub family_name: String,
}

/// The request was accepted; what follows arrives by email.
#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    /// Always `accepted`.
    pub status: &'static str,
    /// What happens next.
    pub message: &'static str,
}

/// Sign in with email and password.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "ada@clinic.example", "password": "mossy anchor twelve lyric"}))]
pub struct LoginRequest {
    /// The account's email.
    #[validate(length(min = 1, max = 254))]
    #[schema(min_length = 1, max_length = 254)]
    pub email: String,
    /// The password.
    #[validate(length(min = 1, max = 1024))]
    #[schema(min_length = 1, max_length = 1024)]
    pub password: String,
    /// The clinic to act in, for an account with several memberships.
    pub clinic_id: Option<Uuid>,
}

/// A clinic the account may sign in to.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClinicChoice {
    /// The clinic.
    pub clinic_id: Uuid,
    /// Its name.
    pub clinic_name: String,
    /// The member's role there.
    #[schema(value_type = crate::contract::enums::RoleName)]
    pub role: String,
}

/// The `status` of a signed-in answer.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthenticatedStatus {
    /// Signed in: the tokens are here.
    Authenticated,
}

/// The `status` of a sign-in that needs a clinic chosen.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChooseClinicStatus {
    /// Sign in again with one of the `clinic_id`s.
    ChooseClinic,
}

/// The `status` of a sign-in to an address not verified yet.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EmailVerificationRequiredStatus {
    /// Verify the address first (`POST /api/v1/auth/verify-email`, or ask for a
    /// new code with `POST /api/v1/auth/verify-email/resend`).
    EmailVerificationRequired,
}

/// The `status` of a sign-in that needs a second factor.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MfaRequiredStatus {
    /// Complete with `POST /api/v1/auth/mfa`.
    MfaRequired,
}

/// Tokens for a session.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"status": "authenticated", "access_token": "eyJhbGciOiJIUzI1NiIsImtpZCI6InQxIiwidHlwIjoiYXQrand0In0.e30.c2lnbmF0dXJl", "token_type": "Bearer", "expires_in": 900, "refresh_token": "q3J8vX0kR2m9ZbT4nW6yH1cF5sD7gL0aE2uP4iO6kM8", "session_id": "0192f3a4-6666-7777-8888-999900001111", "clinic_id": "0192f3a4-4444-7555-8666-777788889999"}))]
pub struct TokenResponse {
    /// Always `authenticated` (the discriminator of `LoginResponse`).
    pub status: AuthenticatedStatus,
    /// JWT access token (at most 15 minutes).
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// Opaque refresh token, rotated at every use.
    pub refresh_token: String,
    /// The session.
    pub session_id: Uuid,
    /// The clinic the tokens act in.
    pub clinic_id: Uuid,
}

/// A sign-in to finish by choosing a clinic.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChooseClinicResponse {
    /// Always `choose_clinic`.
    pub status: ChooseClinicStatus,
    /// The account's clinics: sign in again with one of their `clinic_id`s.
    pub clinics: Vec<ClinicChoice>,
}

/// A sign-in refused until the address is verified: no tokens, so no other
/// operation is open until then.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"status": "email_verification_required", "message": "Verify your email address first: use the code we sent, or ask for a new one."}))]
pub struct EmailVerificationRequiredResponse {
    /// Always `email_verification_required`.
    pub status: EmailVerificationRequiredStatus,
    /// What to do next.
    pub message: &'static str,
}

/// A sign-in to finish with a second factor.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"status": "mfa_required", "mfa_token": "q3J8vX0kR2m9ZbT4nW6yH1cF5sD7gL0aE2uP4iO6kM8", "expires_at": "2026-12-02T14:05:00Z"}))]
pub struct MfaChallengeResponse {
    /// Always `mfa_required`.
    pub status: MfaRequiredStatus,
    /// The challenge to send back with the code to `POST /api/v1/auth/mfa`.
    pub mfa_token: String,
    /// When the challenge expires.
    pub expires_at: DateTime<Utc>,
}

/// What a sign-in leads to, told apart by `status`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
#[schema(discriminator(property_name = "status", mapping(
    ("authenticated" = "#/components/schemas/TokenResponse"),
    ("choose_clinic" = "#/components/schemas/ChooseClinicResponse"),
    ("mfa_required" = "#/components/schemas/MfaChallengeResponse"),
    ("email_verification_required" = "#/components/schemas/EmailVerificationRequiredResponse"),
)))]
pub enum LoginResponse {
    /// Signed in.
    Authenticated(TokenResponse),
    /// Sign in again with a clinic.
    ChooseClinic(ChooseClinicResponse),
    /// Complete with a second factor.
    MfaRequired(MfaChallengeResponse),
    /// Verify the address first.
    EmailVerificationRequired(EmailVerificationRequiredResponse),
}

/// A second factor: a TOTP code or a recovery code (exactly one).
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"code": "123456"}))]
pub struct SecondFactorFields {
    /// The 6-digit code of the authenticator app.
    #[validate(length(min = 6, max = 8))]
    #[schema(min_length = 6, max_length = 8)]
    pub code: Option<String>,
    /// One of the recovery codes.
    #[validate(length(min = 8, max = 32))]
    #[schema(min_length = 8, max_length = 32)]
    pub recovery_code: Option<String>,
}

/// `validator` rule for a new password's length, as the password policy counts it
/// (`salus_domain::identity::password::length_refusal`).
pub fn new_password_length(value: &str) -> Result<(), validator::ValidationError> {
    match salus_domain::identity::password::length_refusal(value) {
        None => Ok(()),
        Some((code, message)) => {
            Err(validator::ValidationError::new(code).with_message(message.into()))
        }
    }
}

impl SecondFactorFields {
    /// The factor given: exactly one of the two fields.
    pub fn factor(self) -> Result<SecondFactor, ApiError> {
        match (self.code, self.recovery_code) {
            (Some(code), None) => Ok(SecondFactor::Code(code)),
            (None, Some(code)) => Ok(SecondFactor::Recovery(code)),
            _ => Err(ApiError::Validation(vec![crate::problem::FieldError {
                field: "code".to_owned(),
                code: "one_of".to_owned(),
                message: "give exactly one of code and recovery_code".to_owned(),
            }])),
        }
    }
}

/// Complete a sign-in that requires MFA.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"mfa_token": "q3J8vX0kR2m9ZbT4nW6yH1cF5sD7gL0aE2uP4iO6kM8", "code": "123456"}))]
pub struct MfaRequest {
    /// The challenge from the sign-in answer.
    #[validate(length(min = 1, max = 200))]
    #[schema(min_length = 1, max_length = 200)]
    pub mfa_token: String,
    /// The 6-digit code.
    #[validate(length(min = 6, max = 8))]
    #[schema(min_length = 6, max_length = 8)]
    pub code: Option<String>,
    /// Or a recovery code.
    #[validate(length(min = 8, max = 32))]
    #[schema(min_length = 8, max_length = 32)]
    pub recovery_code: Option<String>,
}

/// Exchange a refresh token.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"refresh_token": "q3J8vX0kR2m9ZbT4nW6yH1cF5sD7gL0aE2uP4iO6kM8"}))]
pub struct RefreshRequest {
    /// The current refresh token.
    #[validate(length(min = 1, max = 200))]
    #[schema(min_length = 1, max_length = 200)]
    pub refresh_token: String,
}

/// Ask for a password reset.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "ada@clinic.example"}))]
pub struct PasswordResetRequest {
    /// The account's email.
    #[validate(length(min = 1, max = 254))]
    #[schema(min_length = 1, max_length = 254)]
    pub email: String,
}

/// Ask for a new email-verification code.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "ada@clinic.example"}))]
pub struct ResendVerificationRequest {
    /// The address to verify.
    #[validate(length(min = 1, max = 254))]
    #[schema(min_length = 1, max_length = 254)]
    pub email: String,
}

/// Complete a password reset.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"token": "q3J8vX0kR2m9ZbT4nW6yH1cF5sD7gL0aE2uP4iO6kM8", "new_password": "quiet saffron kettle dune"}))]
pub struct PasswordResetConfirm {
    /// The token from the email.
    #[validate(length(min = 1, max = 200))]
    #[schema(min_length = 1, max_length = 200)]
    pub token: String,
    /// The new password (16 to 256 characters).
    #[validate(custom(function = "crate::routes::auth::new_password_length"))]
    #[schema(min_length = 16, max_length = 256)]
    pub new_password: String,
}

/// A single-use token from an email.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"token": "q3J8vX0kR2m9ZbT4nW6yH1cF5sD7gL0aE2uP4iO6kM8"}))]
pub struct TokenRequest {
    /// The token.
    #[validate(length(min = 1, max = 200))]
    #[schema(min_length = 1, max_length = 200)]
    pub token: String,
}

/// How many sessions were ended.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevokedCount {
    /// Sessions revoked.
    pub revoked: usize,
}

/// Mints the access token of a grant.
pub fn token_response(ports: &Ports, grant: &SessionGrant) -> Result<TokenResponse, ApiError> {
    let access_token = ports
        .tokens
        .issue(grant, ports.clock.now())
        .map_err(ApiError::internal)?;
    Ok(TokenResponse {
        status: AuthenticatedStatus::Authenticated,
        access_token,
        token_type: "Bearer",
        expires_in: ports.tokens.ttl().num_seconds(),
        refresh_token: grant.refresh_token.clone(),
        session_id: grant.session_id.uuid(),
        clinic_id: grant.clinic_id.uuid(),
    })
}

/// Sign up a clinic with its first member, the owner.
#[utoipa::path(
    operation_id = "clinics_sign_up",
    tag = "auth",
    summary = "Sign up a clinic",
    description = "Asks for a clinic (plan `free`) with its owner. Nothing is created until the address is confirmed: it gets a code (valid 48 hours) for `POST /api/v1/auth/verify-email`, which creates the account and the clinic, or adds the clinic to the account that already has the address (the password is then unused). A sign-up nobody confirms lapses after 7 days. The answer, and the work behind it, is the same whether or not the email already has an account.",
    security(()),
    request_body = SignUpRequest,
    responses(
        (status = 202, description = "Accepted; the owner is told by email.", body = Accepted),
        (status = 422, description = "Invalid fields, or a password the policy refuses (the field says why).", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/clinics")]
pub async fn sign_up(
    ports: web::Data<Ports>,
    client: Client,
    body: ValidatedJson<SignUpRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let _permit = ports.hashing_permit().await?;
    let cmd = SignUp {
        clinic_name: body.clinic_name,
        email: body.email,
        password: body.password,
        given_name: body.given_name,
        family_name: body.family_name,
    };
    ports
        .call(move |services| services.auth.sign_up(&cmd, &client.0))
        .await?;
    Ok(HttpResponse::Accepted().json(Accepted {
        status: "accepted",
        message: "Check your email to continue.",
    }))
}

/// Sign in with email and password.
#[utoipa::path(
    operation_id = "auth_login",
    tag = "auth",
    summary = "Sign in",
    description = "Unknown email, wrong password and locked account all answer the same 401. An address not verified yet gets `email_verification_required` (no tokens); an account with several clinics gets `choose_clinic`; an account with MFA gets `mfa_required`.",
    security(()),
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in, or the next step.", body = LoginResponse),
        (status = 401, description = "Invalid credentials.", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "No active membership.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/auth/login")]
pub async fn login(
    ports: web::Data<Ports>,
    client: Client,
    body: ValidatedJson<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let _permit = ports.hashing_permit().await?;
    let outcome = ports
        .call(move |services| {
            services.auth.login(
                &body.email,
                &body.password,
                body.clinic_id.map(ClinicId),
                &client.0,
            )
        })
        .await?;
    let response = match outcome {
        LoginOutcome::Session(grant) => {
            LoginResponse::Authenticated(token_response(&ports, &grant)?)
        }
        LoginOutcome::ChooseClinic(memberships) => {
            LoginResponse::ChooseClinic(ChooseClinicResponse {
                status: ChooseClinicStatus::ChooseClinic,
                clinics: memberships
                    .into_iter()
                    .map(|m| ClinicChoice {
                        clinic_id: m.clinic_id.uuid(),
                        clinic_name: m.clinic_name,
                        role: m.role.as_str().to_owned(),
                    })
                    .collect(),
            })
        }
        LoginOutcome::MfaRequired {
            challenge,
            expires_at,
        } => LoginResponse::MfaRequired(MfaChallengeResponse {
            status: MfaRequiredStatus::MfaRequired,
            mfa_token: challenge,
            expires_at,
        }),
        LoginOutcome::EmailVerificationRequired => {
            LoginResponse::EmailVerificationRequired(EmailVerificationRequiredResponse {
                status: EmailVerificationRequiredStatus::EmailVerificationRequired,
                message: "Verify your email address first: use the code we sent, or ask for a new one.",
            })
        }
    };
    Ok(HttpResponse::Ok().json(response))
}

/// Complete a sign-in with a TOTP or recovery code.
#[utoipa::path(
    operation_id = "auth_mfa",
    tag = "auth",
    summary = "Complete sign-in with MFA",
    description = "Each code works once; a challenge allows a few attempts and expires after five minutes.",
    security(()),
    request_body = MfaRequest,
    responses(
        (status = 200, description = "Signed in.", body = TokenResponse),
        (status = 401, description = "Wrong code, or an expired, used or exhausted challenge.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/auth/mfa")]
pub async fn mfa(
    ports: web::Data<Ports>,
    client: Client,
    body: ValidatedJson<MfaRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let factor = SecondFactorFields {
        code: body.code,
        recovery_code: body.recovery_code,
    }
    .factor()?;
    let grant = ports
        .call(move |services| {
            services
                .auth
                .complete_mfa(&body.mfa_token, &factor, &client.0)
        })
        .await?;
    Ok(HttpResponse::Ok().json(token_response(&ports, &grant)?))
}

/// Rotate a refresh token.
#[utoipa::path(
    operation_id = "auth_refresh",
    tag = "auth",
    summary = "Refresh the tokens",
    description = "Returns a new access token and a new refresh token; the old refresh token stops working. Presenting a used refresh token again ends its session.",
    security(()),
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "New tokens.", body = TokenResponse),
        (status = 401, description = "Unknown, reused or ended.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/auth/refresh")]
pub async fn refresh(
    ports: web::Data<Ports>,
    client: Client,
    body: ValidatedJson<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let token = body.into_inner().refresh_token;
    let grant = ports
        .call(move |services| services.auth.refresh(&token, &client.0))
        .await?;
    Ok(HttpResponse::Ok().json(token_response(&ports, &grant)?))
}

/// Sign out this session.
#[utoipa::path(
    operation_id = "auth_logout",
    tag = "auth",
    summary = "Sign out",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("self"))),
    responses(
        (status = 204, description = "The session has ended."),
    )
)]
#[post("/api/v1/auth/logout")]
pub async fn logout(
    ports: web::Data<Ports>,
    client: Client,
    who: Enrolling,
) -> Result<HttpResponse, ApiError> {
    ports
        .call_as(&who, move |services, actor| {
            services.auth.logout(actor, &client.0)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Sign out every other session of this account.
#[utoipa::path(
    operation_id = "auth_logout_others",
    tag = "auth",
    summary = "Sign out other sessions",
    description = "Ends every session of this account, in every clinic, except the current one.",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("self"))),
    responses(
        (status = 200, description = "How many sessions ended.", body = RevokedCount),
        (status = 403, description = "MFA enrolment required first.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/auth/logout-others")]
pub async fn logout_others(
    ports: web::Data<Ports>,
    client: Client,
    who: Member,
) -> Result<HttpResponse, ApiError> {
    let revoked = ports
        .call_as(&who, move |services, actor| {
            services.auth.logout_others(actor, &client.0)
        })
        .await?;
    Ok(HttpResponse::Ok().json(RevokedCount { revoked }))
}

/// Prove a second factor again, for sensitive actions.
#[utoipa::path(
    operation_id = "auth_step_up",
    tag = "auth",
    summary = "Step up with MFA",
    description = "Records a fresh MFA check on the session; sensitive actions require one in the last ten minutes.",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("self"))),
    request_body = SecondFactorFields,
    responses(
        (status = 204, description = "Recorded."),
        (status = 401, description = "Not signed in, or a wrong code.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/auth/step-up")]
pub async fn step_up(
    ports: web::Data<Ports>,
    client: Client,
    who: Enrolling,
    body: ValidatedJson<SecondFactorFields>,
) -> Result<HttpResponse, ApiError> {
    let factor = body.into_inner().factor()?;
    ports
        .call_as(&who, move |services, actor| {
            services.auth.step_up(actor, &factor, &client.0)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Ask for a password-reset email.
#[utoipa::path(
    operation_id = "auth_request_password_reset",
    tag = "auth",
    summary = "Request a password reset",
    description = "Always 202, after the same work, whether or not the email has an account. The token in the email is valid 30 minutes, once; an address without an account is told so.",
    security(()),
    request_body = PasswordResetRequest,
    responses(
        (status = 202, description = "Accepted.", body = Accepted),
    )
)]
#[post("/api/v1/auth/password-reset")]
pub async fn request_password_reset(
    ports: web::Data<Ports>,
    client: Client,
    body: ValidatedJson<PasswordResetRequest>,
) -> Result<HttpResponse, ApiError> {
    let email = body.into_inner().email;
    ports
        .call(move |services| services.auth.request_password_reset(&email, &client.0))
        .await?;
    Ok(HttpResponse::Accepted().json(Accepted {
        status: "accepted",
        message: "If the address has an account, a reset code is on its way.",
    }))
}

/// Set a new password with the reset token.
#[utoipa::path(
    operation_id = "auth_confirm_password_reset",
    tag = "auth",
    summary = "Complete a password reset",
    description = "Sets the new password, lifts a lock-out and ends every session. MFA stays on.",
    security(()),
    request_body = PasswordResetConfirm,
    responses(
        (status = 204, description = "Done."),
        (status = 422, description = "Unknown, expired or used token, or a refused password.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/auth/password-reset/confirm")]
pub async fn confirm_password_reset(
    ports: web::Data<Ports>,
    client: Client,
    body: ValidatedJson<PasswordResetConfirm>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let _permit = ports.hashing_permit().await?;
    ports
        .call(move |services| {
            services
                .auth
                .confirm_password_reset(&body.token, &body.new_password, &client.0)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Verify an email address: confirms a sign-up (creating its account and clinic).
#[utoipa::path(
    operation_id = "auth_verify_email",
    tag = "auth",
    summary = "Verify an email address",
    description = "Takes the code sent at sign-up (or by `POST /api/v1/auth/verify-email/resend`): the account is created with its address verified and the clinic with it as owner (or the clinic is added to the account that has the address). Sign-in works from then on.",
    security(()),
    request_body = TokenRequest,
    responses(
        (status = 204, description = "Verified; the clinic exists."),
        (status = 409, description = "Another account took the address meanwhile.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown, expired or used token, or a lapsed sign-up.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/auth/verify-email")]
pub async fn verify_email(
    ports: web::Data<Ports>,
    client: Client,
    body: ValidatedJson<TokenRequest>,
) -> Result<HttpResponse, ApiError> {
    let token = body.into_inner().token;
    ports
        .call(move |services| services.auth.verify_email(&token, &client.0))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Ask for a new email-verification code.
#[utoipa::path(
    operation_id = "auth_resend_verification",
    tag = "auth",
    summary = "Resend the email verification",
    description = "Always 202, after the same work, whatever the address. An address with a sign-up from the last 7 days, or with an account whose address is not verified, gets a new code (valid 48 hours; a sign-up's earlier codes stop working); any other address is told there is nothing to verify.",
    security(()),
    request_body = ResendVerificationRequest,
    responses(
        (status = 202, description = "Accepted.", body = Accepted),
    )
)]
#[post("/api/v1/auth/verify-email/resend")]
pub async fn resend_verification(
    ports: web::Data<Ports>,
    client: Client,
    body: ValidatedJson<ResendVerificationRequest>,
) -> Result<HttpResponse, ApiError> {
    let email = body.into_inner().email;
    ports
        .call(move |services| services.auth.resend_verification(&email, &client.0))
        .await?;
    Ok(HttpResponse::Accepted().json(Accepted {
        status: "accepted",
        message: "If the address has something to verify, a new code is on its way.",
    }))
}

/// Confirm a new email address.
#[utoipa::path(
    operation_id = "auth_confirm_email_change",
    tag = "auth",
    summary = "Confirm an email change",
    security(()),
    request_body = TokenRequest,
    responses(
        (status = 204, description = "The new address is in use."),
        (status = 409, description = "Another account took the address meanwhile.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown, expired or used token.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/auth/email-change/confirm")]
pub async fn confirm_email_change(
    ports: web::Data<Ports>,
    client: Client,
    body: ValidatedJson<TokenRequest>,
) -> Result<HttpResponse, ApiError> {
    let token = body.into_inner().token;
    ports
        .call(move |services| services.auth.confirm_email_change(&token, &client.0))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
