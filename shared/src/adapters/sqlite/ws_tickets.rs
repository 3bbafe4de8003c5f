use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use super::{SqliteStore, conflict_or_unavailable, unavailable};
use crate::clock::{epoch, from_epoch};
use crate::domain::{SessionId, TicketRecord, UserId};
use crate::ports::{Admission, Quota, StoreResult, WsTickets};

/// Counts one against `quota` inside the caller's transaction; false (nothing counted) when it
/// is used up: the upsert's WHERE leaves a full counter untouched and returns no row.
pub(super) fn count_quota(c: &Connection, quota: &Quota) -> StoreResult<bool> {
    let counted: Option<i64> = c
        .query_row(
            "INSERT INTO rate_limits (key, count, expires_at) VALUES (?1, 1, ?2)
             ON CONFLICT(key) DO UPDATE SET count = count + 1 WHERE count < ?3
             RETURNING count",
            params![quota.key, epoch(quota.window_end), quota.limit],
            |r| r.get(0),
        )
        .optional()
        .map_err(unavailable)?;
    Ok(counted.is_some())
}

#[async_trait]
impl WsTickets for SqliteStore {
    async fn create(&self, ticket: &TicketRecord, quota: &Quota) -> StoreResult<Admission> {
        let (t, q) = (ticket.clone(), quota.clone());
        self.run(move |c| {
            let tx = c.transaction().map_err(unavailable)?;
            if !count_quota(&tx, &q)? {
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

    async fn delete_for_user(&self, user: &UserId) -> StoreResult<()> {
        let user = user.as_str().to_owned();
        self.run(move |c| {
            c.execute("DELETE FROM ws_tickets WHERE user_id = ?1", [&user]).map(|_| ()).map_err(unavailable)
        })
        .await
    }
}
