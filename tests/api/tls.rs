//! TLS with real clients against a generated certificate: rustls serves 1.2 and 1.3
//! (or 1.3 only), never 1.1; the plain port redirects; HTTPS responses carry HSTS.

use std::process::Command;

use salus_tests::TestApp;
use salus_tests::tls::TestCertificate;

async fn tls_app(cert: &TestCertificate, min_version: &str) -> TestApp {
    TestApp::spawn_with(&[
        ("TLS_BIND", "127.0.0.1:0"),
        ("TLS_CERT_FILE", cert.cert_file.to_str().unwrap()),
        ("TLS_KEY_FILE", cert.key_file.to_str().unwrap()),
        ("TLS_MIN_VERSION", min_version),
    ])
    .await
}

/// Runs an OpenSSL handshake limited to one protocol version (off the test's
/// runtime, which drives the server); returns whether it succeeded and what
/// OpenSSL printed.
async fn handshake(app: &TestApp, version_flag: &'static str) -> (bool, String) {
    let addr = app.tls_addr.expect("TLS listener");
    tokio::task::spawn_blocking(move || openssl_handshake(addr, version_flag))
        .await
        .unwrap()
}

fn openssl_handshake(addr: std::net::SocketAddr, version_flag: &str) -> (bool, String) {
    let output = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &addr.to_string(),
            version_flag,
            // Let the client offer legacy versions at all (OpenSSL 3 disables them by
            // default), so a failure is the server's refusal.
            "-cipher",
            "DEFAULT:@SECLEVEL=0",
            "-brief",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("the openssl command-line tool is required (apt-get install openssl)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let established = output.status.success() && text.contains("Protocol version");
    (established, text)
}

#[tokio::test]
async fn tls_12_and_13_succeed_and_11_is_refused() {
    let cert = TestCertificate::generate();
    let app = tls_app(&cert, "1.2").await;
    let (ok13, out13) = handshake(&app, "-tls1_3").await;
    assert!(ok13, "TLS 1.3 failed: {out13}");
    assert!(out13.contains("TLSv1.3"), "{out13}");
    let (ok12, out12) = handshake(&app, "-tls1_2").await;
    assert!(ok12, "TLS 1.2 failed: {out12}");
    assert!(out12.contains("TLSv1.2"), "{out12}");
    let (ok11, out11) = handshake(&app, "-tls1_1").await;
    assert!(!ok11, "TLS 1.1 was accepted: {out11}");
    assert!(
        out11.contains("protocol version") || out11.contains("alert"),
        "TLS 1.1 failed for another reason than the server's refusal: {out11}"
    );
}

#[tokio::test]
async fn tls_13_only_refuses_12() {
    let cert = TestCertificate::generate();
    let app = tls_app(&cert, "1.3").await;
    let (ok13, out13) = handshake(&app, "-tls1_3").await;
    assert!(ok13, "TLS 1.3 failed: {out13}");
    let (ok12, out12) = handshake(&app, "-tls1_2").await;
    assert!(
        !ok12,
        "TLS 1.2 was accepted with TLS_MIN_VERSION=1.3: {out12}"
    );
}

#[tokio::test]
async fn https_answers_with_hsts_and_plain_http_redirects() {
    let cert = TestCertificate::generate();
    let app = tls_app(&cert, "1.2").await;
    assert!(app.url.starts_with("https://"), "{}", app.url);

    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.cert_pem.as_bytes()).unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = client
        .get(format!("{}/health/live", app.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let hsts = response.headers()["strict-transport-security"]
        .to_str()
        .unwrap();
    let max_age: u64 = hsts
        .split(';')
        .find_map(|p| p.trim().strip_prefix("max-age="))
        .unwrap()
        .parse()
        .unwrap();
    assert!(max_age >= 31_536_000, "{hsts}");
    assert!(hsts.contains("includeSubDomains"));

    let plain = format!("http://{}/api/v1/patients?limit=5", app.http_addr);
    let response = client.get(&plain).send().await.unwrap();
    assert_eq!(response.status(), 308);
    assert_eq!(
        response.headers()["location"],
        format!("{}/api/v1/patients?limit=5", app.url).as_str()
    );
    let response = client
        .post(format!("http://{}/health/live", app.http_addr))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        308,
        "the redirect listener serves nothing else"
    );
}
