//! Where open WebSocket connections live, findable by id, by user and by session.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{Quota, StoreResult};
use crate::domain::{ConnectionRecord, SessionId, UserId};

/// What a new connection must pass, checked in the same write that stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectGate {
    /// Spend this WebSocket ticket (its id), which must exist and not have expired.
    pub ticket: Option<String>,
    /// Count one against this allowance (bearer connects share the ticket-minting quota).
    pub quota: Option<Quota>,
    /// The user must have fewer live connections than this.
    pub max_per_user: u32,
}

/// What [`Connections::open`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opened {
    /// Stored (and the ticket spent, the quota counted).
    Stored,
    /// The ticket was spent, expired or never minted; nothing was written.
    TicketRefused,
    /// The quota is used up; nothing was written.
    OverQuota,
    /// The user already has `max_per_user` live connections; nothing was written.
    TooManyConnections,
}

/// Where connections live. Reads treat expired records as absent.
#[async_trait]
pub trait Connections: Send + Sync {
    /// Stores a connection if it passes `gate`, all or nothing: of concurrent callers with one
    /// ticket exactly one is stored, and a user never holds more than `max_per_user` live
    /// connections however many connect at once. A failure leaves the ticket unspent, so the
    /// client can retry with it.
    async fn open(
        &self,
        connection: &ConnectionRecord,
        gate: &ConnectGate,
        now: DateTime<Utc>,
    ) -> StoreResult<Opened>;
    /// Forgets a connection (idempotent), freeing its place in the user's allowance.
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
