//! Structured logging: JSON lines or pretty text, filtered by `RUST_LOG`.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Targets capped at `info` whatever `RUST_LOG` says: the SMS gateway's HTTP client
/// dumps the bytes it sends (a message body, its signature) at `trace`.
const WIRE_DUMPERS: &[&str] = &["ureq=info", "ureq_proto=info"];

/// `filter` with the wire-dumping targets capped.
fn without_wire_dumps(mut filter: EnvFilter) -> EnvFilter {
    for directive in WIRE_DUMPERS {
        if let Ok(directive) = directive.parse() {
            filter = filter.add_directive(directive);
        }
    }
    filter
}

/// Installs the global subscriber on stderr (once; later calls are ignored).
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    init_to(format, filter, std::io::stderr);
}

/// Installs the global subscriber writing to `writer` (tests capture the logs this
/// way to check that no secret reaches them).
pub fn init_to<W>(format: LogFormat, filter: EnvFilter, writer: W)
where
    W: for<'a> tracing_subscriber::fmt::MakeWriter<'a> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(without_wire_dumps(filter))
        .with_writer(writer);
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[test]
    fn trace_logging_never_includes_the_http_clients_wire_dumps() {
        let lines = Arc::new(Mutex::new(Vec::<u8>::new()));
        let sink = lines.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(without_wire_dumps(EnvFilter::new("trace")))
            .with_writer(move || WriteTo(sink.clone()))
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::trace!(target: "ureq_proto::util", "7b226964223a22 body bytes");
            tracing::debug!(target: "ureq::run", "request headers");
            tracing::info!(target: "ureq::run", "kept at info");
            tracing::trace!(target: "salus::outbox", "ours at trace");
        });
        let text = String::from_utf8(lines.lock().unwrap().clone()).unwrap();
        assert!(!text.contains("body bytes"), "{text}");
        assert!(!text.contains("request headers"), "{text}");
        assert!(text.contains("kept at info"), "{text}");
        assert!(text.contains("ours at trace"), "{text}");
    }

    struct WriteTo(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for WriteTo {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
}
