//! Structured JSON logs. Every request's lines carry its request id (the span); secrets are
//! never passed to a log macro in this code base, and a test scans captured logs for them. The
//! business metrics ([`metrics`]) are written to the same stream.

pub mod metrics;

use std::io::Write;
use std::sync::Arc;

use tracing::level_filters::LevelFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Installs the JSON subscriber on stdout (where Lambda collects logs). Idempotent.
pub fn init() {
    init_with(std::io::stdout);
}

/// The same on stderr, leaving stdout to a program's own output (the local gateway).
pub fn init_stderr() {
    init_with(std::io::stderr);
}

/// The level from `RUST_LOG` (`error`, `warn`, `info`, `debug`, `trace`, `off`; default `info`).
/// Only a level: per-module directives would link a regex engine into every function.
fn level() -> LevelFilter {
    std::env::var("RUST_LOG").ok().and_then(|v| v.trim().parse().ok()).unwrap_or(LevelFilter::INFO)
}

/// The same with any writer (tests capture logs this way).
pub fn init_with<W>(writer: W)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let writer = Shared(Arc::new(writer));
    let installed = tracing_subscriber::fmt()
        .json()
        .with_max_level(level())
        .with_current_span(true)
        .with_span_list(false)
        .with_ansi(false)
        .with_writer(writer.clone())
        .try_init();
    if installed.is_ok() {
        // One write per line, as the log lines are, so the two never interleave within a line.
        metrics::set_sink(Box::new(move |line: &str| {
            let _ = writer.make_writer().write_all(format!("{line}\n").as_bytes());
        }));
    }
}

/// One writer for the logs and the metrics.
struct Shared<W>(Arc<W>);

impl<W> Clone for Shared<W> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<'a, W: MakeWriter<'a>> MakeWriter<'a> for Shared<W> {
    type Writer = W::Writer;
    fn make_writer(&'a self) -> Self::Writer {
        self.0.make_writer()
    }
}

/// A short stable stand-in for an identifier that should not be logged as such (a WebSocket
/// connection id is a capability on the local gateway's management API): the first 8 bytes of
/// its SHA-256, hex. Lines about one connection still correlate.
pub fn fingerprint(value: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, value.as_bytes());
    hex::encode(&digest.as_ref()[..8])
}

/// A path as logged: at most 256 characters, marked when cut.
pub fn loggable_path(path: &str) -> std::borrow::Cow<'_, str> {
    match path.char_indices().nth(256) {
        None => path.into(),
        Some((cut, _)) => format!("{}…({} bytes)", &path[..cut], path.len()).into(),
    }
}
