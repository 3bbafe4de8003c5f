//! Structured JSON logs. Every request's lines carry its request id (the span); secrets are
//! never passed to a log macro in this code base, and a test scans captured logs for them.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Installs the JSON subscriber on stdout (where Lambda collects logs). Idempotent.
pub fn init() {
    init_with(std::io::stdout);
}

/// The same on stderr, leaving stdout to a program's own output (the local gateway).
pub fn init_stderr() {
    init_with(std::io::stderr);
}

/// The same with any writer (tests capture logs this way). Level from `RUST_LOG`, default `info`.
pub fn init_with<W>(writer: W)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .with_ansi(false)
        .with_writer(writer)
        .try_init();
}
