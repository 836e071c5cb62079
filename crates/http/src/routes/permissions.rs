//! The permission catalogue.

use actix_web::{HttpResponse, get};
use salus_domain::access::Permission;
use serde::Serialize;
use utoipa::ToSchema;

/// One permission.
#[derive(Debug, Serialize, ToSchema)]
pub struct PermissionResponse {
    /// Stable dotted code.
    #[schema(value_type = crate::contract::enums::PermissionCode)]
    pub code: &'static str,
    /// What it allows.
    pub description: &'static str,
}

/// The catalogue.
#[derive(Debug, Serialize, ToSchema)]
pub struct PermissionList {
    /// Every permission, in catalogue order.
    pub items: Vec<PermissionResponse>,
}

/// Lists every permission with its description.
#[utoipa::path(
    operation_id = "permissions_list",
    tag = "access",
    summary = "List permissions",
    description = "The permission catalogue: one permission per action on each resource. Public: it is the same for every clinic.",
    security(()),
    responses(
        (status = 200, description = "The catalogue.", body = PermissionList),
    )
)]
#[get("/api/v1/permissions")]
pub async fn list() -> HttpResponse {
    let items = Permission::ALL
        .iter()
        .map(|p| PermissionResponse {
            code: p.code(),
            description: p.description(),
        })
        .collect();
    HttpResponse::Ok().json(PermissionList { items })
}
