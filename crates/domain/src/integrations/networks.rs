//! The networks a service account may call from: CIDR blocks (`ipnet`, the
//! crate the Rust networking stack uses), stored in their canonical form.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::DomainError;
use crate::formats::is_network;

/// The most networks one account may list.
pub const MAX_NETWORKS: usize = 20;

/// One network: a CIDR block, or a single address (a /32 or /128), written as
/// the contract's pattern says ([`is_network`]); the host bits cleared.
fn parse(raw: &str) -> Option<IpNet> {
    let raw = raw.trim();
    if !is_network(raw) {
        return None;
    }
    raw.parse::<IpNet>()
        .ok()
        .or_else(|| raw.parse::<IpAddr>().ok().map(IpNet::from))
        .map(|net| net.trunc())
}

/// The networks asked for, canonical, each once; refuses one that does not
/// parse, too many, or the same text twice (two texts of one network, such as
/// `192.0.2.7/24` and `192.0.2.0/24`, are kept once).
pub fn parse_all(raw: &[String]) -> Result<Vec<String>, DomainError> {
    if raw.len() > MAX_NETWORKS {
        return Err(DomainError::invalid(
            "allowed_networks",
            "length",
            format!("must list at most {MAX_NETWORKS} networks"),
        ));
    }
    let mut nets: Vec<String> = Vec::with_capacity(raw.len());
    for (n, value) in raw.iter().enumerate() {
        if raw[..n].contains(value) {
            return Err(DomainError::invalid(
                "allowed_networks",
                "duplicate",
                format!("names {value} twice"),
            ));
        }
        let net = parse(value).ok_or_else(|| {
            DomainError::invalid(
                "allowed_networks",
                "invalid_network",
                "must be networks in CIDR notation (192.0.2.0/24) or single addresses",
            )
        })?;
        let text = net.to_string();
        if !nets.contains(&text) {
            nets.push(text);
        }
    }
    Ok(nets)
}

/// Whether `client` may call: any address when `allowed` is empty, else an
/// address inside one of the networks (an unknown address is outside all).
pub fn admits(allowed: &[String], client: Option<&str>) -> bool {
    if allowed.is_empty() {
        return true;
    }
    let Some(ip) = client.and_then(|c| c.parse::<IpAddr>().ok()) else {
        return false;
    };
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    allowed
        .iter()
        .filter_map(|n| n.parse::<IpNet>().ok())
        .any(|net| net.contains(&ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| (*v).to_owned()).collect()
    }

    #[test]
    fn networks_are_stored_canonical() {
        assert_eq!(
            parse_all(&list(&["192.0.2.7/24", " 2001:db8::1/32", "198.51.100.9"])).unwrap(),
            list(&["192.0.2.0/24", "2001:db8::/32", "198.51.100.9/32"])
        );
        for bad in [
            "",
            "192.0.2.0/33",
            "example.com",
            "192.0.2.0/24/1",
            "2001:db8::/129",
            "::ffff:192.0.2.1",
            "fe80::1%eth0",
        ] {
            assert!(parse_all(&list(&[bad])).is_err(), "{bad}");
        }
        assert!(parse_all(&list(&["192.0.2.0/24", "192.0.2.0/24"])).is_err());
        assert_eq!(
            parse_all(&list(&["192.0.2.0/24", "192.0.2.9/24"])).unwrap(),
            list(&["192.0.2.0/24"])
        );
        assert!(parse_all(&vec!["10.0.0.0/8".to_owned(); MAX_NETWORKS + 1]).is_err());
    }

    #[test]
    fn an_address_is_admitted_inside_a_network_only() {
        let allowed = list(&["192.0.2.0/24", "2001:db8::/32"]);
        assert!(admits(&[], None));
        assert!(admits(&allowed, Some("192.0.2.200")));
        assert!(admits(&allowed, Some("::ffff:192.0.2.1")));
        assert!(admits(&allowed, Some("2001:db8::5")));
        assert!(!admits(&allowed, Some("192.0.3.1")));
        assert!(!admits(&allowed, Some("2001:db9::5")));
        assert!(!admits(&allowed, None));
        assert!(!admits(&allowed, Some("not an address")));
    }
}
