//! The resolver of every webhook connection: it resolves the endpoint's name
//! when the connection is made and hands the client only the addresses webhooks
//! may go to (`salus_domain::webhooks::address`). A name whose every address is
//! refused fails the attempt with [`AddressRefused`]; a name that changed to an
//! inside address since the endpoint was saved (DNS rebinding) reaches nothing
//! inside, because no other lookup is made between this check and the connect.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use salus_domain::webhooks::address::{Refusal, refusal};

/// Why an attempt was not connected: every address of the name is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressRefused(pub Refusal);

impl std::fmt::Display for AddressRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "address refused: {}", self.0.as_str())
    }
}

impl std::error::Error for AddressRefused {}

/// A lookup of a name's addresses (the system's, or a test's).
pub type Lookup = Arc<
    dyn Fn(String) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<SocketAddr>>> + Send>>
        + Send
        + Sync,
>;

/// Resolves names, keeping only the addresses webhooks may go to.
pub struct GuardedResolver {
    allow_loopback: bool,
    lookup: Lookup,
}

impl GuardedResolver {
    /// Over the system's resolver; loopback allowed only when told (tests,
    /// development).
    pub fn system(allow_loopback: bool) -> Self {
        Self::with_lookup(
            allow_loopback,
            Arc::new(|name: String| {
                Box::pin(
                    async move { Ok(tokio::net::lookup_host((name.as_str(), 0)).await?.collect()) },
                )
            }),
        )
    }

    /// Over another lookup.
    pub fn with_lookup(allow_loopback: bool, lookup: Lookup) -> Self {
        Self {
            allow_loopback,
            lookup,
        }
    }

    /// The addresses of `name` webhooks may go to, or why there is none.
    pub async fn allowed(
        &self,
        name: &str,
    ) -> Result<Vec<SocketAddr>, Box<dyn std::error::Error + Send + Sync>> {
        let found = (self.lookup)(name.to_owned()).await?;
        let mut refused = None;
        let allowed: Vec<SocketAddr> = found
            .into_iter()
            .filter(|addr| match refusal(addr.ip(), self.allow_loopback) {
                None => true,
                Some(why) => {
                    refused.get_or_insert(why);
                    false
                }
            })
            .collect();
        match (allowed.is_empty(), refused) {
            (false, _) => Ok(allowed),
            (true, Some(why)) => Err(Box::new(AddressRefused(why))),
            (true, None) => Err(format!("{name} resolves to no address").into()),
        }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let this = Self {
            allow_loopback: self.allow_loopback,
            lookup: self.lookup.clone(),
        };
        Box::pin(async move {
            let allowed = this.allowed(name.as_str()).await?;
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use salus_domain::webhooks::address::{REFUSED_V4, REFUSED_V6};

    use super::*;

    fn resolving_to(ips: Vec<IpAddr>) -> Lookup {
        Arc::new(move |_| {
            let addrs = ips.iter().map(|ip| SocketAddr::new(*ip, 0)).collect();
            Box::pin(async move { Ok(addrs) })
        })
    }

    /// A name that resolves into any refused range, however it was judged when
    /// the endpoint was saved, is not connected to: every range walked.
    #[tokio::test]
    async fn a_name_resolving_into_any_refused_range_is_refused_at_connection() {
        let inside: Vec<IpAddr> = REFUSED_V4
            .iter()
            .map(|(net, _, _)| IpAddr::V4(*net))
            .chain(REFUSED_V6.iter().map(|(net, _, _)| IpAddr::V6(*net)))
            .collect();
        for ip in inside {
            let resolver = GuardedResolver::with_lookup(false, resolving_to(vec![ip]));
            let error = resolver
                .allowed("rebound.partner.example")
                .await
                .unwrap_err();
            assert!(
                error.downcast_ref::<AddressRefused>().is_some(),
                "{ip}: {error}"
            );
        }
    }

    #[tokio::test]
    async fn only_the_allowed_addresses_of_a_name_are_handed_on() {
        let public: IpAddr = "203.0.114.7".parse().unwrap();
        let resolver = GuardedResolver::with_lookup(
            false,
            resolving_to(vec![
                "10.0.0.8".parse().unwrap(),
                public,
                "::1".parse().unwrap(),
            ]),
        );
        let allowed = resolver.allowed("mixed.partner.example").await.unwrap();
        assert_eq!(allowed, vec![SocketAddr::new(public, 0)]);
        let loopback =
            GuardedResolver::with_lookup(true, resolving_to(vec!["127.0.0.1".parse().unwrap()]));
        assert_eq!(loopback.allowed("localhost").await.unwrap().len(), 1);
        let nothing = GuardedResolver::with_lookup(false, resolving_to(vec![]));
        assert!(nothing.allowed("void.partner.example").await.is_err());
    }
}
