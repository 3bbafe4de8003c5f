//! The reference web client (`web/`), compiled into the binary and served at `/`, so that
//! `cargo run` gives a working client with nothing else installed. In AWS the front door serves
//! the same files from S3 (`scripts/publish-web-client`) with the same headers
//! (`template.yaml`'s `WebClientHeaders`, checked against [`CSP`] by `tests/template.rs`).
//!
//! Each file is served gzipped to clients that accept it (compressed once, at first use) and
//! with a strong `ETag`, so a reload revalidates with `If-None-Match` and gets `304` with no
//! body instead of the whole file again.

use std::io::Write;
use std::sync::LazyLock;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Only our own script, style and API (and the WebSocket on the same host); no framing; and no
/// `Referer`, which would carry a mailed token out of `/reset-password?token=…` or
/// `/verify-email?token=…`.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
                   img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// One file of the client in both its encodings, with their validators.
struct Asset {
    content_type: &'static str,
    plain: &'static str,
    gzip: Vec<u8>,
    /// The identity representation's `ETag`; the gzip one adds `-gz` inside the quotes.
    tag: String,
}

impl Asset {
    fn new(plain: &'static str, content_type: &'static str) -> Self {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        // Writing to a Vec cannot fail.
        let gzip = encoder.write_all(plain.as_bytes()).and_then(|()| encoder.finish()).unwrap_or_default();
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, plain.as_bytes());
        Self { content_type, plain, gzip, tag: hex::encode(&digest.as_ref()[..12]) }
    }

    /// The response for a request with these headers: `304` when the client holds the
    /// representation it would get, else the file, gzipped if the client accepts it.
    fn serve(&self, request: &HeaderMap) -> Response {
        let gzip = !self.gzip.is_empty() && accepts_gzip(request);
        let etag = if gzip { format!("\"{}-gz\"", self.tag) } else { format!("\"{}\"", self.tag) };
        let fresh = request
            .get_all(header::IF_NONE_MATCH)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|candidate| candidate.trim().trim_start_matches("W/"))
            .any(|candidate| candidate == etag || candidate == "*");
        let mut response = if fresh {
            StatusCode::NOT_MODIFIED.into_response()
        } else if gzip {
            self.gzip.clone().into_response()
        } else {
            self.plain.into_response()
        };
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(self.content_type));
        if gzip && !fresh {
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        if let Ok(value) = HeaderValue::from_str(&etag) {
            headers.insert(header::ETAG, value);
        }
        headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
        headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
        headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        // Revalidated on each load (cheaply, by its ETag), so a rebuilt gateway never serves a
        // stale script.
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        response
    }
}

/// Whether `Accept-Encoding` admits gzip (present, and not with `q=0`).
fn accepts_gzip(request: &HeaderMap) -> bool {
    request
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let refused = parts.any(|p| p.replace(' ', "").eq_ignore_ascii_case("q=0"));
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

static INDEX: LazyLock<Asset> =
    LazyLock::new(|| Asset::new(include_str!("../web/index.html"), "text/html; charset=utf-8"));
static SCRIPT: LazyLock<Asset> =
    LazyLock::new(|| Asset::new(include_str!("../web/app.js"), "text/javascript; charset=utf-8"));
static STYLE: LazyLock<Asset> =
    LazyLock::new(|| Asset::new(include_str!("../web/app.css"), "text/css; charset=utf-8"));

/// `GET /`, `GET /reset-password` and `GET /verify-email` (the page reads the path and the token
/// itself).
pub async fn index(headers: HeaderMap) -> Response {
    INDEX.serve(&headers)
}

/// `GET /app.js`.
pub async fn script(headers: HeaderMap) -> Response {
    SCRIPT.serve(&headers)
}

/// `GET /app.css`.
pub async fn style(headers: HeaderMap) -> Response {
    STYLE.serve(&headers)
}
