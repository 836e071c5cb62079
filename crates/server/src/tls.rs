//! The rustls server configuration: TLS 1.2 and 1.3, or 1.3 only. Older versions
//! are not implemented by rustls at all, so they cannot be negotiated.

use std::sync::Arc;

use anyhow::Context;
use rustls::ServerConfig;
use rustls::version::{TLS12, TLS13};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::{TlsConfig, TlsMinVersion};

/// Loads the certificate chain and key and builds the server configuration.
pub fn server_config(tls: &TlsConfig) -> anyhow::Result<ServerConfig> {
    let certs = CertificateDer::pem_file_iter(&tls.cert_file)
        .with_context(|| format!("cannot read TLS_CERT_FILE {}", tls.cert_file.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("TLS_CERT_FILE {} is not valid PEM", tls.cert_file.display()))?;
    anyhow::ensure!(
        !certs.is_empty(),
        "TLS_CERT_FILE {} holds no certificate",
        tls.cert_file.display()
    );
    let key = PrivateKeyDer::from_pem_file(&tls.key_file).with_context(|| {
        format!(
            "cannot read a private key from TLS_KEY_FILE {}",
            tls.key_file.display()
        )
    })?;
    let versions: &[&rustls::SupportedProtocolVersion] = match tls.min_version {
        TlsMinVersion::Tls12 => &[&TLS13, &TLS12],
        TlsMinVersion::Tls13 => &[&TLS13],
    };
    ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_protocol_versions(versions)
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("the TLS certificate and key do not form a valid pair")
}
