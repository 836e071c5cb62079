//! Counts and times every request by its matched route pattern (never the raw
//! path, so no id reaches a label), and counts authentication failures from the
//! route and the status.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{Error, web};

use crate::state::Ports;

/// The route label of a request that matched no route.
pub const UNMATCHED: &str = "unmatched";
/// The sign-in route.
pub const LOGIN_ROUTE: &str = "/api/v1/auth/login";
/// The route completing a sign-in with MFA.
pub const MFA_ROUTE: &str = "/api/v1/auth/mfa";

/// The method label: standard methods by name, anything else as `other` (a client
/// may send any token as a method).
pub fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Which authentication failure an answer is, if any: a refused sign-in or MFA
/// code (any 4xx of those routes; `rate_limited` for their 429), or a 401 anywhere
/// else (no, bad or expired token, ended session, refused refresh token).
pub fn auth_failure_reason(method: &str, route: &str, status: StatusCode) -> Option<&'static str> {
    if !status.is_client_error() {
        return None;
    }
    let sign_in = method == "POST" && (route == LOGIN_ROUTE || route == MFA_ROUTE);
    match route {
        _ if sign_in && status == StatusCode::TOO_MANY_REQUESTS => Some("rate_limited"),
        LOGIN_ROUTE if sign_in => Some("login_failed"),
        MFA_ROUTE if sign_in => Some("mfa_failed"),
        _ if status == StatusCode::UNAUTHORIZED => Some("unauthorized"),
        _ => None,
    }
}

/// The middleware function (outermost, so it times and sees every answer).
pub async fn record_request_metrics(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let Some(ports) = req.app_data::<web::Data<Ports>>().cloned() else {
        return next.call(req).await;
    };
    let started = Instant::now();
    let method = method_label(req.method());
    let route = req.match_pattern().unwrap_or_else(|| UNMATCHED.to_owned());
    let outcome = next.call(req).await;
    let status = match &outcome {
        Ok(response) => response.status(),
        Err(error) => error.as_response_error().status_code(),
    };
    ports
        .metrics
        .request_finished(method, &route, status.as_u16(), started.elapsed());
    if let Some(reason) = auth_failure_reason(method, &route, status) {
        ports.metrics.auth_failed(reason);
    }
    outcome
}

#[cfg(test)]
mod tests {
    use actix_web::http::{Method, StatusCode};

    use super::{LOGIN_ROUTE, MFA_ROUTE, auth_failure_reason, method_label};
    use crate::metrics::AUTH_FAILURE_REASONS;

    #[test]
    fn sign_in_refusals_and_other_401s_are_authentication_failures() {
        let reason = |method, route, status: u16| {
            auth_failure_reason(method, route, StatusCode::from_u16(status).unwrap())
        };
        assert_eq!(reason("POST", LOGIN_ROUTE, 401), Some("login_failed"));
        assert_eq!(reason("POST", LOGIN_ROUTE, 422), Some("login_failed"));
        assert_eq!(reason("POST", MFA_ROUTE, 401), Some("mfa_failed"));
        assert_eq!(reason("POST", MFA_ROUTE, 429), Some("rate_limited"));
        assert_eq!(reason("POST", LOGIN_ROUTE, 200), None);
        assert_eq!(
            reason("POST", LOGIN_ROUTE, 503),
            None,
            "an outage is no failure"
        );
        assert_eq!(reason("GET", LOGIN_ROUTE, 405), None);
        assert_eq!(reason("GET", "/api/v1/me", 401), Some("unauthorized"));
        assert_eq!(reason("GET", "/api/v1/me", 403), None);
        for reason in ["login_failed", "mfa_failed", "rate_limited", "unauthorized"] {
            assert!(AUTH_FAILURE_REASONS.contains(&reason));
        }
    }

    #[test]
    fn the_sign_in_routes_exist() {
        let doc = crate::openapi_document();
        for route in [LOGIN_ROUTE, MFA_ROUTE] {
            assert!(doc["paths"].get(route).is_some(), "{route} was renamed");
        }
    }

    #[test]
    fn unknown_methods_share_one_label() {
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        assert_eq!(
            method_label(&Method::from_bytes(b"X-RANDOM-42").unwrap()),
            "other"
        );
    }
}
