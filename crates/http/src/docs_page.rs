//! The reference page at `/docs`: Swagger UI, served from assets built into the
//! binary, reading the contract from `/openapi.json` on the same origin. Nothing is
//! loaded from anywhere else, so the page works on a clinic's private network.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde_json::Value;
use utoipa_swagger_ui::{Config, SwaggerUi};

/// Where the page lives (the assets are below it).
pub const DOCS_PATH: &str = "/docs/";

/// Whether a request path belongs to the reference page (its own CSP applies).
pub fn is_docs_path(path: &str) -> bool {
    path == "/docs" || path.starts_with(DOCS_PATH)
}

/// The page and the contract it renders (served at `/openapi.json`).
pub fn service(served_contract: Value) -> SwaggerUi {
    SwaggerUi::new("/docs/{_:.*}")
        .external_url_unchecked("/openapi.json", served_contract)
        .config(
            Config::default()
                // No call to the public online validator.
                .validator_url("none")
                .display_operation_id(true)
                .try_it_out_enabled(false)
                .persist_authorization(false),
        )
}

/// `/docs` without its slash: the page's relative asset links need it.
pub async fn redirect_to_page() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, DOCS_PATH))
        .finish()
}

/// Registers `/docs` (the redirect) and the page with its assets.
pub fn register(app: &mut web::ServiceConfig, served_contract: Value) {
    app.route("/docs", web::get().to(redirect_to_page))
        .service(service(served_contract));
}
