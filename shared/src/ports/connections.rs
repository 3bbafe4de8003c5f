//! Open WebSocket connections, findable by id, by user and by session.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::auth::SessionId;
use crate::domain::UserId;

/// A stored connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionRecord {
    /// API Gateway connection id.
    pub id: String,
    /// Who is connected.
    pub user_id: UserId,
    /// Through which session (logout closes these).
    pub session_id: SessionId,
    /// When the socket was accepted.
    pub connected_at: DateTime<Utc>,
    /// API Gateway closes sockets after 2 hours; the record expires with it (TTL).
    pub expires_at: DateTime<Utc>,
}

/// Where connections live. Reads treat expired records as absent.
#[async_trait]
pub trait Connections: Send + Sync {
    /// Stores (or replaces) a connection.
    async fn put(&self, connection: &ConnectionRecord) -> StoreResult<()>;
    /// Spends the WebSocket ticket `ticket_id` and stores the connection, both or neither, in
    /// one write whose condition is that the ticket exists and has not expired at `now`: of
    /// concurrent callers with one ticket exactly one gets `true`; `false` stores nothing. A
    /// failure leaves the ticket unspent, so the client can retry with it.
    async fn put_redeeming(
        &self,
        connection: &ConnectionRecord,
        ticket_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Forgets a connection (idempotent).
    async fn delete(&self, id: &str) -> StoreResult<()>;
    /// Live connections of a user.
    async fn for_user(&self, user: &UserId, now: DateTime<Utc>) -> StoreResult<Vec<ConnectionRecord>>;
    /// Live connections opened through a session.
    async fn for_session(
        &self,
        session: &SessionId,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<ConnectionRecord>>;
}
