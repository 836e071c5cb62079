//! Which addresses a webhook may be delivered to: only public unicast ones.
//! Loopback, private, shared (carrier-grade NAT), link-local, multicast,
//! documentation, benchmarking, reserved and cloud metadata addresses are
//! refused, and an IPv6 address that carries an IPv4 one (mapped, NAT64, 6to4)
//! is judged by the IPv4 address it carries. The same table is checked when an
//! endpoint is saved (a URL naming an address) and when a delivery connects
//! (every address its name resolves to, then), so a name that resolves to a
//! private address later (DNS rebinding) still reaches nothing inside.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// This host (`127.0.0.0/8`, `::1`).
    Loopback,
    /// Private networks (RFC 1918, unique local IPv6, shared CGNAT space).
    Private,
    /// Link-local (`169.254.0.0/16`, `fe80::/10`), where cloud metadata lives.
    LinkLocal,
    /// Multicast and broadcast.
    Multicast,
    /// Cloud metadata services outside link-local (Azure, Alibaba, AWS IPv6).
    Metadata,
    /// Unspecified, documentation, benchmarking and reserved ranges: nothing a
    /// partner's server can be at.
    Reserved,
}

impl Refusal {
    /// The name the delivery log and the refusals use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Loopback => "loopback",
            Self::Private => "private",
            Self::LinkLocal => "link-local",
            Self::Multicast => "multicast",
            Self::Metadata => "metadata",
            Self::Reserved => "reserved",
        }
    }
}

/// Refused IPv4 ranges: network, prefix length, why. Checked in order, so the
/// metadata addresses come before the ranges that hold them.
pub const REFUSED_V4: &[(Ipv4Addr, u8, Refusal)] = &[
    (Ipv4Addr::new(169, 254, 169, 254), 32, Refusal::Metadata),
    (Ipv4Addr::new(168, 63, 129, 16), 32, Refusal::Metadata),
    (Ipv4Addr::new(100, 100, 100, 200), 32, Refusal::Metadata),
    (Ipv4Addr::new(192, 0, 0, 192), 32, Refusal::Metadata),
    (Ipv4Addr::new(0, 0, 0, 0), 8, Refusal::Reserved),
    (Ipv4Addr::new(10, 0, 0, 0), 8, Refusal::Private),
    (Ipv4Addr::new(100, 64, 0, 0), 10, Refusal::Private),
    (Ipv4Addr::new(127, 0, 0, 0), 8, Refusal::Loopback),
    (Ipv4Addr::new(169, 254, 0, 0), 16, Refusal::LinkLocal),
    (Ipv4Addr::new(172, 16, 0, 0), 12, Refusal::Private),
    (Ipv4Addr::new(192, 0, 0, 0), 24, Refusal::Reserved),
    (Ipv4Addr::new(192, 0, 2, 0), 24, Refusal::Reserved),
    (Ipv4Addr::new(192, 88, 99, 0), 24, Refusal::Reserved),
    (Ipv4Addr::new(192, 168, 0, 0), 16, Refusal::Private),
    (Ipv4Addr::new(198, 18, 0, 0), 15, Refusal::Reserved),
    (Ipv4Addr::new(198, 51, 100, 0), 24, Refusal::Reserved),
    (Ipv4Addr::new(203, 0, 113, 0), 24, Refusal::Reserved),
    (Ipv4Addr::new(224, 0, 0, 0), 4, Refusal::Multicast),
    (Ipv4Addr::new(255, 255, 255, 255), 32, Refusal::Multicast),
    (Ipv4Addr::new(240, 0, 0, 0), 4, Refusal::Reserved),
];

/// Refused IPv6 ranges (those that carry an IPv4 address are judged by it
/// first, see [`refusal`]).
pub const REFUSED_V6: &[(Ipv6Addr, u8, Refusal)] = &[
    (
        Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254),
        128,
        Refusal::Metadata,
    ),
    (
        Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 0),
        128,
        Refusal::Reserved,
    ),
    (
        Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 1),
        128,
        Refusal::Loopback,
    ),
    (Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 0), 96, Refusal::Reserved),
    (
        Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0),
        48,
        Refusal::Private,
    ),
    (
        Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0),
        64,
        Refusal::Reserved,
    ),
    (
        Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0),
        23,
        Refusal::Reserved,
    ),
    (
        Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0),
        32,
        Refusal::Reserved,
    ),
    (
        Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0),
        20,
        Refusal::Reserved,
    ),
    (
        Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0),
        7,
        Refusal::Private,
    ),
    (
        Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0),
        10,
        Refusal::LinkLocal,
    ),
    (
        Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0),
        10,
        Refusal::Private,
    ),
    (
        Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0),
        8,
        Refusal::Multicast,
    ),
];

fn in_v4(ip: Ipv4Addr, net: Ipv4Addr, len: u8) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
    u32::from(ip) & mask == u32::from(net) & mask
}

fn in_v6(ip: Ipv6Addr, net: Ipv6Addr, len: u8) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
    u128::from(ip) & mask == u128::from(net) & mask
}

/// The IPv4 address an IPv6 one carries: IPv4-mapped (`::ffff:a.b.c.d`), the
/// NAT64 well-known prefix (`64:ff9b::/96`) and 6to4 (`2002::/16`).
fn carried_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    let bits = u128::from(ip);
    let low =
        |shift: u32| Ipv4Addr::from(u32::try_from((bits >> shift) & 0xffff_ffff).unwrap_or(0));
    let nat64 = Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0);
    if in_v6(ip, nat64, 96) {
        return Some(low(0));
    }
    let six_to_four = Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0);
    if in_v6(ip, six_to_four, 16) {
        return Some(low(80));
    }
    None
}

/// Why `ip` may not receive webhooks, or `None` when it may. Loopback is
/// allowed only when `allow_loopback` (the test and development settings).
pub fn refusal(ip: IpAddr, allow_loopback: bool) -> Option<Refusal> {
    let found = match ip {
        IpAddr::V4(v4) => REFUSED_V4
            .iter()
            .find(|(net, len, _)| in_v4(v4, *net, *len))
            .map(|(_, _, why)| *why),
        IpAddr::V6(v6) => match carried_v4(v6) {
            Some(v4) => return refusal(IpAddr::V4(v4), allow_loopback),
            None => REFUSED_V6
                .iter()
                .find(|(net, len, _)| in_v6(v6, *net, *len))
                .map(|(_, _, why)| *why),
        },
    };
    found.filter(|why| !(allow_loopback && *why == Refusal::Loopback))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn last_v4(net: Ipv4Addr, len: u8) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(net) | u32::MAX.checked_shr(u32::from(len)).unwrap_or(0))
    }

    fn last_v6(net: Ipv6Addr, len: u8) -> Ipv6Addr {
        Ipv6Addr::from(u128::from(net) | u128::MAX.checked_shr(u32::from(len)).unwrap_or(0))
    }

    /// Every refused range, walked: its first and last address are refused (as
    /// what the table says, or what a more specific entry before it says), and
    /// so are the same addresses carried in IPv6 (mapped, NAT64, 6to4).
    #[test]
    fn every_refused_range_is_refused_from_its_first_to_its_last_address() {
        for (net, len, why) in REFUSED_V4 {
            for ip in [*net, last_v4(*net, *len)] {
                let got = refusal(IpAddr::V4(ip), false);
                assert!(got.is_some(), "{ip} ({why:?}) is allowed");
                if *len == 32 {
                    assert_eq!(got, Some(*why), "{ip}");
                }
                let [a, b, c, d] = ip.octets();
                let carried = [
                    ip.to_ipv6_mapped(),
                    Ipv6Addr::new(
                        0x64,
                        0xff9b,
                        0,
                        0,
                        0,
                        0,
                        u16::from_be_bytes([a, b]),
                        u16::from_be_bytes([c, d]),
                    ),
                    Ipv6Addr::new(
                        0x2002,
                        u16::from_be_bytes([a, b]),
                        u16::from_be_bytes([c, d]),
                        0,
                        0,
                        0,
                        0,
                        1,
                    ),
                ];
                for v6 in carried {
                    assert_eq!(refusal(IpAddr::V6(v6), false), got, "{v6} carries {ip}");
                }
            }
        }
        for (net, len, why) in REFUSED_V6 {
            for ip in [*net, last_v6(*net, *len)] {
                let got = refusal(IpAddr::V6(ip), false);
                assert!(got.is_some(), "{ip} ({why:?}) is allowed");
                if *len == 128 {
                    assert_eq!(got, Some(*why), "{ip}");
                }
            }
        }
    }

    #[test]
    fn named_addresses_get_their_reason() {
        let v4 = |s: &str| refusal(IpAddr::V4(s.parse().unwrap()), false);
        let v6 = |s: &str| refusal(IpAddr::V6(s.parse().unwrap()), false);
        assert_eq!(v4("127.0.0.1"), Some(Refusal::Loopback));
        assert_eq!(v4("10.1.2.3"), Some(Refusal::Private));
        assert_eq!(v4("172.31.255.255"), Some(Refusal::Private));
        assert_eq!(v4("192.168.1.1"), Some(Refusal::Private));
        assert_eq!(v4("100.64.0.1"), Some(Refusal::Private));
        assert_eq!(v4("169.254.169.254"), Some(Refusal::Metadata));
        assert_eq!(v4("169.254.1.1"), Some(Refusal::LinkLocal));
        assert_eq!(v4("168.63.129.16"), Some(Refusal::Metadata));
        assert_eq!(v4("100.100.100.200"), Some(Refusal::Metadata));
        assert_eq!(v4("224.0.0.1"), Some(Refusal::Multicast));
        assert_eq!(v4("255.255.255.255"), Some(Refusal::Multicast));
        assert_eq!(v4("0.0.0.0"), Some(Refusal::Reserved));
        assert_eq!(v6("::1"), Some(Refusal::Loopback));
        assert_eq!(v6("::"), Some(Refusal::Reserved));
        assert_eq!(v6("fd00:ec2::254"), Some(Refusal::Metadata));
        assert_eq!(v6("fd12:3456::1"), Some(Refusal::Private));
        assert_eq!(v6("fe80::1"), Some(Refusal::LinkLocal));
        assert_eq!(v6("ff02::1"), Some(Refusal::Multicast));
        assert_eq!(v6("::ffff:127.0.0.1"), Some(Refusal::Loopback));
        assert_eq!(v6("::ffff:169.254.169.254"), Some(Refusal::Metadata));
        assert_eq!(v6("64:ff9b::a00:1"), Some(Refusal::Private));
        assert_eq!(v6("2002:c0a8:101::1"), Some(Refusal::Private));
    }

    #[test]
    fn public_addresses_next_to_refused_ranges_are_allowed() {
        for ip in [
            "1.1.1.1",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "126.255.255.255",
            "128.0.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.167.255.255",
            "192.169.0.0",
            "223.255.255.255",
            "2606:4700:4700::1111",
            "2a00:1450:4007:80e::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(refusal(ip, false), None, "{ip}");
        }
    }

    #[test]
    fn loopback_is_allowed_only_when_told_and_nothing_else_is() {
        for ip in ["127.0.0.1", "127.255.255.254", "::1", "::ffff:127.0.0.1"] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(refusal(ip, false), Some(Refusal::Loopback), "{ip}");
            assert_eq!(refusal(ip, true), None, "{ip}");
        }
        for ip in ["10.0.0.1", "169.254.169.254", "fe80::1", "0.0.0.0"] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(refusal(ip, true).is_some(), "{ip}");
        }
    }
}
