//! Request bodies must be JSON: any request that carries a body with another media
//! type is refused with 415 before it reaches a handler.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap};
use actix_web::middleware::Next;
use actix_web::{Error, ResponseError};

use crate::problem::ApiError;

/// Whether the `Content-Type` is `application/json` or an `application/*+json`.
pub fn is_json_content_type(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|essence| essence.trim().to_ascii_lowercase())
        .is_some_and(|essence| {
            essence == "application/json"
                || (essence.starts_with("application/") && essence.ends_with("+json"))
        })
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
    if has_body(req.headers()) && !is_json_content_type(req.headers()) {
        let response = ApiError::UnsupportedMediaType.error_response();
        return Ok(req.into_response(response).map_into_right_body());
    }
    Ok(next.call(req).await?.map_into_left_body())
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
    fn json_media_types_are_accepted() {
        assert!(is_json_content_type(&with("application/json")));
        assert!(is_json_content_type(&with(
            "Application/JSON; charset=utf-8"
        )));
        assert!(is_json_content_type(&with("application/merge-patch+json")));
    }

    #[test]
    fn other_media_types_are_refused() {
        assert!(!is_json_content_type(&with("text/plain")));
        assert!(!is_json_content_type(&with(
            "application/x-www-form-urlencoded"
        )));
        assert!(!is_json_content_type(&with("text/json+html")));
        assert!(!is_json_content_type(&HeaderMap::new()));
    }
}
