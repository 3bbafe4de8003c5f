//! Login throttling per account: N failures within a window lock the account's logins until the
//! window ends.

use std::sync::Arc;

use aws_lc_rs::digest;
use chrono::{DateTime, Duration, Utc};

use crate::domain::Email;
use crate::ports::{Counter, RateLimits, StoreResult};

/// Failures allowed and the window they are counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures that lock further attempts.
    pub max_failures: u32,
    /// How long a window lasts from its first failure.
    pub window: Duration,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self { max_failures: 5, window: Duration::minutes(15) }
    }
}

/// Login throttle over the rate-limit store.
#[derive(Clone)]
pub struct LoginThrottle {
    store: Arc<dyn RateLimits>,
    policy: ThrottlePolicy,
}

/// What the throttle says before a login attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Go ahead; `failures` so far in the window.
    Open {
        /// Failures counted so far.
        failures: u32,
    },
    /// Refuse; retry after this many seconds.
    Locked {
        /// Seconds until the window ends.
        retry_after: u64,
    },
}

/// Seconds from `now` until `until`, at least 1.
pub fn seconds_until(until: DateTime<Utc>, now: DateTime<Utc>) -> u64 {
    u64::try_from((until - now).num_seconds()).unwrap_or(0).max(1)
}

impl LoginThrottle {
    /// A throttle with this policy.
    pub fn new(store: Arc<dyn RateLimits>, policy: ThrottlePolicy) -> Self {
        Self { store, policy }
    }

    // The key hashes the email so the counter table holds no addresses.
    fn key(email: &Email) -> String {
        let d = digest::digest(&digest::SHA256, email.as_str().as_bytes());
        format!("login#{}", hex::encode(&d.as_ref()[..16]))
    }

    /// Checks before verifying a password (one store read).
    pub async fn check(&self, email: &Email, now: DateTime<Utc>) -> StoreResult<Gate> {
        Ok(match self.store.current(&Self::key(email), now).await? {
            Some(Counter { count, expires_at }) if count >= self.policy.max_failures => {
                Gate::Locked { retry_after: seconds_until(expires_at, now) }
            }
            Some(Counter { count, .. }) => Gate::Open { failures: count },
            None => Gate::Open { failures: 0 },
        })
    }

    /// Records a failed attempt.
    pub async fn fail(&self, email: &Email, now: DateTime<Utc>) -> StoreResult<()> {
        self.store.hit(&Self::key(email), self.policy.window, now).await.map(|_| ())
    }

    /// Forgets failures after a successful login.
    pub async fn succeed(&self, email: &Email) -> StoreResult<()> {
        self.store.clear(&Self::key(email)).await
    }
}
