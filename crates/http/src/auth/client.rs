//! Where a request comes from: client address, user agent, request id, and the
//! purpose of use it states (`X-Purpose-Of-Use`, see `salus_domain::purpose`).

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use salus_domain::identity::model::ClientInfo;
use salus_domain::purpose::{HEADER as PURPOSE_HEADER, PurposeOfUse};

use crate::middleware::request_id::RequestId;
use crate::problem::ApiError;
use crate::state::HttpSettings;

/// Longest user agent kept.
const MAX_USER_AGENT: usize = 200;

/// The client of this request (address from the socket, or from `X-Forwarded-For`
/// when a trusted proxy is configured).
#[derive(Debug, Clone)]
pub struct Client(pub ClientInfo);

/// The client's address: the socket's peer, or the first address of
/// `X-Forwarded-For` when a trusted proxy is configured (`TRUST_PROXY_TLS`).
pub(crate) fn client_address(req: &HttpRequest) -> Option<String> {
    let trust_proxy = req
        .app_data::<web::Data<HttpSettings>>()
        .is_some_and(|s| s.trust_proxy_tls);
    let forwarded = trust_proxy
        .then(|| {
            req.headers()
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .map(|v| v.trim().to_owned())
                .filter(|v| v.parse::<std::net::IpAddr>().is_ok())
        })
        .flatten();
    forwarded.or_else(|| req.peer_addr().map(|a| a.ip().to_string()))
}

impl FromRequest for Client {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let ip = client_address(req);
        let user_agent = req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(MAX_USER_AGENT).collect());
        let request_id = req.extensions().get::<RequestId>().map(|r| r.0.clone());
        let purpose_of_use = match req.headers().get(PURPOSE_HEADER) {
            None => None,
            Some(value) => match value.to_str().ok().and_then(PurposeOfUse::from_code) {
                Some(purpose) => Some(purpose),
                None => return ready(Err(ApiError::MalformedPurposeOfUse)),
            },
        };
        ready(Ok(Self(ClientInfo {
            ip,
            user_agent,
            request_id,
            purpose_of_use,
        })))
    }
}
