//! Request rate limits for every `/api/v1` operation (issue 19): what a request
//! counts against ([`Bucket`]), how much each bucket may take per window
//! ([`Limits`], per plan for a clinic), and the node-local counters that decide
//! and are synchronised with the database ([`counters::Limiter`]).
//!
//! Fixed windows (aligned on the epoch, the same on every node), counted in
//! memory and flushed to PostgreSQL every sync interval, the way Kong's
//! rate-limiting plugin does with `sync_rate`: see `docs/architecture.md`,
//! "Rate limits for every operation".

pub mod counters;

use uuid::Uuid;

use crate::ids::ClinicId;
use crate::plans::Plan;

/// What a request counts against.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Bucket {
    /// One credential: a member's session (`sid`), or a service account's
    /// API key (its id).
    Credential(Uuid),
    /// One clinic (`cid`), whoever acts in it.
    Clinic(ClinicId),
    /// One client address, for requests without a valid credential (an IPv6
    /// address by its /64 network: see [`Bucket::address`]).
    Address(String),
}

impl Bucket {
    /// The bucket of a client address. An IPv6 client counts by its /64
    /// network: one subscriber or host is given a whole /64 (RFC 6177), so
    /// counting each of its 2^64 addresses apart would let it pass any limit
    /// and fill the counters with buckets. An IPv4-mapped IPv6 address counts
    /// as its IPv4 address; an unknown one, or text that is no address, in one
    /// shared bucket.
    pub fn address(ip: Option<&str>) -> Self {
        use std::net::IpAddr;
        let key = match ip.and_then(|ip| ip.parse::<IpAddr>().ok()) {
            Some(IpAddr::V4(v4)) => v4.to_string(),
            Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => v4.to_string(),
                None => ipnet::Ipv6Net::new(v6, 64)
                    .map(|net| net.trunc().to_string())
                    .unwrap_or_else(|_| v6.to_string()),
            },
            None => "unknown".to_owned(),
        };
        Self::Address(key)
    }

    /// The name of the policy that limits this bucket (`RateLimit-Policy`).
    pub fn policy(&self) -> &'static str {
        match self {
            Self::Credential(_) => "credential",
            Self::Clinic(_) => "clinic",
            Self::Address(_) => "address",
        }
    }

    /// The bucket's key in the shared table.
    pub fn key(&self) -> String {
        match self {
            Self::Credential(id) => format!("credential:{id}"),
            Self::Clinic(clinic) => format!("clinic:{}", clinic.0),
            Self::Address(ip) => format!("address:{ip}"),
        }
    }
}

/// Requests allowed per window to a clinic, by plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanLimits {
    /// On the free plan.
    pub free: u64,
    /// On the pro plan.
    pub pro: u64,
    /// On the business plan.
    pub business: u64,
}

impl PlanLimits {
    /// The limit of `plan`.
    pub fn of(&self, plan: Plan) -> u64 {
        match plan {
            Plan::Free => self.free,
            Plan::Pro => self.pro,
            Plan::Business => self.business,
        }
    }
}

/// The configured limits (`RATE_LIMIT_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The window's length in seconds.
    pub window_secs: u64,
    /// Requests per window per credential.
    pub per_credential: u64,
    /// Requests per window per clinic, by plan.
    pub per_clinic: PlanLimits,
    /// Requests per window per client address (requests without a credential).
    pub per_address: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            window_secs: 60,
            per_credential: 600,
            per_clinic: PlanLimits {
                free: 1200,
                pro: 3000,
                business: 6000,
            },
            per_address: 300,
        }
    }
}

impl Limits {
    /// The quota of `bucket`; a clinic whose plan is not known yet gets the
    /// free plan's (the smallest) until the next sync reads its plan.
    pub fn quota(&self, bucket: &Bucket, plan: Option<Plan>) -> u64 {
        match bucket {
            Bucket::Credential(_) => self.per_credential,
            Bucket::Clinic(_) => self.per_clinic.of(plan.unwrap_or(Plan::Free)),
            Bucket::Address(_) => self.per_address,
        }
    }
}

/// One policy that applies to a request: `"name";q=quota;w=window`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The policy's name.
    pub name: &'static str,
    /// Requests allowed per window.
    pub quota: u64,
    /// The window in seconds.
    pub window_secs: u64,
}

/// The state of one policy after a request: `"name";r=remaining;t=reset`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    /// The policy's name.
    pub name: &'static str,
    /// Requests left in the window (never negative).
    pub remaining: u64,
    /// Seconds until the window resets (at least 1).
    pub reset_secs: u64,
}

/// What the limiter decided for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Every policy that applies, in the order of the request's buckets.
    pub policies: Vec<Policy>,
    /// The most constraining policy (fewest requests left).
    pub standing: Standing,
    /// Whether the request is refused (the standing policy has none left).
    pub refused: bool,
}

#[cfg(test)]
mod tests {
    use super::Bucket;

    fn key(ip: &str) -> String {
        Bucket::address(Some(ip)).key()
    }

    #[test]
    fn an_ipv6_client_counts_by_its_64_network_and_an_ipv4_one_by_its_address() {
        assert_eq!(key("2001:db8:1:2::1"), "address:2001:db8:1:2::/64");
        assert_eq!(
            key("2001:db8:1:2:ffff:ffff:ffff:ffff"),
            key("2001:db8:1:2::1")
        );
        assert_ne!(key("2001:db8:1:3::1"), key("2001:db8:1:2::1"));
        assert_eq!(key("192.0.2.7"), "address:192.0.2.7");
        assert_ne!(key("192.0.2.8"), key("192.0.2.7"));
        assert_eq!(key("::ffff:192.0.2.7"), key("192.0.2.7"));
    }

    #[test]
    fn an_unknown_client_or_text_that_is_no_address_shares_one_bucket() {
        assert_eq!(Bucket::address(None).key(), "address:unknown");
        assert_eq!(key("not an address"), "address:unknown");
    }
}
