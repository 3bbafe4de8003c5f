use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, params};

use super::{SqliteStore, conflict_or_unavailable, unavailable};
use crate::auth::SessionId;
use crate::clock::{epoch, from_epoch};
use crate::domain::UserId;
use crate::ports::{Admission, Quota, ResetRecord, StoreResult, TicketRecord, WsTickets};

#[async_trait]
impl WsTickets for SqliteStore {
    async fn create(&self, ticket: &TicketRecord, quota: &Quota) -> StoreResult<Admission> {
        let (t, q) = (ticket.clone(), quota.clone());
        self.run(move |c| {
            let tx = c.transaction().map_err(unavailable)?;
            // The upsert's WHERE leaves a full counter untouched and returns no row.
            let counted: Option<i64> = tx
                .query_row(
                    "INSERT INTO rate_limits (key, count, expires_at) VALUES (?1, 1, ?2)
                     ON CONFLICT(key) DO UPDATE SET count = count + 1 WHERE count < ?3
                     RETURNING count",
                    params![q.key, epoch(q.window_end), q.limit],
                    |r| r.get(0),
                )
                .optional()
                .map_err(unavailable)?;
            if counted.is_none() {
                return Ok(Admission::OverQuota);
            }
            tx.execute(
                "INSERT INTO ws_tickets (id, user_id, session_id, expires_at) VALUES (?1, ?2, ?3, ?4)",
                params![t.id, t.user_id.as_str(), t.session_id.as_str(), epoch(t.expires_at)],
            )
            .map_err(conflict_or_unavailable)?;
            tx.commit().map_err(unavailable)?;
            Ok(Admission::Admitted)
        })
        .await
    }

    async fn peek(&self, id: &str, now: DateTime<Utc>) -> StoreResult<Option<TicketRecord>> {
        let (id, now_s) = (id.to_owned(), epoch(now));
        self.run(move |c| {
            c.query_row(
                "SELECT id, user_id, session_id, expires_at FROM ws_tickets WHERE id = ?1 AND expires_at > ?2",
                params![id, now_s],
                |r| {
                    Ok(TicketRecord {
                        id: r.get(0)?,
                        user_id: UserId::from_trusted(r.get::<_, String>(1)?),
                        session_id: SessionId::from_trusted(r.get::<_, String>(2)?),
                        expires_at: from_epoch(r.get(3)?),
                    })
                },
            )
            .optional()
            .map_err(unavailable)
        })
        .await
    }

    async fn create_reset(&self, token: &ResetRecord) -> StoreResult<()> {
        let t = token.clone();
        self.run(move |c| {
            c.execute(
                "INSERT INTO reset_tokens (id, user_id, expires_at) VALUES (?1, ?2, ?3)",
                params![t.id, t.user_id.as_str(), epoch(t.expires_at)],
            )
            .map(|_| ())
            .map_err(conflict_or_unavailable)
        })
        .await
    }

    async fn redeem_reset(&self, id: &str, now: DateTime<Utc>) -> StoreResult<Option<ResetRecord>> {
        let (id, now_s) = (id.to_owned(), epoch(now));
        self.run(move |c| {
            c.query_row(
                "DELETE FROM reset_tokens WHERE id = ?1 AND expires_at > ?2 RETURNING id, user_id, expires_at",
                params![id, now_s],
                |r| {
                    Ok(ResetRecord {
                        id: r.get(0)?,
                        user_id: UserId::from_trusted(r.get::<_, String>(1)?),
                        expires_at: from_epoch(r.get(2)?),
                    })
                },
            )
            .optional()
            .map_err(unavailable)
        })
        .await
    }

    async fn delete_for_user(&self, user: &UserId) -> StoreResult<()> {
        let user = user.as_str().to_owned();
        self.run(move |c| {
            let tx = c.transaction().map_err(unavailable)?;
            tx.execute("DELETE FROM ws_tickets WHERE user_id = ?1", [&user]).map_err(unavailable)?;
            tx.execute("DELETE FROM reset_tokens WHERE user_id = ?1", [&user]).map_err(unavailable)?;
            tx.commit().map_err(unavailable)
        })
        .await
    }
}
