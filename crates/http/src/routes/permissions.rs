//! The permission catalogue.

use actix_web::{HttpResponse, get};
use salus_domain::access::Permission;
use serde::Serialize;
use utoipa::ToSchema;

use crate::problem::Problem;

/// One permission.
#[derive(Debug, Serialize, ToSchema)]
pub struct PermissionResponse {
    /// Stable dotted code.
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
    tag = "access",
    summary = "List permissions",
    description = "The permission catalogue: one permission per action on each resource. Public: it is the same for every clinic.",
    security(()),
    responses(
        (status = 200, description = "The catalogue.", body = PermissionList),
        (status = 500, description = "Unexpected error.", body = Problem, content_type = "application/problem+json"),
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
