use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, Row, params};

use super::{SqliteStore, unavailable};
use crate::clock::{epoch, from_epoch};
use crate::domain::{ConnectionRecord, SessionId, UserId};
use crate::ports::{ConnectGate, Connections, Opened, StoreResult};

fn from_row(r: &Row<'_>) -> rusqlite::Result<ConnectionRecord> {
    Ok(ConnectionRecord {
        id: r.get(0)?,
        user_id: UserId::from_trusted(r.get::<_, String>(1)?),
        session_id: SessionId::from_trusted(r.get::<_, String>(2)?),
        connected_at: from_epoch(r.get(3)?),
        expires_at: from_epoch(r.get(4)?),
    })
}

fn insert(c: &Connection, k: &ConnectionRecord) -> StoreResult<()> {
    c.execute(
        "INSERT OR REPLACE INTO connections (id, user_id, session_id, connected_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![k.id, k.user_id.as_str(), k.session_id.as_str(), epoch(k.connected_at), epoch(k.expires_at)],
    )
    .map(|_| ())
    .map_err(unavailable)
}

impl SqliteStore {
    async fn connections_where(
        &self,
        column: &'static str,
        key: String,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<ConnectionRecord>> {
        let now = epoch(now);
        self.run(move |c| {
            let mut stmt = c
                .prepare_cached(&format!(
                    "SELECT id, user_id, session_id, connected_at, expires_at FROM connections
                     WHERE {column} = ?1 AND expires_at > ?2 ORDER BY connected_at, id"
                ))
                .map_err(unavailable)?;
            let rows = stmt.query_map(params![key, now], from_row).map_err(unavailable)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(unavailable)
        })
        .await
    }
}

#[async_trait]
impl Connections for SqliteStore {
    async fn open(
        &self,
        connection: &ConnectionRecord,
        gate: &ConnectGate,
        now: DateTime<Utc>,
    ) -> StoreResult<Opened> {
        let (k, gate, now) = (connection.clone(), gate.clone(), epoch(now));
        self.run(move |c| {
            // One transaction (writes are serialized): an early return rolls everything back.
            let tx = c.transaction().map_err(unavailable)?;
            if let Some(ticket) = &gate.ticket {
                let spent = tx
                    .execute("DELETE FROM ws_tickets WHERE id = ?1 AND expires_at > ?2", params![ticket, now])
                    .map_err(unavailable)?;
                if spent == 0 {
                    return Ok(Opened::TicketRefused);
                }
            }
            if let Some(quota) = &gate.quota
                && !super::ws_tickets::count_quota(&tx, quota)?
            {
                return Ok(Opened::OverQuota);
            }
            let live: i64 = tx
                .query_row(
                    "SELECT COUNT(*) FROM connections WHERE user_id = ?1 AND expires_at > ?2 AND id != ?3",
                    params![k.user_id.as_str(), now, k.id],
                    |r| r.get(0),
                )
                .map_err(unavailable)?;
            if live >= i64::from(gate.max_per_user) {
                return Ok(Opened::TooManyConnections);
            }
            insert(&tx, &k)?;
            tx.commit().map_err(unavailable)?;
            Ok(Opened::Stored)
        })
        .await
    }

    async fn delete(&self, id: &str) -> StoreResult<()> {
        let id = id.to_owned();
        self.run(move |c| {
            c.execute("DELETE FROM connections WHERE id = ?1", [id]).map(|_| ()).map_err(unavailable)
        })
        .await
    }

    async fn for_user(&self, user: &UserId, now: DateTime<Utc>) -> StoreResult<Vec<ConnectionRecord>> {
        self.connections_where("user_id", user.as_str().to_owned(), now).await
    }

    async fn for_session(
        &self,
        session: &SessionId,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<ConnectionRecord>> {
        self.connections_where("session_id", session.as_str().to_owned(), now).await
    }
}
