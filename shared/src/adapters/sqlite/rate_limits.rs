use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use rusqlite::{OptionalExtension, params};

use super::{SqliteStore, unavailable};
use crate::clock::{epoch, from_epoch};
use crate::ports::{Acquired, Counter, RateLimits, StoreResult};

#[async_trait]
impl RateLimits for SqliteStore {
    async fn acquire(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
        now: DateTime<Utc>,
    ) -> StoreResult<Acquired> {
        let (key, now_s, fresh_end) = (key.to_owned(), epoch(now), epoch(now + window));
        self.run(move |c| {
            let tx = c.transaction().map_err(unavailable)?;
            // One statement: an ended window restarts at 1; a live one counts on only while under
            // the limit (the upsert's WHERE leaves a full counter untouched and returns no row).
            let counted: Option<(i64, i64)> = tx
                .query_row(
                    "INSERT INTO rate_limits (key, count, expires_at) VALUES (?1, 1, ?2)
                     ON CONFLICT(key) DO UPDATE SET
                         count = CASE WHEN expires_at > ?3 THEN count + 1 ELSE 1 END,
                         expires_at = CASE WHEN expires_at > ?3 THEN expires_at ELSE ?2 END
                     WHERE expires_at <= ?3 OR count < ?4
                     RETURNING count, expires_at",
                    params![key, fresh_end, now_s, limit],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(unavailable)?;
            let acquired = match counted {
                Some((count, expires_at)) => Acquired::Admitted(Counter {
                    count: u32::try_from(count).unwrap_or(u32::MAX),
                    expires_at: from_epoch(expires_at),
                }),
                None => {
                    let until: i64 = tx
                        .query_row("SELECT expires_at FROM rate_limits WHERE key = ?1", [&key], |r| r.get(0))
                        .map_err(unavailable)?;
                    Acquired::Refused { until: from_epoch(until) }
                }
            };
            tx.commit().map_err(unavailable)?;
            Ok(acquired)
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
