//! Staff management: members, roles, deactivation, sessions, invitations, ownership.

use actix_web::{HttpResponse, delete, get, post, put, web};
use chrono::{DateTime, Utc};
use salus_domain::identity::model::Role;
use salus_domain::ids::{InvitationId, MembershipId};
use salus_domain::ports::staff::{Invitation, Member};
use salus_domain::staff::Acceptance;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use crate::auth::client::Client;
use crate::auth::extractor::Authenticated;
use crate::codes::INVITATION_STATUSES;
use crate::json::ValidatedJson;
use crate::preconditions::{IfMatch, with_etag};
use crate::problem::{ApiError, Problem};
use crate::state::Ports;

/// A member of the clinic.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberResponse {
    /// The membership (use it in `/staff/{id}` paths).
    pub id: Uuid,
    /// The account.
    pub account_id: Uuid,
    /// Email.
    pub email: String,
    /// Given name.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// Role.
    #[schema(value_type = crate::contract::enums::RoleName)]
    pub role: String,
    /// Active or deactivated.
    pub active: bool,
    /// Whether the member uses MFA.
    pub mfa_enrolled: bool,
    /// Effective permissions (roles, custom roles and overrides).
    #[schema(value_type = Vec<crate::contract::enums::PermissionCode>)]
    pub permissions: Vec<String>,
    /// Joined.
    pub created_at: DateTime<Utc>,
    /// The membership's version: its ETag is `"v<version>"`, to send in `If-Match`
    /// to change the member's role, permissions, state or practitioner profile.
    pub version: i32,
}

impl From<Member> for MemberResponse {
    fn from(m: Member) -> Self {
        let permissions = m.permissions().codes();
        Self {
            id: m.membership_id.uuid(),
            account_id: m.account_id.uuid(),
            email: m.email,
            given_name: m.given_name,
            family_name: m.family_name,
            role: m.role.as_str().to_owned(),
            active: m.active,
            mfa_enrolled: m.mfa_enrolled,
            permissions,
            created_at: m.created_at,
            version: m.version,
        }
    }
}

/// The clinic's members.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberList {
    /// Members, oldest first.
    pub items: Vec<MemberResponse>,
    /// Always null: the list is complete.
    pub next_cursor: Option<String>,
}

/// A role that can be assigned or invited (owners are made by transfer).
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AssignableRole {
    /// Manages staff and settings.
    Administrator,
    /// Sees patients and writes clinical notes.
    Practitioner,
    /// Clinical support.
    Nurse,
    /// Demographics and scheduling, no clinical data.
    Receptionist,
    /// Reads the audit trail only.
    Auditor,
}

impl From<AssignableRole> for Role {
    fn from(r: AssignableRole) -> Self {
        match r {
            AssignableRole::Administrator => Role::Administrator,
            AssignableRole::Practitioner => Role::Practitioner,
            AssignableRole::Nurse => Role::Nurse,
            AssignableRole::Receptionist => Role::Receptionist,
            AssignableRole::Auditor => Role::Auditor,
        }
    }
}

/// A role to assign.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"role": "practitioner"}))]
pub struct RoleRequest {
    /// The new role.
    pub role: AssignableRole,
}

/// An invitation to send.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "grace@clinic.example", "role": "receptionist"}))]
pub struct InvitationRequest {
    /// The person's email.
    #[validate(length(min = 3, max = 254))]
    #[schema(min_length = 3, max_length = 254)]
    pub email: String,
    /// The role they get on acceptance.
    pub role: AssignableRole,
}

/// An invitation.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationResponse {
    /// Its id.
    pub id: Uuid,
    /// Invited address.
    pub email: String,
    /// Role on acceptance.
    #[schema(value_type = crate::contract::enums::RoleName)]
    pub role: String,
    /// `pending`, `accepted`, `revoked` or `expired`.
    #[schema(value_type = crate::contract::enums::InvitationStatus)]
    pub status: &'static str,
    /// Sent.
    pub created_at: DateTime<Utc>,
    /// Expires.
    pub expires_at: DateTime<Utc>,
}

impl InvitationResponse {
    /// The invitation as answered at `now` (its status depends on the time).
    fn at(i: Invitation, now: DateTime<Utc>) -> Self {
        let [pending, accepted, revoked, expired] = INVITATION_STATUSES;
        let status = if i.accepted_at.is_some() {
            accepted
        } else if i.revoked_at.is_some() {
            revoked
        } else if i.expires_at <= now {
            expired
        } else {
            pending
        };
        Self {
            id: i.id.0,
            email: i.email,
            role: i.role.as_str().to_owned(),
            status,
            created_at: i.created_at,
            expires_at: i.expires_at,
        }
    }
}

/// The clinic's invitations.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationList {
    /// Newest first.
    pub items: Vec<InvitationResponse>,
    /// Always null.
    pub next_cursor: Option<String>,
}

/// Accept an invitation.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"token": "q3J8vX0kR2m9ZbT4nW6yH1cF5sD7gL0aE2uP4iO6kM8", "password": "mossy anchor twelve lyric", "given_name": "Grace", "family_name": "Hopper"}))]
pub struct AcceptInvitationRequest {
    /// The token from the email.
    #[validate(length(min = 1, max = 200))]
    #[schema(min_length = 1, max_length = 200)]
    pub token: String,
    /// A new password (new account; 16 to 256 characters) or the existing account's
    /// password.
    #[validate(custom(function = "crate::routes::auth::new_password_length"))]
    #[schema(min_length = 16, max_length = 256)]
    pub password: String,
    /// Given name (new account).
    #[validate(length(min = 1, max = 100))]
    #[schema(min_length = 1, max_length = 100)]
    pub given_name: Option<String>,
    /// Family name (new account).
    #[validate(length(min = 1, max = 100))]
    #[schema(min_length = 1, max_length = 100)]
    pub family_name: Option<String>,
}

/// Whom ownership goes to.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"membership_id": "0192f3a4-1111-7222-8333-444455556666"}))]
pub struct TransferRequest {
    /// The member who becomes owner.
    pub membership_id: Uuid,
}

/// How many sessions ended.
#[derive(Debug, Serialize, ToSchema)]
pub struct Revoked {
    /// Sessions ended.
    pub revoked: usize,
}

/// Lists the clinic's members.
#[utoipa::path(
    operation_id = "staff_list",
    tag = "staff",
    summary = "List members",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("staff.read"))),
    responses(
        (status = 200, description = "Members.", body = MemberList),
    )
)]
#[get("/api/v1/staff")]
pub async fn list_members(
    ports: web::Data<Ports>,
    who: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let members = ports
        .call_as(&who, move |services, actor| {
            services.staff.list_members(actor)
        })
        .await?;
    Ok(HttpResponse::Ok().json(MemberList {
        items: members.into_iter().map(Into::into).collect(),
        next_cursor: None,
    }))
}

/// Sends an invitation.
#[utoipa::path(
    operation_id = "invitations_create",
    tag = "staff",
    summary = "Invite a member",
    description = "The role's permissions must all be held by the inviter. The single-use token (valid 72 hours) goes out by email. Counts against the plan's seats.",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("staff.invite"))),
    request_body = InvitationRequest,
    responses(
        (status = 201, description = "Sent.", body = InvitationResponse),
        (status = 403, description = "Missing permission, a role above the inviter's, or no seat left on the plan (`plan_upgrade_required`).", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already a member.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/invitations")]
pub async fn invite(
    ports: web::Data<Ports>,
    client: Client,
    who: Authenticated,
    body: ValidatedJson<InvitationRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let role = Role::from(body.role);
    let invitation = ports
        .call_as(&who, move |services, actor| {
            services.staff.invite(actor, &body.email, role, &client.0)
        })
        .await?;
    Ok(HttpResponse::Created().json(InvitationResponse::at(invitation, ports.clock.now())))
}

/// Lists invitations.
#[utoipa::path(
    operation_id = "invitations_list",
    tag = "staff",
    summary = "List invitations",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("staff.read"))),
    responses(
        (status = 200, description = "Invitations.", body = InvitationList),
    )
)]
#[get("/api/v1/invitations")]
pub async fn list_invitations(
    ports: web::Data<Ports>,
    who: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let list = ports
        .call_as(&who, move |services, actor| {
            services.staff.list_invitations(actor)
        })
        .await?;
    let now = ports.clock.now();
    Ok(HttpResponse::Ok().json(InvitationList {
        items: list
            .into_iter()
            .map(|i| InvitationResponse::at(i, now))
            .collect(),
        next_cursor: None,
    }))
}

/// Revokes a pending invitation.
#[utoipa::path(
    operation_id = "invitations_revoke",
    tag = "staff",
    summary = "Revoke an invitation",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("staff.invite"))),
    params(("id" = Uuid, Path, description = "The invitation.")),
    responses(
        (status = 204, description = "Revoked."),
        (status = 404, description = "No pending invitation with this id.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/api/v1/invitations/{id}")]
pub async fn revoke_invitation(
    ports: web::Data<Ports>,
    client: Client,
    who: Authenticated,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    ports
        .call_as(&who, move |services, actor| {
            services
                .staff
                .revoke_invitation(actor, InvitationId(id), &client.0)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Accepts an invitation.
#[utoipa::path(
    operation_id = "invitations_accept",
    tag = "staff",
    summary = "Accept an invitation",
    description = "A new person chooses a password under the policy and gives their names; an existing account proves its password. Then the membership exists.",
    security(()),
    request_body = AcceptInvitationRequest,
    responses(
        (status = 204, description = "Joined; sign in."),
        (status = 401, description = "Wrong password for the existing account.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already a member.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown, expired, revoked or used token; or a refused password.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/invitations/accept")]
pub async fn accept_invitation(
    ports: web::Data<Ports>,
    client: Client,
    body: ValidatedJson<AcceptInvitationRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let _permit = ports.hashing_permit().await?;
    let cmd = Acceptance {
        token: body.token,
        password: body.password,
        given_name: body.given_name,
        family_name: body.family_name,
    };
    ports
        .call(move |services| services.staff.accept_invitation(&cmd, &client.0))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Changes a member's role.
#[utoipa::path(
    operation_id = "staff_change_role",
    tag = "staff",
    summary = "Change a member's role",
    description = "Needs step-up MFA. Nobody changes their own role, grants a role above their own, acts on a member who holds more than they do, or demotes the last owner. The member's sessions in this clinic end.",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("roles.assign"))),
    params(("id" = Uuid, Path, description = "The membership."), ("If-Match" = String, Header, description = "The ETag of the member's version read, or `*`.")),
    request_body = RoleRequest,
    responses(
        (status = 200, description = "Changed.", body = MemberResponse),
        (status = 403, description = "Missing permission, step-up required, or an escalation refused.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such member.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Last owner, or ownership must be transferred.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/api/v1/staff/{id}/role")]
pub async fn change_role(
    ports: web::Data<Ports>,
    client: Client,
    who: Authenticated,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: ValidatedJson<RoleRequest>,
) -> Result<HttpResponse, ApiError> {
    let role = Role::from(body.into_inner().role);
    let id = MembershipId(id.into_inner());
    let member = ports
        .call_as(&who, move |services, actor| {
            services
                .staff
                .change_role(actor, id, role, if_match.0, &client.0)
        })
        .await?;
    Ok(with_etag(&mut HttpResponse::Ok(), member.version).json(MemberResponse::from(member)))
}

/// Deactivates a member: every session of theirs in this clinic ends at once.
#[utoipa::path(
    operation_id = "staff_deactivate",
    tag = "staff",
    summary = "Deactivate a member",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("staff.deactivate"))),
    params(("id" = Uuid, Path, description = "The membership."), ("If-Match" = String, Header, description = "The ETag of the member's version read, or `*`.")),
    responses(
        (status = 200, description = "Deactivated.", body = MemberResponse),
        (status = 403, description = "Missing permission, oneself, or a member above the caller.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such member.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The last owner.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/staff/{id}/deactivate")]
pub async fn deactivate(
    ports: web::Data<Ports>,
    client: Client,
    who: Authenticated,
    id: web::Path<Uuid>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let id = MembershipId(id.into_inner());
    let member = ports
        .call_as(&who, move |services, actor| {
            services
                .staff
                .set_member_active(actor, id, false, if_match.0, &client.0)
        })
        .await?;
    Ok(with_etag(&mut HttpResponse::Ok(), member.version).json(MemberResponse::from(member)))
}

/// Reactivates a member.
#[utoipa::path(
    operation_id = "staff_reactivate",
    tag = "staff",
    summary = "Reactivate a member",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("staff.deactivate"))),
    params(("id" = Uuid, Path, description = "The membership."), ("If-Match" = String, Header, description = "The ETag of the member's version read, or `*`.")),
    responses(
        (status = 200, description = "Active again.", body = MemberResponse),
        (status = 403, description = "Missing permission, or no seat left (`plan_upgrade_required`).", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such member.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/staff/{id}/reactivate")]
pub async fn reactivate(
    ports: web::Data<Ports>,
    client: Client,
    who: Authenticated,
    id: web::Path<Uuid>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let id = MembershipId(id.into_inner());
    let member = ports
        .call_as(&who, move |services, actor| {
            services
                .staff
                .set_member_active(actor, id, true, if_match.0, &client.0)
        })
        .await?;
    Ok(with_etag(&mut HttpResponse::Ok(), member.version).json(MemberResponse::from(member)))
}

/// Ends every session of a member in this clinic.
#[utoipa::path(
    operation_id = "staff_revoke_sessions",
    tag = "staff",
    summary = "Sign a member out everywhere in this clinic",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("sessions.revoke"))),
    params(("id" = Uuid, Path, description = "The membership.")),
    responses(
        (status = 200, description = "How many sessions ended.", body = Revoked),
        (status = 404, description = "No such member.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/api/v1/staff/{id}/sessions")]
pub async fn revoke_sessions(
    ports: web::Data<Ports>,
    client: Client,
    who: Authenticated,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = MembershipId(id.into_inner());
    let revoked = ports
        .call_as(&who, move |services, actor| {
            services.staff.revoke_member_sessions(actor, id, &client.0)
        })
        .await?;
    Ok(HttpResponse::Ok().json(Revoked { revoked }))
}

/// Transfers ownership.
#[utoipa::path(
    operation_id = "staff_transfer_ownership",
    tag = "staff",
    summary = "Transfer ownership",
    description = "Owner only, with step-up MFA. The target becomes owner; the caller becomes administrator.",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("roles.assign"))),
    request_body = TransferRequest,
    responses(
        (status = 204, description = "Transferred."),
        (status = 403, description = "Not an owner, or step-up required.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such member.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not another active member.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/clinic/ownership-transfer")]
pub async fn transfer_ownership(
    ports: web::Data<Ports>,
    client: Client,
    who: Authenticated,
    body: ValidatedJson<TransferRequest>,
) -> Result<HttpResponse, ApiError> {
    let to = MembershipId(body.into_inner().membership_id);
    ports
        .call_as(&who, move |services, actor| {
            services.staff.transfer_ownership(actor, to, &client.0)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
