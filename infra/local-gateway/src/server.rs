//! The accept loop, with the limits a public front door has: a client that is slow to send its
//! headers is dropped after the read timeout (hyper's header timer), request lines longer than
//! [`MAX_PATH`] are answered 414 before routing, and the peer address reaches the handlers as
//! axum's `ConnectInfo`. Bodies are limited and timed where they are read (`dispatch`).

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::response::Response;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use shared::error::ApiError;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinSet;
use tower_service::Service;

use crate::problem;

/// Longest request path answered (API Gateway's own limits are of this order).
pub const MAX_PATH: usize = 2048;

/// How long in-flight requests may take to finish after a shutdown was asked for.
const DRAIN: Duration = Duration::from_secs(10);

/// Serves `app` on `listener` until `shutdown` fires, then lets in-flight requests finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    read_timeout: Duration,
    shutdown: oneshot::Receiver<()>,
) -> std::io::Result<()> {
    let (stop, stopping) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        while connections.try_join_next().is_some() {}
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors and the like: keep serving the connections we have.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut req: http::Request<Incoming>| {
            let mut app = app.clone();
            async move {
                if req.uri().path().len() > MAX_PATH {
                    tracing::info!(
                        path = %shared::telemetry::loggable_path(req.uri().path()),
                        "request path too long"
                    );
                    return Ok::<Response, Infallible>(problem(ApiError::UriTooLong));
                }
                req.extensions_mut().insert(ConnectInfo(peer));
                app.call(req.map(Body::new)).await
            }
        });
        let mut builder = http1::Builder::new();
        builder.timer(TokioTimer::new()).header_read_timeout(read_timeout);
        let connection = builder.serve_connection(TokioIo::new(stream), service).with_upgrades();
        let mut stopping = stopping.clone();
        connections.spawn(async move {
            tokio::pin!(connection);
            let ended = tokio::select! {
                ended = connection.as_mut() => ended,
                _ = stopping.changed() => {
                    // Finish the request in flight, take no new one on this connection.
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(e) = ended {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    let _ = stop.send(true);
    let drained = tokio::time::timeout(DRAIN, async { while connections.join_next().await.is_some() {} });
    if drained.await.is_err() {
        tracing::warn!("connections still open after the drain period; closing them");
    }
    Ok(())
}
