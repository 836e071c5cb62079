//! Roles: the built-in ones, custom roles, and assigning them and overrides.

use actix_web::{HttpResponse, delete, get, patch, post, put, web};
use chrono::{DateTime, Utc};
use salus_domain::access::PermissionSet;
use salus_domain::ids::{MembershipId, RoleId};
use salus_domain::ports::roles::CustomRole;
use salus_domain::roles::{built_in_roles, parse_codes};
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

/// A role and what it grants.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoleResponse {
    /// The custom role's id; null for built-in roles.
    pub id: Option<Uuid>,
    /// Name (`owner`, `nurse`, ... or the custom name).
    pub name: String,
    /// Whether it is built in (cannot be changed).
    pub built_in: bool,
    /// Permission codes.
    #[schema(value_type = Vec<crate::contract::enums::PermissionCode>)]
    pub permissions: Vec<String>,
    /// Members holding it (custom roles).
    pub assigned: Option<i64>,
    /// Last change (custom roles).
    pub updated_at: Option<DateTime<Utc>>,
    /// The custom role's version: its ETag is `"v<version>"`, to send in `If-Match`
    /// (null for built-in roles, which cannot change).
    pub version: Option<i32>,
}

impl From<CustomRole> for RoleResponse {
    fn from(r: CustomRole) -> Self {
        Self {
            id: Some(r.id.0),
            name: r.name,
            built_in: false,
            permissions: r.permissions.codes(),
            assigned: Some(r.assigned),
            updated_at: Some(r.updated_at),
            version: Some(r.version),
        }
    }
}

/// Built-in and custom roles.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoleList {
    /// Built-in roles first, then custom roles by name.
    pub items: Vec<RoleResponse>,
    /// Always null.
    pub next_cursor: Option<String>,
}

/// A new custom role.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Front desk lead", "permissions": ["patients.read", "patients.create", "appointments.read", "appointments.create", "queue.manage"]}))]
pub struct CreateRoleRequest {
    /// Name, unique in the clinic.
    #[validate(length(min = 1, max = 80))]
    #[schema(min_length = 1, max_length = 80)]
    pub name: String,
    /// Permission codes (see `GET /api/v1/permissions`).
    #[validate(length(max = 64))]
    #[schema(max_items = 64)]
    #[schema(value_type = Vec<crate::contract::enums::PermissionCode>)]
    pub permissions: Vec<String>,
}

/// Changes to a custom role.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Front desk", "permissions": ["patients.read", "appointments.read", "queue.manage"]}))]
pub struct UpdateRoleRequest {
    /// New name.
    #[validate(length(min = 1, max = 80))]
    #[schema(min_length = 1, max_length = 80)]
    pub name: Option<String>,
    /// New permission codes (replace the old ones).
    #[validate(length(max = 64))]
    #[schema(max_items = 64)]
    #[schema(value_type = Option<Vec<crate::contract::enums::PermissionCode>>)]
    pub permissions: Option<Vec<String>>,
}

/// The custom roles a member holds.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"role_ids": ["0192f3a4-3333-7444-8555-666677778888"]}))]
pub struct CustomRolesRequest {
    /// Custom role ids (replace the member's current ones).
    #[validate(length(max = 32))]
    #[schema(max_items = 32)]
    pub role_ids: Vec<Uuid>,
}

/// A member's overrides.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"grants": ["audit.read"], "denies": ["patients.archive"]}))]
pub struct OverridesRequest {
    /// Permissions granted beyond the member's roles.
    #[validate(length(max = 64))]
    #[schema(max_items = 64)]
    #[schema(value_type = Vec<crate::contract::enums::PermissionCode>)]
    pub grants: Vec<String>,
    /// Permissions denied whatever the roles say (deny wins).
    #[validate(length(max = 64))]
    #[schema(max_items = 64)]
    #[schema(value_type = Vec<crate::contract::enums::PermissionCode>)]
    pub denies: Vec<String>,
}

/// Lists built-in and custom roles.
#[utoipa::path(
    operation_id = "roles_list",
    tag = "roles",
    summary = "List roles",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("staff.read"))),
    responses(
        (status = 200, description = "Roles.", body = RoleList),
    )
)]
#[get("/api/v1/roles")]
pub async fn list(ports: web::Data<Ports>, who: Authenticated) -> Result<HttpResponse, ApiError> {
    let custom = ports
        .call_as(&who, move |services, actor| {
            services.roles.list_custom_roles(actor)
        })
        .await?;
    let items = built_in_roles()
        .into_iter()
        .map(|(role, permissions)| RoleResponse {
            id: None,
            name: role.as_str().to_owned(),
            built_in: true,
            permissions: permissions.codes(),
            assigned: None,
            updated_at: None,
            version: None,
        })
        .chain(custom.into_iter().map(Into::into))
        .collect();
    Ok(HttpResponse::Ok().json(RoleList {
        items,
        next_cursor: None,
    }))
}

/// Creates a custom role.
#[utoipa::path(
    operation_id = "roles_create",
    tag = "roles",
    summary = "Create a custom role",
    description = "Pro and business plans. The role's permissions must all be held by its creator.",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("roles.manage"))),
    request_body = CreateRoleRequest,
    responses(
        (status = 201, description = "Created.", body = RoleResponse),
        (status = 403, description = "Missing permission, permissions above the caller's, or `plan_upgrade_required`.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The name is taken.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields or unknown permissions.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/roles")]
pub async fn create(
    ports: web::Data<Ports>,
    client: Client,
    who: Authenticated,
    body: ValidatedJson<CreateRoleRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let permissions = parse_codes("permissions", &body.permissions)?;
    let role = ports
        .call_as(&who, move |services, actor| {
            services
                .roles
                .create_custom_role(actor, &body.name, permissions, &client.0)
        })
        .await?;
    Ok(with_etag(&mut HttpResponse::Created(), role.version).json(RoleResponse::from(role)))
}

/// Renames or changes a custom role.
#[utoipa::path(
    operation_id = "roles_update",
    tag = "roles",
    summary = "Change a custom role",
    description = "Holders get the new permissions on their next request.",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("roles.manage"))),
    params(("id" = Uuid, Path, description = "The custom role."), ("If-Match" = String, Header, description = "The ETag of the version read, or `*`.")),
    request_body = UpdateRoleRequest,
    responses(
        (status = 200, description = "Changed; new `ETag`.", body = RoleResponse, headers(("ETag" = String, description = "The version: send it back in `If-Match` to change the role."))),
        (status = 403, description = "Missing permission, or permissions above the caller's.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such role.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The name is taken.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields or unknown permissions.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/api/v1/roles/{id}")]
pub async fn update(
    ports: web::Data<Ports>,
    client: Client,
    who: Authenticated,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: ValidatedJson<UpdateRoleRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let permissions = body
        .permissions
        .as_deref()
        .map(|codes| parse_codes("permissions", codes))
        .transpose()?;
    let id = id.into_inner();
    let role = ports
        .call_as(&who, move |services, actor| {
            services.roles.update_custom_role(
                actor,
                RoleId(id),
                body.name.as_deref(),
                permissions,
                if_match.0,
                &client.0,
            )
        })
        .await?;
    Ok(with_etag(&mut HttpResponse::Ok(), role.version).json(RoleResponse::from(role)))
}

/// Deletes a custom role nobody holds.
#[utoipa::path(
    operation_id = "roles_delete",
    tag = "roles",
    summary = "Delete a custom role",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("roles.manage"))),
    params(("id" = Uuid, Path, description = "The custom role.")),
    responses(
        (status = 204, description = "Deleted."),
        (status = 404, description = "No such role.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Members hold it.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/api/v1/roles/{id}")]
pub async fn remove(
    ports: web::Data<Ports>,
    client: Client,
    who: Authenticated,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    ports
        .call_as(&who, move |services, actor| {
            services
                .roles
                .delete_custom_role(actor, RoleId(id), &client.0)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Sets a member's custom roles.
#[utoipa::path(
    operation_id = "staff_set_custom_roles",
    tag = "roles",
    summary = "Assign custom roles to a member",
    description = "Step-up MFA. Each role's permissions must be held by the caller; nobody changes themselves or a member above them.",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("roles.assign"))),
    params(("id" = Uuid, Path, description = "The membership."), ("If-Match" = String, Header, description = "The ETag of the member's version read, or `*`.")),
    request_body = CustomRolesRequest,
    responses(
        (status = 204, description = "Assigned; the membership's new `ETag`.", headers(("ETag" = String, description = "The membership's new version."))),
        (status = 403, description = "Missing permission, step-up, escalation or plan.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such member.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown role ids.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/api/v1/staff/{id}/custom-roles")]
pub async fn assign(
    ports: web::Data<Ports>,
    client: Client,
    who: Authenticated,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: ValidatedJson<CustomRolesRequest>,
) -> Result<HttpResponse, ApiError> {
    let role_ids: Vec<RoleId> = body.into_inner().role_ids.into_iter().map(RoleId).collect();
    let id = MembershipId(id.into_inner());
    let version = ports
        .call_as(&who, move |services, actor| {
            services
                .roles
                .assign_custom_roles(actor, id, &role_ids, if_match.0, &client.0)
        })
        .await?;
    Ok(with_etag(&mut HttpResponse::NoContent(), version).finish())
}

/// Sets a member's overrides.
#[utoipa::path(
    operation_id = "staff_set_overrides",
    tag = "roles",
    summary = "Set a member's permission overrides",
    description = "Business plan; step-up MFA. Grants must be held by the caller; denies win over every role.",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("permissions.override"))),
    params(("id" = Uuid, Path, description = "The membership."), ("If-Match" = String, Header, description = "The ETag of the member's version read, or `*`.")),
    request_body = OverridesRequest,
    responses(
        (status = 204, description = "Set; the membership's new `ETag`.", headers(("ETag" = String, description = "The membership's new version."))),
        (status = 403, description = "Missing permission, step-up, escalation or plan.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such member.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "An owner cannot be denied.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown permissions.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/api/v1/staff/{id}/overrides")]
pub async fn overrides(
    ports: web::Data<Ports>,
    client: Client,
    who: Authenticated,
    id: web::Path<Uuid>,
    if_match: IfMatch,
    body: ValidatedJson<OverridesRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let grants: PermissionSet = parse_codes("grants", &body.grants)?;
    let denies: PermissionSet = parse_codes("denies", &body.denies)?;
    let id = MembershipId(id.into_inner());
    let version = ports
        .call_as(&who, move |services, actor| {
            services
                .roles
                .set_overrides(actor, id, grants, denies, if_match.0, &client.0)
        })
        .await?;
    Ok(with_etag(&mut HttpResponse::NoContent(), version).finish())
}
