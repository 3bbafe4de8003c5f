use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::{SqliteStore, unavailable};
use crate::clock::{epoch, from_epoch};
use crate::domain::{LoggedEvent, UserId};
use crate::ports::{EventLog, StoreResult};

#[async_trait]
impl EventLog for SqliteStore {
    async fn record(&self, user: &UserId, payload: &str, expires_at: DateTime<Utc>) -> StoreResult<u64> {
        let (user, payload, expires_at) = (user.as_str().to_owned(), payload.to_owned(), epoch(expires_at));
        self.run(move |c| {
            let tx = c.transaction().map_err(unavailable)?;
            let seq: i64 = tx
                .query_row(
                    "INSERT INTO event_counters (user_id, seq) VALUES (?1, 1)
                     ON CONFLICT(user_id) DO UPDATE SET seq = seq + 1
                     RETURNING seq",
                    [&user],
                    |r| r.get(0),
                )
                .map_err(unavailable)?;
            tx.execute(
                "INSERT INTO events (user_id, seq, payload, expires_at) VALUES (?1, ?2, ?3, ?4)",
                params![user, seq, payload, expires_at],
            )
            .map_err(unavailable)?;
            tx.commit().map_err(unavailable)?;
            Ok(seq as u64)
        })
        .await
    }

    async fn after(
        &self,
        user: &UserId,
        after: u64,
        limit: u32,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<LoggedEvent>> {
        let (user, now) = (user.as_str().to_owned(), epoch(now));
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        self.run(move |c| {
            let mut stmt = c
                .prepare_cached(
                    "SELECT seq, payload, expires_at FROM events
                     WHERE user_id = ?1 AND seq > ?2 AND expires_at > ?3 ORDER BY seq LIMIT ?4",
                )
                .map_err(unavailable)?;
            let rows = stmt
                .query_map(params![user, after, now, limit], |r| {
                    Ok(LoggedEvent {
                        user_id: UserId::from_trusted(user.clone()),
                        seq: r.get::<_, i64>(0)? as u64,
                        payload: r.get(1)?,
                        expires_at: from_epoch(r.get(2)?),
                    })
                })
                .map_err(unavailable)?;
            rows.map(|r| r.map_err(unavailable)).collect()
        })
        .await
    }

    async fn last_seq(&self, user: &UserId) -> StoreResult<u64> {
        let user = user.as_str().to_owned();
        self.run(move |c| {
            let seq: Option<i64> = c
                .query_row("SELECT seq FROM event_counters WHERE user_id = ?1", [&user], |r| r.get(0))
                .optional()
                .map_err(unavailable)?;
            Ok(seq.unwrap_or(0) as u64)
        })
        .await
    }

    async fn delete_for_user(&self, user: &UserId) -> StoreResult<()> {
        let user = user.as_str().to_owned();
        self.run(move |c| {
            let tx = c.transaction().map_err(unavailable)?;
            tx.execute("DELETE FROM events WHERE user_id = ?1", [&user]).map_err(unavailable)?;
            tx.execute("DELETE FROM event_counters WHERE user_id = ?1", [&user]).map_err(unavailable)?;
            tx.commit().map_err(unavailable)
        })
        .await
    }
}
