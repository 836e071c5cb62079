//! Security headers on every response, and HSTS on every HTTPS response.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, web};

use crate::state::HttpSettings;

/// HSTS for two years, subdomains included.
pub const HSTS_VALUE: &str = "max-age=63072000; includeSubDomains";
/// The API's content security policy: nothing may load, nothing may frame.
pub const API_CSP: &str = "default-src 'none'; frame-ancestors 'none'";
/// The reference page at `/docs` loads its own scripts, styles and the contract from
/// this origin and nothing from anywhere else. Inline styles are allowed because
/// the renderer sets style attributes; inline scripts are not.
pub const DOCS_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     img-src 'self' data:; font-src 'self' data:; connect-src 'self'; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

/// Whether this request reached us over HTTPS: a TLS listener, or a trusted proxy
/// that terminated TLS and says so in `X-Forwarded-Proto`.
fn is_https(req: &ServiceRequest) -> bool {
    if req.app_config().secure() {
        return true;
    }
    let trust_proxy = req
        .app_data::<web::Data<HttpSettings>>()
        .is_some_and(|s| s.trust_proxy_tls);
    trust_proxy
        && req
            .headers()
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

fn set(headers: &mut HeaderMap, name: HeaderName, value: &'static str) {
    headers.insert(name, HeaderValue::from_static(value));
}

/// The middleware function.
pub async fn add_security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let https = is_https(&req);
    let csp = if crate::docs_page::is_docs_path(req.path()) {
        DOCS_CSP
    } else {
        API_CSP
    };
    let mut response = next.call(req).await?;
    let headers = response.headers_mut();
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(headers, header::CONTENT_SECURITY_POLICY, csp);
    set(headers, header::REFERRER_POLICY, "no-referrer");
    set(headers, header::CACHE_CONTROL, "no-store");
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    set(
        headers,
        HeaderName::from_static("cross-origin-resource-policy"),
        "same-origin",
    );
    if https {
        set(headers, header::STRICT_TRANSPORT_SECURITY, HSTS_VALUE);
    }
    Ok(response)
}
