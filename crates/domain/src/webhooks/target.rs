//! Where an endpoint may point: an absolute `https://` URL (`http://` only
//! where the settings allow it: development and tests), without credentials
//! or fragment, whose host is a name or a public address. A name is judged
//! again when each delivery connects (by the address it then resolves to).

use url::{Host, Url};

use super::address::{Refusal, refusal};
use crate::DomainError;

/// The longest URL taken.
pub const MAX_URL_CHARS: usize = 2048;

/// What the deployment allows endpoints to point at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TargetPolicy {
    /// `http://` as well as `https://` (development and tests only).
    pub allow_http: bool,
    /// Loopback hosts (`localhost`, `127.0.0.1`, `::1`): development and tests
    /// only, where the receiver runs on the same machine.
    pub allow_loopback: bool,
}

fn invalid(code: &'static str, message: impl Into<String>) -> DomainError {
    DomainError::invalid("url", code, message)
}

/// Whether a name is this machine's (`localhost`, `*.localhost`: RFC 6761).
fn is_local_name(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

/// The URL as it will be used (normalised), or why it cannot be an endpoint.
pub fn check_target(raw: &str, policy: TargetPolicy) -> Result<String, DomainError> {
    if raw.chars().count() > MAX_URL_CHARS {
        return Err(invalid(
            "length",
            format!("must be at most {MAX_URL_CHARS} characters"),
        ));
    }
    let url =
        Url::parse(raw).map_err(|_| invalid("invalid", "must be an absolute https:// URL"))?;
    match url.scheme() {
        "https" => {}
        "http" if policy.allow_http => {}
        _ => return Err(invalid("https_required", "must be an https:// URL")),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "invalid",
            "must not hold credentials: the signature authenticates deliveries",
        ));
    }
    if url.fragment().is_some() {
        return Err(invalid("invalid", "must not have a fragment"));
    }
    let refused = match url.host() {
        None => return Err(invalid("invalid", "must name a host")),
        Some(Host::Domain(name)) => {
            (is_local_name(name) && !policy.allow_loopback).then_some(Refusal::Loopback)
        }
        Some(Host::Ipv4(ip)) => refusal(ip.into(), policy.allow_loopback),
        Some(Host::Ipv6(ip)) => refusal(ip.into(), policy.allow_loopback),
    };
    if let Some(why) = refused {
        return Err(invalid(
            "address_refused",
            format!(
                "names a {} address: webhooks go to public addresses only",
                why.as_str()
            ),
        ));
    }
    // Normalising may lengthen it (percent-encoding, punycode).
    let url = url.to_string();
    if url.chars().count() > MAX_URL_CHARS {
        return Err(invalid(
            "length",
            format!("must be at most {MAX_URL_CHARS} characters once encoded"),
        ));
    }
    Ok(url)
}

/// The host of a stored URL, for messages that must not carry its path or
/// query (where some receivers keep a token).
pub fn host_of(url: &str) -> String {
    Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_owned))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEPLOYED: TargetPolicy = TargetPolicy {
        allow_http: false,
        allow_loopback: false,
    };

    fn code(raw: &str, policy: TargetPolicy) -> Option<&'static str> {
        match check_target(raw, policy) {
            Ok(_) => None,
            Err(DomainError::Invalid(problems)) => Some(problems[0].code),
            Err(other) => panic!("{other:?}"),
        }
    }

    #[test]
    fn public_https_urls_are_taken_as_normalised() {
        assert_eq!(
            check_target("HTTPS://Hooks.Partner.Example:8443/salus?v=1", DEPLOYED).unwrap(),
            "https://hooks.partner.example:8443/salus?v=1"
        );
        assert_eq!(code("https://203.0.114.7/hook", DEPLOYED), None);
        assert_eq!(code("https://[2606:4700::1]/hook", DEPLOYED), None);
    }

    #[test]
    fn other_schemes_credentials_fragments_and_junk_are_refused() {
        assert_eq!(
            code("http://hooks.partner.example/", DEPLOYED),
            Some("https_required")
        );
        assert_eq!(
            code("ftp://hooks.partner.example/", DEPLOYED),
            Some("https_required")
        );
        assert_eq!(
            code("https://user:pw@hooks.partner.example/", DEPLOYED),
            Some("invalid")
        );
        assert_eq!(
            code("https://hooks.partner.example/#x", DEPLOYED),
            Some("invalid")
        );
        assert_eq!(
            code("hooks.partner.example/salus", DEPLOYED),
            Some("invalid")
        );
        assert_eq!(code("xxxxxxxx", DEPLOYED), Some("invalid"));
        let long = format!("https://a.example/{}", "x".repeat(MAX_URL_CHARS));
        assert_eq!(code(&long, DEPLOYED), Some("length"));
        // Short enough as sent, too long once percent-encoded.
        let encoded = format!("https://a.example/{}", "é".repeat(1000));
        assert!(encoded.chars().count() <= MAX_URL_CHARS);
        assert_eq!(code(&encoded, DEPLOYED), Some("length"));
    }

    /// Every way of writing an inside address in a URL, including the ones the
    /// URL standard turns into an IPv4 address (decimal, hex, short forms).
    #[test]
    fn inside_addresses_are_refused_however_written() {
        for raw in [
            "https://127.0.0.1/",
            "https://127.1/",
            "https://2130706433/",
            "https://0x7f000001/",
            "https://0177.0.0.1/",
            "https://[::1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://localhost/",
            "https://LOCALHOST./",
            "https://api.localhost/",
            "https://10.0.0.1/",
            "https://192.168.0.10/",
            "https://169.254.169.254/latest/meta-data/",
            "https://[fd00:ec2::254]/",
            "https://[fe80::1]/",
            "https://0.0.0.0/",
            "https://224.0.0.1/",
        ] {
            assert_eq!(code(raw, DEPLOYED), Some("address_refused"), "{raw}");
        }
    }

    #[test]
    fn development_and_tests_may_use_http_and_loopback_and_nothing_else_inside() {
        let local = TargetPolicy {
            allow_http: true,
            allow_loopback: true,
        };
        assert_eq!(code("http://127.0.0.1:8123/hook", local), None);
        assert_eq!(code("http://localhost:8123/hook", local), None);
        assert_eq!(code("http://10.0.0.1/hook", local), Some("address_refused"));
        assert_eq!(
            host_of("https://hooks.partner.example/a?token=x"),
            "hooks.partner.example"
        );
    }
}
