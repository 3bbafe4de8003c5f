//! Allowances counted before the work they guard: each is one atomic conditional increment in
//! the rate-limit store ([`RateLimits::acquire`]), never a read followed by a write.

use std::sync::Arc;

use aws_lc_rs::digest;
use chrono::{DateTime, Duration, Utc};

use crate::domain::Email;
use crate::ports::{Acquired, Counter, RateLimits, StoreResult};

/// How many units a window allows, and how long a window lasts from its first unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowance {
    /// Units per window.
    pub limit: u32,
    /// Window length.
    pub window: Duration,
}

impl Allowance {
    /// `limit` per `window`.
    pub const fn new(limit: u32, window: Duration) -> Self {
        Self { limit, window }
    }
}

/// An allowance that is used up; retry after this many seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refused {
    /// Seconds until the window ends (at least 1).
    pub retry_after: u64,
}

/// Seconds from `now` until `until`, at least 1.
pub fn seconds_until(until: DateTime<Utc>, now: DateTime<Utc>) -> u64 {
    u64::try_from((until - now).num_seconds()).unwrap_or(0).max(1)
}

/// The counter key for `subject` in the family `family`: the subject is hashed, so the table
/// holds no addresses, emails or ids.
pub fn counter_key(family: &str, subject: &str) -> String {
    let d = digest::digest(&digest::SHA256, subject.as_bytes());
    format!("{family}#{}", hex::encode(&d.as_ref()[..16]))
}

/// Takes one unit of `allowance` for `subject` in `family`.
pub async fn take(
    store: &dyn RateLimits,
    family: &str,
    subject: &str,
    allowance: Allowance,
    now: DateTime<Utc>,
) -> StoreResult<Result<Counter, Refused>> {
    let key = counter_key(family, subject);
    Ok(match store.acquire(&key, allowance.limit, allowance.window, now).await? {
        Acquired::Admitted(counter) => Ok(counter),
        Acquired::Refused { until } => Err(Refused { retry_after: seconds_until(until, now) }),
    })
}

/// Password attempts per account: every attempt is counted before its password is verified, so
/// of any number of concurrent guesses at most `limit` per window reach the hasher; a verified
/// attempt forgets the account's count.
#[derive(Clone)]
pub struct LoginThrottle {
    store: Arc<dyn RateLimits>,
    allowance: Allowance,
}

impl LoginThrottle {
    /// Default: 5 attempts per 15 minutes.
    pub const DEFAULT: Allowance = Allowance::new(5, Duration::minutes(15));

    /// A throttle with this allowance.
    pub fn new(store: Arc<dyn RateLimits>, allowance: Allowance) -> Self {
        Self { store, allowance }
    }

    /// Counts one password attempt for this account (one store write).
    pub async fn attempt(&self, email: &Email, now: DateTime<Utc>) -> StoreResult<Result<(), Refused>> {
        Ok(take(&*self.store, "login", email.as_str(), self.allowance, now).await?.map(|_| ()))
    }

    /// Forgets the account's attempts: after a verified password, a reset or a deletion.
    pub async fn succeed(&self, email: &Email) -> StoreResult<()> {
        self.store.clear(&counter_key("login", email.as_str())).await
    }
}
