//! The plain-HTTP listener when TLS is on: every request gets a 308 to HTTPS.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::from_fn;
use actix_web::{App, Error, HttpRequest, HttpResponse, web};

use crate::middleware::{request_id::assign_request_id, security_headers::add_security_headers};

/// The HTTPS base URL requests are redirected to.
#[derive(Debug, Clone)]
struct HttpsBase(String);

async fn redirect(req: HttpRequest, base: web::Data<HttpsBase>) -> HttpResponse {
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, format!("{}{path}", base.0)))
        .finish()
}

/// An application that answers every request with a 308 to `https_base` + path.
pub fn build_redirect_app(
    https_base: String,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(web::Data::new(HttpsBase(https_base)))
        .default_service(web::to(redirect))
        .wrap(from_fn(add_security_headers))
        .wrap(from_fn(assign_request_id))
}
