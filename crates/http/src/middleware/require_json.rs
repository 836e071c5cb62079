//! Request bodies must be `application/json`. A body of another media type sent to
//! an operation that takes one is refused with 415 before it reaches a handler, but
//! only after the questions that come first: an unknown path is a 404 (or 405), and
//! an anonymous caller of a protected operation is a 401, whatever the body.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap};
use actix_web::middleware::Next;
use actix_web::{Error, ResponseError, web};

use crate::auth::extractor::anonymous_first;
use crate::problem::ApiError;
use crate::route_table::RouteTable;

/// Whether the `Content-Type` is `application/json` (parameters such as
/// `charset=utf-8` aside), the one request media type the contract documents.
pub fn is_json_content_type(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

fn has_body(headers: &HeaderMap) -> bool {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    declared.is_some_and(|len| len > 0) || headers.contains_key(header::TRANSFER_ENCODING)
}

/// The middleware function.
pub async fn require_json_bodies(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    if !has_body(req.headers()) || is_json_content_type(req.headers()) {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let operation = req
        .app_data::<web::Data<RouteTable>>()
        .and_then(|table| table.operation(req.method().as_str(), req.path()));
    let Some(operation) = operation.filter(|o| o.takes_body) else {
        // Unknown paths and methods get their 404/405; a body sent where none is
        // taken is not read.
        return Ok(next.call(req).await?.map_into_left_body());
    };
    let refusal = anonymous_first(
        req.request(),
        operation.protected,
        ApiError::UnsupportedMediaType,
    )
    .await;
    let response = refusal.error_response();
    Ok(req.into_response(response).map_into_right_body())
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::{self, HeaderMap, HeaderValue};

    use super::is_json_content_type;

    fn with(content_type: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        headers
    }

    #[test]
    fn json_is_accepted_with_or_without_parameters() {
        assert!(is_json_content_type(&with("application/json")));
        assert!(is_json_content_type(&with(
            "Application/JSON; charset=utf-8"
        )));
    }

    #[test]
    fn other_media_types_are_refused_json_flavours_included() {
        assert!(!is_json_content_type(&with("text/plain")));
        assert!(!is_json_content_type(&with(
            "application/x-www-form-urlencoded"
        )));
        assert!(!is_json_content_type(&with("application/json-patch+json")));
        assert!(!is_json_content_type(&with("application/merge-patch+json")));
        assert!(!is_json_content_type(&with("text/json+html")));
        assert!(!is_json_content_type(&HeaderMap::new()));
    }
}
