//! A minimal HTTP server on `127.0.0.1:0` that serves one HTML page: the origin a
//! browser client's page comes from, other than the API server's.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::time::Duration;

const PAGE: &str = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>A Salus client page</title></head>\n<body><p>A page of a client application.</p></body></html>\n";

/// A page server; it runs until the test process ends.
pub struct PageServer {
    /// Its origin, `http://127.0.0.1:PORT`.
    pub origin: String,
}

impl PageServer {
    /// Binds and serves in a thread.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the page server");
        let origin = format!("http://{}", listener.local_addr().expect("address"));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                std::thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                    let mut out = match stream.try_clone() {
                        Ok(out) => out,
                        Err(_) => return,
                    };
                    let mut input = BufReader::new(stream);
                    let mut request_line = String::new();
                    if input.read_line(&mut request_line).is_err() {
                        return;
                    }
                    loop {
                        let mut line = String::new();
                        match input.read_line(&mut line) {
                            Ok(0) | Err(_) => break,
                            Ok(_) if line == "\r\n" || line == "\n" => break,
                            Ok(_) => {}
                        }
                    }
                    let path = request_line.split_whitespace().nth(1).unwrap_or("/");
                    let (status, body) = if path == "/" {
                        ("200 OK", PAGE)
                    } else {
                        ("404 Not Found", "")
                    };
                    let _ = write!(
                        out,
                        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                });
            }
        });
        Self { origin }
    }
}
