//! Service accounts: a clinic's machine callers and their API keys. The
//! partner's guide (`docs/api.md`, "Integration partners") says how a partner
//! calls with a key.

use actix_web::http::header;
use actix_web::{HttpResponse, delete, get, post, web};
use chrono::{DateTime, Utc};
use salus_domain::ids::{ApiKeyId, ServiceAccountId};
use salus_domain::integrations::{AccountWithKeys, KeyWithSecret, NewServiceAccount};
use salus_domain::ports::integrations::ApiKey;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use crate::auth::client::Client;
use crate::auth::extractor::Authenticated;
use crate::json::ValidatedJson;
use crate::problem::{ApiError, Problem};
use crate::state::Ports;

/// A new service account.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Booking site", "permissions": ["patients.read", "patients.create", "appointments.read", "appointments.create"], "expires_in_days": 90, "allowed_networks": ["192.0.2.0/24"]}))]
pub struct CreateServiceAccountRequest {
    /// What the clinic calls it (who runs it, what for).
    #[validate(length(min = 1, max = 100))]
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// What its keys may do: permissions you hold, among those a service
    /// account may be given (patients, clinical reads, appointments, the
    /// queue, staff and clinic reads, the audit trail); never staff, role,
    /// integration, webhook or audit-export management, clinical writing,
    /// erasure or any step-up action (422 `not_grantable`).
    #[validate(length(min = 1, max = 14))]
    #[schema(min_items = 1, max_items = 14, value_type = Vec<crate::contract::enums::ServiceAccountPermissionCode>)]
    pub permissions: Vec<String>,
    /// Days until it ends, with every key: 1 to 365, 90 when absent.
    #[schema(minimum = 1, maximum = 365)]
    pub expires_in_days: Option<i64>,
    /// The networks it may call from, in CIDR notation (or single
    /// addresses), each once; any address when absent or empty.
    #[validate(length(max = 20))]
    #[schema(max_items = 20)]
    pub allowed_networks: Option<Vec<String>>,
}

/// A new key for an account: the previous keys end after the overlap.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"overlap_hours": 24}))]
pub struct RotateKeyRequest {
    /// Hours the previous keys keep working (0 to 168; 24 when absent; 0
    /// ends them now).
    #[schema(minimum = 0, maximum = 168)]
    pub overlap_hours: Option<i64>,
}

/// An API key (never its secret, shown only when issued).
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiKeyResponse {
    /// Its id (also inside the key's text).
    pub id: Uuid,
    /// Issued.
    pub created_at: DateTime<Utc>,
    /// When it stops working (its account's end, or the end of a rotation's overlap).
    pub expires_at: DateTime<Utc>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// When it was last used (to the minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// From which address.
    pub last_used_ip: Option<String>,
}

impl From<ApiKey> for ApiKeyResponse {
    fn from(k: ApiKey) -> Self {
        Self {
            id: k.id.0,
            created_at: k.created_at,
            expires_at: k.expires_at,
            revoked_at: k.revoked_at,
            last_used_at: k.last_used_at,
            last_used_ip: k.last_used_ip,
        }
    }
}

/// A service account with its keys.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceAccountResponse {
    /// Its id: the actor of its actions in the audit trail.
    pub id: Uuid,
    /// What the clinic calls it.
    pub name: String,
    /// What its keys may do.
    #[schema(value_type = Vec<crate::contract::enums::ServiceAccountPermissionCode>)]
    pub permissions: Vec<String>,
    /// The networks it may call from (empty: any).
    pub allowed_networks: Vec<String>,
    /// The membership that created it.
    pub created_by: Uuid,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// When it ends, with every key.
    pub expires_at: DateTime<Utc>,
    /// When it was revoked.
    pub revoked_at: Option<DateTime<Utc>>,
    /// Its keys, oldest first.
    pub keys: Vec<ApiKeyResponse>,
}

impl From<AccountWithKeys> for ServiceAccountResponse {
    fn from(a: AccountWithKeys) -> Self {
        let AccountWithKeys { account, keys } = a;
        Self {
            id: account.id.0,
            name: account.name,
            permissions: account.permissions.codes(),
            allowed_networks: account.allowed_networks,
            created_by: account.created_by.0,
            created_at: account.created_at,
            expires_at: account.expires_at,
            revoked_at: account.revoked_at,
            keys: keys.into_iter().map(ApiKeyResponse::from).collect(),
        }
    }
}

/// The clinic's service accounts.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceAccountList {
    /// Every account, revoked and ended ones included, oldest first (at most
    /// 50 live ones).
    pub items: Vec<ServiceAccountResponse>,
}

/// A key with its secret, shown in this answer only.
// Its `Debug` (below) hides the secret.
#[derive(Serialize, ToSchema)]
pub struct IssuedKeyResponse {
    /// The key.
    pub key: ApiKeyResponse,
    /// The whole key, `salus_sk_<clinic>_<key id>_<secret>`: send it as
    /// `Authorization: Bearer <key>`. Keep it like a password; Salus keeps
    /// only its hash and shows it only here.
    pub secret: String,
}

impl std::fmt::Debug for IssuedKeyResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedKeyResponse")
            .field("key", &self.key)
            .field("secret", &"[REDACTED]")
            .finish()
    }
}

impl From<KeyWithSecret> for IssuedKeyResponse {
    fn from(k: KeyWithSecret) -> Self {
        Self {
            key: k.key.into(),
            secret: k.secret,
        }
    }
}

/// A new service account with its first key.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedServiceAccountResponse {
    /// The account.
    pub service_account: ServiceAccountResponse,
    /// Its first key, with the secret shown only here.
    pub key: IssuedKeyResponse,
}

/// Lists the clinic's service accounts.
#[utoipa::path(
    operation_id = "service_accounts_list",
    tag = "integrations",
    summary = "List service accounts",
    description = "Every service account of the clinic with its keys (never a secret): when each key was last used and from where.",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("integrations.manage"))),
    responses(
        (status = 200, description = "The accounts.", body = ServiceAccountList),
    )
)]
#[get("/api/v1/service-accounts")]
pub async fn list(ports: web::Data<Ports>, who: Authenticated) -> Result<HttpResponse, ApiError> {
    let accounts = ports
        .call_as(&who, move |services, actor| {
            services.integrations.list(actor)
        })
        .await?;
    Ok(HttpResponse::Ok().json(ServiceAccountList {
        items: accounts.into_iter().map(Into::into).collect(),
    }))
}

/// Creates a service account and its first key.
#[utoipa::path(
    operation_id = "service_accounts_create",
    tag = "integrations",
    summary = "Create a service account",
    description = "Business plan; step-up MFA. The account acts with the permissions given (a subset of yours) through API keys; its first key is in this answer, shown only here. At most 50 live accounts per clinic.",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("integrations.manage"))),
    request_body = CreateServiceAccountRequest,
    responses(
        (status = 201, description = "Created; `Location` header.", body = CreatedServiceAccountResponse, headers(("Location" = String, description = "The new account's address."))),
        (status = 409, description = "`service_account_limit`: the clinic has 50 live accounts.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields: a permission that is unknown, repeated or not grantable, a network that is not CIDR, a life out of range.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/service-accounts")]
pub async fn create(
    ports: web::Data<Ports>,
    client: Client,
    who: Authenticated,
    body: ValidatedJson<CreateServiceAccountRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let new = NewServiceAccount {
        name: body.name,
        permissions: body.permissions,
        expires_in_days: body.expires_in_days,
        allowed_networks: body.allowed_networks.unwrap_or_default(),
    };
    let (account, key) = ports
        .call_as(&who, move |services, actor| {
            services.integrations.create(actor, new, &client.0)
        })
        .await?;
    let location = format!("/api/v1/service-accounts/{}", account.account.id);
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, location))
        .json(CreatedServiceAccountResponse {
            service_account: account.into(),
            key: key.into(),
        }))
}

/// Reads a service account.
#[utoipa::path(
    operation_id = "service_accounts_read",
    tag = "integrations",
    summary = "Read a service account",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("integrations.manage"))),
    params(("id" = Uuid, Path, description = "The service account.")),
    responses(
        (status = 200, description = "The account with its keys.", body = ServiceAccountResponse),
        (status = 404, description = "No such account.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/v1/service-accounts/{id}")]
pub async fn read(
    ports: web::Data<Ports>,
    who: Authenticated,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = ServiceAccountId(id.into_inner());
    let account = ports
        .call_as(&who, move |services, actor| {
            services.integrations.get(actor, id)
        })
        .await?;
    Ok(HttpResponse::Ok().json(ServiceAccountResponse::from(account)))
}

/// Issues a new key to an account (a rotation).
#[utoipa::path(
    operation_id = "service_accounts_rotate_key",
    tag = "integrations",
    summary = "Issue a new API key (rotate)",
    description = "Business plan; step-up MFA. The new key is in this answer, shown only here; the account's previous keys keep working for the overlap asked (24 hours by default, 0 to end them now), so the partner can switch without downtime.",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("integrations.manage"))),
    params(("id" = Uuid, Path, description = "The service account.")),
    request_body = RotateKeyRequest,
    responses(
        (status = 201, description = "Issued.", body = IssuedKeyResponse),
        (status = 404, description = "No such account.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`service_account_ended`: the account is revoked or has ended.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An overlap out of range.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/api/v1/service-accounts/{id}/keys")]
pub async fn rotate_key(
    ports: web::Data<Ports>,
    client: Client,
    who: Authenticated,
    id: web::Path<Uuid>,
    body: ValidatedJson<RotateKeyRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = ServiceAccountId(id.into_inner());
    let overlap = body.into_inner().overlap_hours;
    let key = ports
        .call_as(&who, move |services, actor| {
            services.integrations.rotate(actor, id, overlap, &client.0)
        })
        .await?;
    Ok(HttpResponse::Created().json(IssuedKeyResponse::from(key)))
}

/// Revokes one key.
#[utoipa::path(
    operation_id = "service_accounts_revoke_key",
    tag = "integrations",
    summary = "Revoke an API key",
    description = "Refused from the very next request, on every node.",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("integrations.manage"))),
    params(
        ("id" = Uuid, Path, description = "The service account."),
        ("key_id" = Uuid, Path, description = "The key."),
    ),
    responses(
        (status = 204, description = "Revoked."),
        (status = 404, description = "No such live key of this account.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/api/v1/service-accounts/{id}/keys/{key_id}")]
pub async fn revoke_key(
    ports: web::Data<Ports>,
    client: Client,
    who: Authenticated,
    path: web::Path<(Uuid, Uuid)>,
) -> Result<HttpResponse, ApiError> {
    let (id, key) = path.into_inner();
    let (id, key) = (ServiceAccountId(id), ApiKeyId(key));
    ports
        .call_as(&who, move |services, actor| {
            services.integrations.revoke_key(actor, id, key, &client.0)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Revokes an account and every key of it.
#[utoipa::path(
    operation_id = "service_accounts_revoke",
    tag = "integrations",
    summary = "Revoke a service account",
    description = "The account and every key of it are refused from the very next request; the record stays (the audit trail names it).",
    security(("bearer" = [])),
    extensions(("x-permission" = json!("integrations.manage"))),
    params(("id" = Uuid, Path, description = "The service account.")),
    responses(
        (status = 204, description = "Revoked."),
        (status = 404, description = "No such live account.", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/api/v1/service-accounts/{id}")]
pub async fn revoke(
    ports: web::Data<Ports>,
    client: Client,
    who: Authenticated,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = ServiceAccountId(id.into_inner());
    ports
        .call_as(&who, move |services, actor| {
            services.integrations.revoke(actor, id, &client.0)
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
