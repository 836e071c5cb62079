//! Every error answer is a problem body that carries the request's id.
//!
//! Problem bodies made by the application get their `request_id` member here. Any
//! other error answer (one made by the framework or another middleware, such as a
//! refused CORS request) is replaced by a problem with a stable code for its status;
//! a refused CORS request says why.

use actix_web::body::{EitherBody, MessageBody, to_bytes_limited};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, HttpRequest, HttpResponse};

use crate::middleware::request_id::RequestId;
use crate::problem::{PROBLEM_JSON, Problem, problem_for, problem_response};

/// Error bodies longer than this are not read back (none of ours comes close).
const MAX_ERROR_BODY: usize = 64 * 1024;

/// The stable code for an error status without a more specific one.
pub fn generic_code(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "bad_request",
        401 => "unauthenticated",
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

/// Whether a request is a CORS request (it names the page's origin).
fn is_cross_origin(req: &HttpRequest) -> bool {
    req.headers().contains_key(header::ORIGIN)
}

/// The problem that replaces an error answer which is not a problem body.
fn replacement(req: &HttpRequest, status: StatusCode, text: &str) -> Problem {
    if status == StatusCode::BAD_REQUEST && is_cross_origin(req) {
        let why = text.trim().trim_end_matches('.');
        return problem_for(
            status,
            "cors_refused",
            Some(format!(
                "The cross-origin request was refused: {why}. {}",
                crate::cors::policy_in_words()
            )),
            Vec::new(),
        );
    }
    let detail = status.is_server_error().then(|| {
        "An unexpected error occurred. Quote the request id when reporting it.".to_owned()
    });
    problem_for(status, generic_code(status), detail, Vec::new())
}

/// The answer with `problem` as its body and the original's other headers.
fn with_body(original: &HttpResponse<()>, problem: &Problem) -> HttpResponse {
    let mut response = problem_response(problem);
    for (name, value) in original.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            response.headers_mut().append(name.clone(), value.clone());
        }
    }
    response
}

/// The middleware function.
pub async fn ensure_problem_bodies(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    let response = next.call(req).await?;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return Ok(response.map_into_left_body());
    }
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == PROBLEM_JSON.as_bytes());
    let (request, response) = response.map_into_boxed_body().into_parts();
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .map(|id| id.0.clone());
    let (head, body) = response.into_parts();
    let bytes = to_bytes_limited(body, MAX_ERROR_BODY)
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    let mut problem = match serde_json::from_slice::<Problem>(&bytes) {
        Ok(problem) if is_problem => problem,
        _ => replacement(&request, status, &String::from_utf8_lossy(&bytes)),
    };
    problem.request_id = request_id;
    let answer = with_body(&head, &problem);
    Ok(ServiceResponse::new(request, answer).map_into_right_body())
}

#[cfg(test)]
mod tests {
    use actix_web::http::StatusCode;

    use super::generic_code;
    use crate::codes::PROBLEM_CODES;

    #[test]
    fn every_generic_code_is_catalogued() {
        for status in 400..600 {
            let Ok(status) = StatusCode::from_u16(status) else {
                continue;
            };
            let code = generic_code(status);
            assert!(
                PROBLEM_CODES.iter().any(|(c, _)| *c == code),
                "{status}: {code} is not in PROBLEM_CODES"
            );
        }
    }
}
