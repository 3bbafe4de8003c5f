//! WebSocket connections and the single-use tickets that open them, as stored.

use chrono::{DateTime, Utc};

use super::{SessionId, UserId};

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

/// A stored ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketRecord {
    /// Hex SHA-256 of the ticket.
    pub id: String,
    /// Who minted it.
    pub user_id: UserId,
    /// Through which session.
    pub session_id: SessionId,
    /// When it stops being redeemable (also the item's TTL).
    pub expires_at: DateTime<Utc>,
}
