use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use rusqlite::{OptionalExtension, params};

use super::{SqliteStore, unavailable};
use crate::clock::{epoch, from_epoch};
use crate::ports::{Counter, RateLimits, StoreResult};

fn counter(count: i64, expires_at: i64) -> Counter {
    Counter { count: u32::try_from(count).unwrap_or(u32::MAX), expires_at: from_epoch(expires_at) }
}

#[async_trait]
impl RateLimits for SqliteStore {
    async fn current(&self, key: &str, now: DateTime<Utc>) -> StoreResult<Option<Counter>> {
        let (key, now_s) = (key.to_owned(), epoch(now));
        self.run(move |c| {
            c.query_row(
                "SELECT count, expires_at FROM rate_limits WHERE key = ?1 AND expires_at > ?2",
                params![key, now_s],
                |r| Ok(counter(r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(unavailable)
        })
        .await
    }

    async fn hit(&self, key: &str, window: Duration, now: DateTime<Utc>) -> StoreResult<Counter> {
        let (key, now_s, fresh_end) = (key.to_owned(), epoch(now), epoch(now + window));
        self.run(move |c| {
            // One statement: a live window counts on; an ended one restarts at 1.
            c.query_row(
                "INSERT INTO rate_limits (key, count, expires_at) VALUES (?1, 1, ?2)
                 ON CONFLICT(key) DO UPDATE SET
                     count = CASE WHEN expires_at > ?3 THEN count + 1 ELSE 1 END,
                     expires_at = CASE WHEN expires_at > ?3 THEN expires_at ELSE ?2 END
                 RETURNING count, expires_at",
                params![key, fresh_end, now_s],
                |r| Ok(counter(r.get(0)?, r.get(1)?)),
            )
            .map_err(unavailable)
        })
        .await
    }

    async fn clear(&self, key: &str) -> StoreResult<()> {
        let key = key.to_owned();
        self.run(move |c| {
            c.execute("DELETE FROM rate_limits WHERE key = ?1", [key]).map(|_| ()).map_err(unavailable)
        })
        .await
    }
}
