//! The catch-up log: each user's durable events, numbered in order and kept for a day.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::domain::{LoggedEvent, UserId};

/// Where durable events are kept until a reconnecting client has fetched them.
#[async_trait]
pub trait EventLog: Send + Sync {
    /// Numbers `payload` with the user's next sequence number and keeps it until `expires_at`;
    /// returns the number. Numbers only grow, also across expiry.
    async fn record(&self, user: &UserId, payload: &str, expires_at: DateTime<Utc>) -> StoreResult<u64>;
    /// Up to `limit` of the user's live events with `seq > after`, in order.
    async fn after(
        &self,
        user: &UserId,
        after: u64,
        limit: u32,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<LoggedEvent>>;
    /// The user's last sequence number (0 before any event).
    async fn last_seq(&self, user: &UserId) -> StoreResult<u64>;
    /// Forgets the user's events and their numbering (account deletion).
    async fn delete_for_user(&self, user: &UserId) -> StoreResult<()>;
}
