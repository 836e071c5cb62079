//! A safety net: any error response that is not already problem+json (one made by
//! the framework or another middleware, such as a refused CORS preflight) gets a
//! problem body with a stable code for its status.

use actix_web::Error;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::middleware::Next;

use crate::problem::{PROBLEM_JSON, problem_for, problem_response};

/// The stable code for an error status without a more specific one.
pub fn generic_code(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "bad_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        405 => "method_not_allowed",
        406 => "not_acceptable",
        408 => "request_timeout",
        411 => "length_required",
        413 => "payload_too_large",
        414 => "uri_too_long",
        415 => "unsupported_media_type",
        431 => "request_header_fields_too_large",
        _ if status.is_client_error() => "client_error",
        503 => "service_unavailable",
        _ => "internal_error",
    }
}

/// The middleware function.
pub async fn ensure_problem_bodies(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let response = next.call(req).await?;
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == PROBLEM_JSON.as_bytes());
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return Ok(response.map_into_left_body());
    }
    let detail = if status.is_server_error() {
        Some("An unexpected error occurred. Quote the X-Request-Id response header when reporting it.".to_owned())
    } else {
        None
    };
    let problem = problem_for(status, generic_code(status), detail, Vec::new());
    let mut replacement = problem_response(&problem);
    for (name, value) in response.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            replacement
                .headers_mut()
                .append(name.clone(), value.clone());
        }
    }
    Ok(response.into_response(replacement).map_into_right_body())
}
