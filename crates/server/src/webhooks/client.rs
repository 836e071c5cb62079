//! The HTTP client of webhook deliveries: one POST per attempt, signed
//! (Standard Webhooks headers), through [`GuardedResolver`] so every address
//! is checked when the connection is made, an address written in the URL
//! checked before, `https://` only where the settings say so, no proxy, no
//! redirect followed, a time limit on the whole exchange, and at most
//! [`MAX_RESPONSE_BYTES`] of the answer read (then the connection is dropped).

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, RETRY_AFTER};
use reqwest::redirect::Policy;
use salus_domain::webhooks::address::refusal;
use salus_domain::webhooks::delivery::{Attempt, Outcome};

use super::resolver::{AddressRefused, GuardedResolver};
use crate::config::WebhookSettings;

/// The most of an answer's body read (its content is never kept).
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// The longest a connection may take to open, within the whole time limit.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What receivers see as the sender.
const USER_AGENT: &str = concat!("Salus-Webhooks/", env!("CARGO_PKG_VERSION"));

/// Sends webhook attempts.
#[derive(Clone)]
pub struct WebhookClient {
    http: reqwest::Client,
    settings: WebhookSettings,
}

impl std::fmt::Debug for WebhookClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookClient")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

fn failed(status: Option<u16>, error: impl Into<String>) -> Outcome {
    Outcome::Failed {
        status,
        error: error.into(),
        retry_after: None,
    }
}

/// Why a request failed, for the delivery log: the refused address when the
/// resolver refused it, else the kind of failure (never the URL or a body).
fn transport_error(error: &reqwest::Error, timeout: Duration) -> String {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        if let Some(refused) = cause.downcast_ref::<AddressRefused>() {
            return refused.to_string();
        }
        source = cause.source();
    }
    if error.is_timeout() {
        format!("no answer within {} s", timeout.as_secs())
    } else if error.is_connect() {
        "connection failed".to_owned()
    } else if error.is_request() {
        "request failed".to_owned()
    } else {
        "transport error".to_owned()
    }
}

impl WebhookClient {
    /// A client as the settings say, over the system's resolver.
    pub fn new(settings: WebhookSettings) -> anyhow::Result<Self> {
        Self::with_resolver(settings, GuardedResolver::system(settings.allow_loopback))
    }

    /// A client over another resolver (tests).
    pub fn with_resolver(
        settings: WebhookSettings,
        resolver: GuardedResolver,
    ) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .dns_resolver(Arc::new(resolver))
            .no_proxy()
            .redirect(Policy::none())
            .https_only(!settings.allow_http)
            .timeout(settings.timeout)
            .connect_timeout(CONNECT_TIMEOUT.min(settings.timeout))
            .user_agent(USER_AGENT)
            .build()?;
        Ok(Self { http, settings })
    }

    /// Sends one attempt, signed at `timestamp` (unix seconds): what it came to.
    pub async fn send(&self, attempt: &Attempt, timestamp: i64) -> Outcome {
        let Ok(url) = reqwest::Url::parse(&attempt.url) else {
            return failed(None, "the endpoint's URL cannot be read");
        };
        if url.scheme() != "https" && !(self.settings.allow_http && url.scheme() == "http") {
            return failed(None, "the endpoint's URL must be https://");
        }
        // An address written in the URL is not resolved, so the resolver never
        // sees it: it is judged here.
        let literal = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(ip.into()),
            Some(url::Host::Ipv6(ip)) => Some(ip.into()),
            _ => None,
        };
        if let Some(why) = literal.and_then(|ip| refusal(ip, self.settings.allow_loopback)) {
            return failed(None, AddressRefused(why).to_string());
        }
        let mut request = self
            .http
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .body(attempt.payload.clone());
        for (name, value) in attempt.headers(timestamp) {
            request = request.header(name, value);
        }
        let mut response = match request.send().await {
            Ok(response) => response,
            Err(e) => return failed(None, transport_error(&e, self.settings.timeout)),
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(|secs| chrono::Duration::seconds(i64::try_from(secs).unwrap_or(i64::MAX)));
        // Read a little of the answer (a receiver may stream without end), then
        // drop the connection; what it said is not kept.
        let mut read = 0;
        while read < MAX_RESPONSE_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => read += chunk.len(),
                Ok(None) | Err(_) => break,
            }
        }
        let code = status.as_u16();
        if status.is_success() {
            Outcome::Delivered { status: code }
        } else if status.is_redirection() {
            failed(
                Some(code),
                format!("status {code}: redirects are not followed"),
            )
        } else {
            Outcome::Failed {
                status: Some(code),
                error: format!("status {code}"),
                retry_after,
            }
        }
    }
}
