//! Request ids: accept a well-formed incoming `X-Request-Id`, else generate a
//! UUIDv7; store it for the tracing span and echo it on the response.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage};
use uuid::Uuid;

/// The request id header.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request id of the current request (in request extensions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

/// Whether an incoming request id is safe to adopt: 1 to 128 characters of
/// `[A-Za-z0-9._:-]`, so it cannot inject anything into logs or headers.
pub fn is_acceptable(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// The middleware function (outermost, so every response carries the id).
pub async fn assign_request_id(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = req
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| is_acceptable(v))
        .map_or_else(|| Uuid::now_v7().to_string(), str::to_owned);
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut response = next.call(req).await?;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(X_REQUEST_ID, value);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::is_acceptable;

    #[test]
    fn accepts_uuids_and_simple_tokens() {
        assert!(is_acceptable("0191d6a0-7c1e-7a55-9c56-4f1f6f0e5a11"));
        assert!(is_acceptable("lb:abc.DEF_9"));
    }

    #[test]
    fn refuses_empty_long_and_injection() {
        assert!(!is_acceptable(""));
        assert!(!is_acceptable(&"a".repeat(129)));
        assert!(!is_acceptable("abc\r\nSet-Cookie: x"));
        assert!(!is_acceptable("a b"));
        assert!(!is_acceptable("{\"json\":1}"));
    }
}
