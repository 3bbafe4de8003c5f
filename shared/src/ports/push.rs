//! Pushing frames to WebSocket clients and closing their sockets.

use async_trait::async_trait;

/// Why a push failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PushError {
    /// The connection no longer exists (API Gateway's 410 `GoneException`).
    #[error("connection gone")]
    Gone,
    /// Anything else; pushes are best effort, so this is logged, never surfaced.
    #[error("push failed: {0}")]
    Failed(String),
}

/// The API Gateway Management API, or the local gateway's own sockets.
#[async_trait]
pub trait Push: Send + Sync {
    /// Sends one text frame.
    async fn send(&self, connection_id: &str, payload: &str) -> Result<(), PushError>;
    /// Closes the socket.
    async fn close(&self, connection_id: &str) -> Result<(), PushError>;
}
