//! A real webhook receiver for the tests, on `127.0.0.1:0`: it records every
//! request (and every connection, even one that sends nothing), answers as the
//! test scripts it (statuses in turn, a redirect, no answer, a body without
//! end), and verifies Standard Webhooks signatures with its own code (the
//! `hmac` crate over the specification's signed content), not the server's.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::app::TestApp;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How the receiver answers a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// This status, an empty body.
    Status(u16),
    /// This status and a `Retry-After` of so many seconds.
    RetryAfter(u16, u64),
    /// A redirect to this URL.
    Redirect(u16, String),
    /// Nothing: the request is read and the connection held open.
    Silence,
    /// 200 and a body that never ends.
    EndlessBody,
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    /// Method.
    pub method: String,
    /// Path.
    pub path: String,
    /// Headers, names lower-cased.
    pub headers: HashMap<String, String>,
    /// The raw body.
    pub body: Vec<u8>,
}

impl Received {
    /// A header's value.
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("the receiver got JSON")
    }

    /// Whether one of the `webhook-signature` signatures is the secret's.
    pub fn signed_by(&self, secret: &str) -> bool {
        verify(
            secret,
            self.header("webhook-id"),
            self.header("webhook-timestamp"),
            &self.body,
            self.header("webhook-signature"),
        )
    }
}

/// Standard Webhooks verification, written from the specification: the key is
/// the base64 after `whsec_`; a signature is `v1,` and the base64 HMAC-SHA256
/// of `"<id>.<timestamp>.<body>"`; the header holds several, space-separated.
pub fn verify(secret: &str, id: &str, timestamp: &str, body: &[u8], header: &str) -> bool {
    let Some(key) = secret
        .strip_prefix("whsec_")
        .and_then(|b64| STANDARD.decode(b64).ok())
    else {
        return false;
    };
    header.split(' ').any(|signature| {
        let Some(given) = signature
            .strip_prefix("v1,")
            .and_then(|b64| STANDARD.decode(b64).ok())
        else {
            return false;
        };
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key).expect("hmac key");
        mac.update(format!("{id}.{timestamp}.").as_bytes());
        mac.update(body);
        mac.verify_slice(&given).is_ok()
    })
}

/// A webhook receiver.
#[derive(Debug, Clone)]
pub struct Receiver {
    /// Where it listens.
    pub addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<VecDeque<Answer>>>,
    otherwise: Arc<Mutex<Answer>>,
    connections: Arc<AtomicUsize>,
    streamed: Arc<AtomicUsize>,
}

impl Receiver {
    /// A receiver answering 200 to everything until told otherwise.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the receiver");
        let addr = listener.local_addr().expect("receiver address");
        let receiver = Self {
            addr,
            received: Arc::default(),
            script: Arc::default(),
            otherwise: Arc::new(Mutex::new(Answer::Status(200))),
            connections: Arc::default(),
            streamed: Arc::default(),
        };
        let shared = receiver.clone();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                shared.connections.fetch_add(1, Ordering::SeqCst);
                let shared = shared.clone();
                thread::spawn(move || {
                    let _ = shared.exchange(stream);
                });
            }
        });
        receiver
    }

    /// `http://127.0.0.1:PORT/hook`.
    pub fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// The same endpoint named `localhost` (resolved when a delivery connects).
    pub fn url_by_name(&self) -> String {
        format!("http://localhost:{}/hook", self.addr.port())
    }

    /// Answers these, in turn, to the next requests.
    pub fn then(&self, answers: impl IntoIterator<Item = Answer>) {
        lock(&self.script).extend(answers);
    }

    /// Answers this once the scripted answers are used up.
    pub fn otherwise(&self, answer: Answer) {
        *lock(&self.otherwise) = answer;
    }

    /// The requests received so far, in order.
    pub fn received(&self) -> Vec<Received> {
        lock(&self.received).clone()
    }

    /// Connections accepted so far (a request or not).
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// Bytes of endless bodies written before the client hung up.
    pub fn streamed(&self) -> usize {
        self.streamed.load(Ordering::SeqCst)
    }

    fn exchange(&self, stream: TcpStream) -> std::io::Result<()> {
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
        lock(&self.received).push(Received {
            method,
            path,
            headers,
            body,
        });
        let answer = lock(&self.script)
            .pop_front()
            .unwrap_or_else(|| lock(&self.otherwise).clone());
        let head = |status: u16, extra: &str| {
            format!("HTTP/1.1 {status} Status\r\n{extra}Connection: close\r\n\r\n")
        };
        match answer {
            Answer::Status(status) => {
                out.write_all(head(status, "Content-Length: 0\r\n").as_bytes())
            }
            Answer::RetryAfter(status, secs) => out.write_all(
                head(
                    status,
                    &format!("Retry-After: {secs}\r\nContent-Length: 0\r\n"),
                )
                .as_bytes(),
            ),
            Answer::Redirect(status, to) => out.write_all(
                head(status, &format!("Location: {to}\r\nContent-Length: 0\r\n")).as_bytes(),
            ),
            Answer::Silence => {
                thread::sleep(Duration::from_secs(30));
                Ok(())
            }
            Answer::EndlessBody => {
                out.write_all(head(200, "Content-Type: text/plain\r\n").as_bytes())?;
                let chunk = vec![b'x'; 16 * 1024];
                // Until the client hangs up.
                loop {
                    out.write_all(&chunk)?;
                    self.streamed.fetch_add(chunk.len(), Ordering::SeqCst);
                }
            }
        }
    }
}

impl TestApp {
    /// One round of the webhook worker, as every node runs it, with the
    /// server's own client and clock.
    pub async fn webhook_round(&self) -> salus::webhooks::RoundReport {
        salus::webhooks::webhook_round(&self.services(), &self.webhook_client())
            .await
            .expect("the webhook round succeeded")
    }
}
