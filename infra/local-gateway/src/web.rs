//! The reference web client (`web/`), compiled into the binary and served at `/`, so that
//! `cargo run` gives a working client with nothing else installed. In AWS the front door serves
//! the same files from S3 (`scripts/publish-web-client`) with the same headers
//! (`template.yaml`'s `WebClientHeaders`, checked against [`CSP`] by `tests/template.rs`).

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

const INDEX: &str = include_str!("../web/index.html");
const SCRIPT: &str = include_str!("../web/app.js");
const STYLE: &str = include_str!("../web/app.css");

/// Only our own script, style and API (and the WebSocket on the same host); no framing; and no
/// `Referer`, which would carry a mailed token out of `/reset-password?token=…` or
/// `/verify-email?token=…`.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                   img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// A static file with the headers every page of the client gets.
fn file(body: &'static str, content_type: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // Revalidated on each load, so a rebuilt gateway never serves a stale script.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// `GET /`, `GET /reset-password` and `GET /verify-email` (the page reads the path and the token
/// itself).
pub async fn index() -> Response {
    file(INDEX, "text/html; charset=utf-8")
}

/// `GET /app.js`.
pub async fn script() -> Response {
    file(SCRIPT, "text/javascript; charset=utf-8")
}

/// `GET /app.css`.
pub async fn style() -> Response {
    file(STYLE, "text/css; charset=utf-8")
}
