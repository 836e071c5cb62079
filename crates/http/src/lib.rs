//! Salus HTTP layer: the actix-web application.
//!
//! Routes are registered together with their OpenAPI description (utoipa-actix-web),
//! so the served contract is the code. Every error leaves as problem+json.

pub mod audited;
pub mod auth;
pub mod blocking;
pub mod clinical_reads;
pub mod codes;
pub mod contract;
pub mod cors;
pub mod docs_page;
pub mod fhir;
pub mod idempotency;
pub mod json;
pub mod metrics;
pub mod middleware;
pub mod paging;
pub mod preconditions;
pub mod problem;
pub mod rate_limited;
pub mod redirect;
pub mod route_table;
pub mod routes;
pub mod state;
pub mod text_policy;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::from_fn;
use actix_web::{App, Error, web};
use tracing_actix_web::TracingLogger;
use utoipa::OpenApi;
use utoipa_actix_web::{AppExt, UtoipaApp};

use crate::json::JsonLimit;
use crate::middleware::{
    audit_refusals::record_refusals, idempotency::honour_idempotency_keys,
    problem_bodies::ensure_problem_bodies, query_policy::check_query_strings,
    rate_limits::enforce_rate_limits, request_id::assign_request_id,
    request_metrics::record_request_metrics, require_json::require_json_bodies,
    security_headers::add_security_headers, tracing_span::SalusRootSpan,
};
use crate::problem::{ApiError, FieldError};
pub use crate::redirect::build_redirect_app;
use crate::route_table::{RouteTable, unmatched};
pub use crate::state::{HttpSettings, Ports};

/// The document's fixed parts; paths and schemas are collected from the routes.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Salus API",
        description = "JSON REST API for clinics that hold health data. Every error is an \
                       RFC 9457 `application/problem+json` body with a stable `code`.",
        license(name = "AGPL-3.0-only", identifier = "AGPL-3.0-only"),
    ),
    tags(
        (name = "health", description = "Probes and public metadata."),
        (name = "auth", description = "Sign-up, sign-in, MFA, tokens and one-time-token flows."),
        (name = "appointments", description = "Practitioners, appointments and their history."),
        (name = "notes", description = "Clinical notes: signed notes are immutable; corrections are amendments."),
        (name = "queue", description = "The waiting queue."),
        (name = "patients", description = "Patients: demographics, and medical history for clinical staff."),
        (name = "clinic", description = "The clinic's settings."),
        (name = "access", description = "The permission catalogue."),
        (name = "roles", description = "Built-in and custom roles, assignments and overrides."),
        (name = "staff", description = "Members, roles, invitations and ownership."),
        (name = "me", description = "The signed-in member: profile, sessions, password, email, phone, MFA."),
        (name = "audit", description = "The audit trail: events, a patient's access log, the verifiable export."),
        (name = "integrations", description = "Service accounts: machine access for integration partners through API keys (`salus_sk_...`)."),
        (name = "webhooks", description = "Endpoints subscribed to the clinic's events, signed deliveries (Standard Webhooks), their log and redelivery."),
    ),
    servers((url = "http://127.0.0.1:8080", description = "A development server (`make run`). \
        The document a server serves at `/openapi.json` names that server's `PUBLIC_URL` instead.")),
    modifiers(&BearerAuth),
    components(schemas(problem::Problem, problem::FieldError))
)]
struct ApiDoc;

/// Declares the security schemes: `bearer` (members' JWT access tokens and
/// service accounts' API keys) and
/// `operator` (platform operators' session tokens).
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "A member's access token (a JWT from sign-in), or a service account's \
                         API key (`salus_sk_<clinic>_<key id>_<secret>`, from \
                         POST /api/v1/service-accounts): a key acts with its account's \
                         permissions and is refused where an operation is a member's own \
                         (403 `service_account_not_allowed`).",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "operator",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("salus_op_ (an operator's opaque session token)")
                    .description(Some(
                        "A platform operator's token from POST /api/v1/platform/auth/login.",
                    ))
                    .build(),
            ),
        );
    }
}

/// Registers every documented route.
fn documented_routes() -> UtoipaApp<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = Error,
        InitError = (),
    >,
> {
    App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .service(routes::health::live)
        .service(routes::health::ready)
        .service(routes::well_known::security_txt_route)
        .service(routes::auth::sign_up)
        .service(routes::auth::login)
        .service(routes::auth::mfa)
        .service(routes::auth::refresh)
        .service(routes::auth::logout)
        .service(routes::auth::logout_others)
        .service(routes::auth::step_up)
        .service(routes::auth::request_password_reset)
        .service(routes::auth::confirm_password_reset)
        .service(routes::auth::verify_email)
        .service(routes::auth::resend_verification)
        .service(routes::auth::confirm_email_change)
        .service(routes::me::me)
        .service(routes::audit::my_sign_ins)
        .service(routes::me::sessions)
        .service(routes::me::revoke_session)
        .service(routes::me::change_password)
        .service(routes::me::change_email)
        .service(routes::me::set_phone)
        .service(routes::me::verify_phone)
        .service(routes::me::start_totp)
        .service(routes::me::confirm_totp)
        .service(routes::me::disable_totp)
        .service(routes::me::regenerate_recovery_codes)
        .service(routes::permissions::list)
        .service(routes::schedule::practitioners)
        .service(routes::schedule::set_practitioner)
        .service(routes::schedule::set_hours)
        .service(routes::schedule::add_absence)
        .service(routes::schedule::availability)
        .service(routes::appointments::list)
        .service(routes::appointments::book)
        .service(routes::appointments::read)
        .service(routes::appointments::change_status)
        .service(routes::appointments::reschedule)
        .service(routes::appointments::history)
        .service(routes::queue::list)
        .service(routes::queue::check_in)
        .service(routes::queue::call_next)
        .service(routes::queue::start)
        .service(routes::queue::complete)
        .service(routes::queue::left)
        .service(routes::notes::write)
        .service(routes::notes::list)
        .service(routes::notes::edit)
        .service(routes::notes::amend)
        .service(routes::audit::events)
        .service(routes::audit::export)
        .service(routes::audit::patient_access_log)
        .service(routes::security_alerts::list)
        .service(routes::patients::list)
        .service(routes::patients::create)
        .service(routes::patients::read)
        .service(routes::patients::update)
        .service(routes::patients::archive)
        .service(routes::patients::restore)
        .service(routes::patient_rights::set_restriction)
        .service(routes::patient_rights::export)
        .service(routes::patient_rights::history)
        .service(routes::patient_rights::request_erasure)
        .service(routes::patient_rights::read_erasure)
        .service(routes::patient_rights::decide_erasure)
        .service(routes::patient_rights::break_glass)
        .service(routes::patient_rights::return_from_archive)
        .service(routes::clinic::get_settings)
        .service(routes::clinic::update_settings)
        .service(routes::closure::request_closure)
        .service(routes::closure::read_closure)
        .service(routes::closure::cancel_closure)
        .service(routes::exports::create)
        .service(routes::exports::read)
        .service(routes::exports::archive)
        .service(routes::roles::list)
        .service(routes::roles::create)
        .service(routes::roles::update)
        .service(routes::roles::remove)
        .service(routes::roles::assign)
        .service(routes::roles::overrides)
        .service(routes::staff::list_members)
        .service(routes::staff::invite)
        .service(routes::staff::list_invitations)
        .service(routes::staff::revoke_invitation)
        .service(routes::staff::accept_invitation)
        .service(routes::staff::change_role)
        .service(routes::staff::deactivate)
        .service(routes::staff::reactivate)
        .service(routes::staff::revoke_sessions)
        .service(routes::staff::transfer_ownership)
        .service(routes::platform::start_enrolment)
        .service(routes::platform::confirm_enrolment)
        .service(routes::platform::login)
        .service(routes::platform::logout)
        .service(routes::platform::me)
        .service(routes::platform::clinics)
        .service(routes::platform::clinic)
        .service(routes::incidents::declare)
        .service(routes::incidents::list)
        .service(routes::incidents::read)
        .service(routes::incidents::add_entry)
        .service(routes::incidents::set_status)
        .service(routes::incidents::postmortem)
        .service(routes::incidents::breach)
        .service(routes::incidents::authority_notification)
        .service(routes::incidents::notify)
        .service(routes::incidents::evidence)
        .service(routes::incidents::clinic_list)
        .service(routes::webhooks::list)
        .service(routes::webhooks::create)
        .service(routes::webhooks::read)
        .service(routes::webhooks::update)
        .service(routes::webhooks::remove)
        .service(routes::webhooks::rotate_secret)
        .service(routes::webhooks::deliveries)
        .service(routes::webhooks::redeliver)
        .service(routes::integrations::list)
        .service(routes::integrations::create)
        .service(routes::integrations::read)
        .service(routes::integrations::rotate_key)
        .service(routes::integrations::revoke_key)
        .service(routes::integrations::revoke)
}

/// The OpenAPI document generated from the code (what `salus openapi` prints and
/// `openapi/openapi.json` holds).
pub fn openapi_document() -> serde_json::Value {
    contract::finish(&documented_routes().split_for_parts().1)
}

/// The document as pretty JSON with a trailing newline, byte for byte the committed file.
pub fn openapi_json() -> String {
    let doc = openapi_document();
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    text
}

fn query_error(error: actix_web::error::QueryPayloadError, _: &actix_web::HttpRequest) -> Error {
    ApiError::Validation(vec![FieldError {
        field: "query".to_owned(),
        code: "invalid_query".to_owned(),
        message: error.to_string(),
    }])
    .into()
}

/// A path segment that does not parse (an id that is not a UUID) names nothing:
/// 404, or 405 when the path is one of a route that does not take this method
/// (`DELETE /invitations/accept` is not `DELETE /invitations/{id}`).
fn path_error(_: actix_web::error::PathError, req: &actix_web::HttpRequest) -> Error {
    let allowed = req
        .app_data::<web::Data<RouteTable>>()
        .and_then(|table| table.allowed_methods(req.path()))
        .filter(|allowed| !allowed.iter().any(|m| m == req.method().as_str()));
    match allowed {
        Some(allowed) => ApiError::MethodNotAllowed { allowed }.into(),
        None => ApiError::NotFound.into(),
    }
}

/// Builds the application for one worker: routes, contract, docs page, middleware.
pub fn build_app(
    settings: HttpSettings,
    ports: Ports,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = Error,
        InitError = (),
    >,
> {
    let (app, doc) = documented_routes().split_for_parts();
    let doc = contract::finish(&doc);
    let table = RouteTable::from_openapi(&doc)
        .with("/openapi.json", "GET")
        .with("/docs", "GET")
        .with("/docs/{asset}", "GET");
    let served = contract::served(&doc, &settings.public_url);
    let cors = cors::cors(&settings);
    app.app_data(JsonLimit(settings.json_limit))
        .app_data(web::QueryConfig::default().error_handler(query_error))
        .app_data(web::PathConfig::default().error_handler(path_error))
        .app_data(web::Data::new(table))
        .app_data(web::Data::new(settings))
        .app_data(web::Data::new(ports))
        .configure(|app| docs_page::register(app, served))
        .default_service(web::to(unmatched))
        .wrap(from_fn(record_refusals))
        .wrap(from_fn(honour_idempotency_keys))
        .wrap(from_fn(require_json_bodies))
        .wrap(from_fn(check_query_strings))
        .wrap(from_fn(enforce_rate_limits))
        .wrap(cors)
        .wrap(from_fn(ensure_problem_bodies))
        .wrap(from_fn(add_security_headers))
        .wrap(TracingLogger::<SalusRootSpan>::new())
        .wrap(from_fn(assign_request_id))
        .wrap(from_fn(record_request_metrics))
}
