//! Where WebSocket tickets live: single use, short lived, stored only as the SHA-256 of the
//! ticket, minted within a per-user quota.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::domain::{TicketRecord, UserId};

/// A per-user allowance counted in fixed windows: at most `limit` in the window ending at
/// `window_end`, under the counter `key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quota {
    /// Counter key (includes the window, so a new window is a new counter).
    pub key: String,
    /// Most creations allowed in the window.
    pub limit: u32,
    /// End of the window (the counter's TTL).
    pub window_end: DateTime<Utc>,
}

/// Whether a ticket was stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Stored; the quota counted it.
    Admitted,
    /// The quota is used up; nothing was stored.
    OverQuota,
}

/// Where tickets live.
#[async_trait]
pub trait WsTickets: Send + Sync {
    /// Counts one against `quota` and stores the ticket, both or neither, in one write.
    async fn create(&self, ticket: &TicketRecord, quota: &Quota) -> StoreResult<Admission>;
    /// The ticket if it exists and has not expired at `now`, leaving it in place: it is spent
    /// only together with storing the connection ([`Connections::open`]).
    ///
    /// [`Connections::open`]: super::Connections::open
    async fn peek(&self, id: &str, now: DateTime<Utc>) -> StoreResult<Option<TicketRecord>>;
    /// Deletes every ticket of a user (account deletion).
    async fn delete_for_user(&self, user: &UserId) -> StoreResult<()>;
}
