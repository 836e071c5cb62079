//! Every log line of the test process, captured through the server's own logging
//! configuration (JSON, debug level), so a test can check what reached the logs.

use std::io::Write;
use std::sync::{Mutex, OnceLock};

static CAPTURED: Mutex<Vec<u8>> = Mutex::new(Vec::new());

/// Appends to the shared buffer.
#[derive(Debug, Clone, Copy, Default)]
pub struct Capture;

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        CAPTURED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the capture as the process's subscriber (once).
pub fn install() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        salus::telemetry::init_to(
            salus::config::LogFormat::Json,
            tracing_subscriber::EnvFilter::new("debug"),
            || Capture,
        );
    });
}

/// Everything logged so far.
pub fn captured() -> String {
    String::from_utf8_lossy(
        &CAPTURED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    )
    .into_owned()
}
