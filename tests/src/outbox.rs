//! Real, minimal endpoints for the outbox providers, on `127.0.0.1:0`: an SMTP sink
//! that speaks just enough SMTP to accept mail, and an SMS gateway that checks the
//! HMAC signature the way a real one would. Both record what they received.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One mail the sink accepted.
#[derive(Debug, Clone, Default)]
pub struct ReceivedMail {
    /// The `MAIL FROM` address.
    pub mail_from: String,
    /// The `RCPT TO` addresses.
    pub rcpt_to: Vec<String>,
    /// The message as sent after `DATA` (headers and body, dot-stuffing undone).
    pub data: String,
}

/// An SMTP server that accepts every mail (or refuses every recipient) and keeps it.
#[derive(Debug, Clone)]
pub struct SmtpSink {
    /// Where it listens.
    pub addr: SocketAddr,
    mails: Arc<Mutex<Vec<ReceivedMail>>>,
}

impl SmtpSink {
    /// A sink that accepts every mail.
    pub fn start() -> Self {
        Self::listen(false)
    }

    /// A sink that answers every `RCPT TO` with 550.
    pub fn start_refusing() -> Self {
        Self::listen(true)
    }

    fn listen(refuse: bool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the SMTP sink");
        let addr = listener.local_addr().expect("sink address");
        let mails = Arc::new(Mutex::new(Vec::new()));
        let kept = mails.clone();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let kept = kept.clone();
                thread::spawn(move || {
                    let _ = smtp_session(stream, refuse, &kept);
                });
            }
        });
        Self { addr, mails }
    }

    /// `smtp://127.0.0.1:PORT`, for `SMTP_URL`.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// Mails accepted so far.
    pub fn mails(&self) -> Vec<ReceivedMail> {
        lock(&self.mails).clone()
    }
}

fn address_in(line: &str) -> String {
    let start = line.find('<').map_or(0, |i| i + 1);
    let end = line.rfind('>').unwrap_or(line.len());
    line[start..end].to_owned()
}

fn smtp_session(
    stream: TcpStream,
    refuse: bool,
    mails: &Mutex<Vec<ReceivedMail>>,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut out = stream.try_clone()?;
    let mut input = BufReader::new(stream);
    out.write_all(b"220 sink.test ESMTP ready\r\n")?;
    let mut mail = ReceivedMail::default();
    let mut line = String::new();
    loop {
        line.clear();
        if input.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_ascii_uppercase();
        let reply: &[u8] = if command.starts_with("EHLO") || command.starts_with("HELO") {
            b"250 sink.test\r\n"
        } else if command.starts_with("MAIL FROM:") {
            mail = ReceivedMail {
                mail_from: address_in(line.trim_end()),
                ..ReceivedMail::default()
            };
            b"250 2.1.0 ok\r\n"
        } else if command.starts_with("RCPT TO:") {
            if refuse {
                b"550 5.1.1 no such mailbox\r\n"
            } else {
                mail.rcpt_to.push(address_in(line.trim_end()));
                b"250 2.1.5 ok\r\n"
            }
        } else if command == "DATA" {
            out.write_all(b"354 end with <CRLF>.<CRLF>\r\n")?;
            loop {
                line.clear();
                if input.read_line(&mut line)? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" {
                    break;
                }
                let unstuffed = line.strip_prefix('.').unwrap_or(&line);
                mail.data.push_str(unstuffed);
            }
            lock(mails).push(std::mem::take(&mut mail));
            b"250 2.0.0 queued\r\n"
        } else if command == "RSET" || command == "NOOP" {
            mail = ReceivedMail::default();
            b"250 2.0.0 ok\r\n"
        } else if command == "QUIT" {
            out.write_all(b"221 2.0.0 bye\r\n")?;
            return Ok(());
        } else {
            b"502 5.5.2 not implemented\r\n"
        };
        out.write_all(reply)?;
    }
}

/// One POST the gateway received.
#[derive(Debug, Clone)]
pub struct GatewayRequest {
    /// Request method.
    pub method: String,
    /// Request path.
    pub path: String,
    /// Headers, names lower-cased.
    pub headers: HashMap<String, String>,
    /// The raw body.
    pub body: Vec<u8>,
    /// Whether `X-Salus-Signature` is `v1=` + hex HMAC-SHA256 of `"<timestamp>.<body>"`
    /// under the gateway's secret.
    pub signature_valid: bool,
}

impl GatewayRequest {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("the gateway received JSON")
    }
}

/// An HTTP SMS gateway: answers 401 to a bad signature, else the configured status.
#[derive(Debug, Clone)]
pub struct SmsGateway {
    /// Where it listens.
    pub addr: SocketAddr,
    requests: Arc<Mutex<Vec<GatewayRequest>>>,
    status: Arc<AtomicU16>,
}

impl SmsGateway {
    /// A gateway sharing `secret` with Salus, answering 200 to signed requests.
    pub fn start(secret: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the SMS gateway");
        let addr = listener.local_addr().expect("gateway address");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let status = Arc::new(AtomicU16::new(200));
        let (kept, answer, secret) = (requests.clone(), status.clone(), secret.to_owned());
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (kept, answer, secret) = (kept.clone(), answer.clone(), secret.clone());
                thread::spawn(move || {
                    let _ = http_exchange(stream, &secret, &answer, &kept);
                });
            }
        });
        Self {
            addr,
            requests,
            status,
        }
    }

    /// The endpoint, for `SMS_GATEWAY_URL`.
    pub fn url(&self) -> String {
        format!("http://{}/v1/sms", self.addr)
    }

    /// Answers `status` to signed requests from now on.
    pub fn answer(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    /// Requests received so far.
    pub fn requests(&self) -> Vec<GatewayRequest> {
        lock(&self.requests).clone()
    }
}

fn signature_is_valid(secret: &str, headers: &HashMap<String, String>, body: &[u8]) -> bool {
    let (Some(timestamp), Some(signature)) = (
        headers.get("x-salus-timestamp"),
        headers.get("x-salus-signature"),
    ) else {
        return false;
    };
    let Some(hex) = signature.strip_prefix("v1=") else {
        return false;
    };
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("hmac key");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    hex == expected && timestamp.parse::<i64>().is_ok()
}

fn http_exchange(
    stream: TcpStream,
    secret: &str,
    status: &AtomicU16,
    requests: &Mutex<Vec<GatewayRequest>>,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut out = stream.try_clone()?;
    let mut input = BufReader::new(stream);
    let mut request_line = String::new();
    input.read_line(&mut request_line)?;
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let mut headers = HashMap::new();
    loop {
        let mut line = String::new();
        if input.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
        }
    }
    let length = headers
        .get("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    input.read_exact(&mut body)?;
    let signature_valid = signature_is_valid(secret, &headers, &body);
    let code = if signature_valid {
        status.load(Ordering::SeqCst)
    } else {
        401
    };
    lock(requests).push(GatewayRequest {
        method,
        path,
        headers,
        body,
        signature_valid,
    });
    out.write_all(
        format!("HTTP/1.1 {code} Status\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    )
}
