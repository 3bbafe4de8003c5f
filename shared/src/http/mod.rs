//! HTTP helpers shared by every function: request parsing with limits, responses, CORS,
//! cookies, and the wrapper every handler runs in.

pub mod cookies;
pub mod cors;
pub mod front_door;
pub mod request;
pub mod response;
pub mod router;

use std::future::Future;
use std::time::Instant;

use http::{HeaderValue, Method, header};
use lambda_http::{Body, Request, Response};
use tracing::Instrument;

pub use cookies::CookieSettings;
pub use cors::Cors;
pub use front_door::FrontDoor;
pub use request::{Validator, json_body, request_id, source_ip, user_agent};
pub use response::{json, no_content};
pub use router::{Answer, Pending, Route, Routed, dispatch};

use crate::error::{ApiError, ProblemCode};

/// An HTTP function's handler, as `lambda_http::run` and the local gateway call it.
#[async_trait::async_trait]
pub trait HttpFunction: Send + Sync {
    /// Serves one request; every failure is already a problem+json response.
    async fn handle(&self, req: Request) -> Response<Body>;

    /// The API Gateway paths routed to the function ([`Routed::API_PATHS`]).
    fn api_paths(&self) -> &'static [&'static str];
}

/// Runs one request through `route` and finishes the response the same way for every function:
/// a request id (header and log span), CORS for allowed origins, `Cache-Control: no-store`,
/// problem+json for errors, and one log line with the outcome.
pub async fn serve<F, Fut>(req: Request, cors: &Cors, route: F) -> Response<Body>
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Result<Response<Body>, ApiError>>,
{
    let request_id = request_id(&req);
    let origin = req.headers().get(header::ORIGIN).cloned();
    let method = req.method().clone();
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        method = %method,
        path = %crate::telemetry::loggable_path(req.uri().path()),
    );
    async move {
        let started = Instant::now();
        let mut response = if method == Method::OPTIONS {
            cors.preflight(origin.as_ref())
        } else {
            route(req).await.unwrap_or_else(ApiError::into_response)
        };
        let headers = response.headers_mut();
        if let Ok(id) = HeaderValue::from_str(&request_id) {
            headers.insert("x-request-id", id);
        }
        headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
        cors.apply(origin.as_ref(), headers);
        let status = response.status().as_u16();
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        // Set by `ApiError::into_response`, whether the handler failed or returned the problem.
        let code = response.extensions().get::<ProblemCode>().map_or("", |c| c.0);
        if status >= 500 {
            tracing::error!(status, code, micros, "request done");
        } else {
            tracing::info!(status, code, micros, "request done");
        }
        response
    }
    .instrument(span)
    .await
}
