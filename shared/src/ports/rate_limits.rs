//! Fixed-window counters with TTL (login throttling, per-user rate limits).

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

use super::StoreResult;

/// A live counter: hits so far and when its window ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counter {
    /// Hits in the current window.
    pub count: u32,
    /// End of the window (the item's TTL).
    pub expires_at: DateTime<Utc>,
}

/// Where counters live. A window starts at the first hit and lasts `window`.
#[async_trait]
pub trait RateLimits: Send + Sync {
    /// The live counter for `key`, if its window has not ended.
    async fn current(&self, key: &str, now: DateTime<Utc>) -> StoreResult<Option<Counter>>;
    /// Adds one hit atomically, starting a new window if none is live; returns the new counter.
    async fn hit(&self, key: &str, window: Duration, now: DateTime<Utc>) -> StoreResult<Counter>;
    /// Forgets the counter.
    async fn clear(&self, key: &str) -> StoreResult<()>;
}
