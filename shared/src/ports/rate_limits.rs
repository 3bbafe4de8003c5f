//! Fixed-window allowances with TTL (login attempts, per-address and per-user limits).
//!
//! There is no "read the counter" method on purpose: a limit is only ever taken with one atomic
//! conditional increment before the work it guards, never checked and then acted on.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

use super::StoreResult;

/// A live counter: units counted so far and when its window ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counter {
    /// Units counted in the current window, this one included.
    pub count: u32,
    /// End of the window (the item's TTL).
    pub expires_at: DateTime<Utc>,
}

/// The outcome of [`RateLimits::acquire`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acquired {
    /// Counted: the caller may do the work.
    Admitted(Counter),
    /// The window's allowance is used up; nothing was counted.
    Refused {
        /// When the window ends.
        until: DateTime<Utc>,
    },
}

/// Where counters live. A window starts at the first unit after the previous one ended and
/// lasts `window`.
#[async_trait]
pub trait RateLimits: Send + Sync {
    /// Counts one unit under `key` if fewer than `limit` were counted in its live window: one
    /// atomic conditional increment, so of any number of concurrent callers at most `limit` are
    /// admitted per window.
    async fn acquire(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
        now: DateTime<Utc>,
    ) -> StoreResult<Acquired>;
    /// Forgets the counter.
    async fn clear(&self, key: &str) -> StoreResult<()>;
}
