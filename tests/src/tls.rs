//! A throw-away certificate for 127.0.0.1 and localhost, written to a temp dir.

use std::path::PathBuf;

/// PEM files of a self-signed certificate and its key.
#[derive(Debug)]
pub struct TestCertificate {
    /// Directory holding both files (removed on drop).
    pub dir: PathBuf,
    /// The certificate (PEM).
    pub cert_file: PathBuf,
    /// The private key (PEM).
    pub key_file: PathBuf,
    /// The certificate in PEM, to trust it in a client.
    pub cert_pem: String,
}

impl TestCertificate {
    /// Generates a fresh self-signed certificate.
    pub fn generate() -> Self {
        let certified = rcgen::generate_simple_self_signed(vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
        ])
        .expect("generate certificate");
        let dir = std::env::temp_dir().join(format!("salus-tls-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let cert_file = dir.join("cert.pem");
        let key_file = dir.join("key.pem");
        let cert_pem = certified.cert.pem();
        std::fs::write(&cert_file, &cert_pem).expect("write cert");
        std::fs::write(&key_file, certified.signing_key.serialize_pem()).expect("write key");
        Self {
            dir,
            cert_file,
            key_file,
            cert_pem,
        }
    }
}

impl Drop for TestCertificate {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
