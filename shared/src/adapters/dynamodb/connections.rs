//! Connections table: `pk = <connection id>`, `user_id`, `session_id`, `connected_at`,
//! `expires_at` (TTL); global indexes `by_user` and `by_session` (eventually consistent).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::item::{Item, get_n, get_s, n, s};
use super::{DynamoStore, unavailable};
use crate::auth::SessionId;
use crate::clock::{epoch, from_epoch};
use crate::domain::UserId;
use crate::ports::{ConnectionRecord, Connections, StoreResult};

/// Index on `user_id`.
pub const BY_USER: &str = "by_user";
/// Index on `session_id`.
pub const BY_SESSION: &str = "by_session";

fn from_item(item: &Item) -> StoreResult<ConnectionRecord> {
    Ok(ConnectionRecord {
        id: get_s(item, "pk")?,
        user_id: UserId::from_trusted(get_s(item, "user_id")?),
        session_id: SessionId::from_trusted(get_s(item, "session_id")?),
        connected_at: from_epoch(get_n(item, "connected_at")?),
        expires_at: from_epoch(get_n(item, "expires_at")?),
    })
}

impl DynamoStore {
    async fn connections_by(
        &self,
        index: &str,
        attribute: &str,
        key: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<ConnectionRecord>> {
        let items = self.query_index(&self.tables.connections, index, attribute, key).await?;
        let mut found = Vec::new();
        for item in &items {
            let record = from_item(item)?;
            if record.expires_at > now {
                found.push(record);
            }
        }
        found.sort_by(|a, b| (a.connected_at, &a.id).cmp(&(b.connected_at, &b.id)));
        Ok(found)
    }
}

#[async_trait]
impl Connections for DynamoStore {
    async fn put(&self, c: &ConnectionRecord) -> StoreResult<()> {
        self.client
            .put_item()
            .table_name(&self.tables.connections)
            .item("pk", s(&c.id))
            .item("user_id", s(c.user_id.as_str()))
            .item("session_id", s(c.session_id.as_str()))
            .item("connected_at", n(epoch(c.connected_at)))
            .item("expires_at", n(epoch(c.expires_at)))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn delete(&self, id: &str) -> StoreResult<()> {
        self.client
            .delete_item()
            .table_name(&self.tables.connections)
            .key("pk", s(id))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn for_user(&self, user: &UserId, now: DateTime<Utc>) -> StoreResult<Vec<ConnectionRecord>> {
        self.connections_by(BY_USER, "user_id", user.as_str(), now).await
    }

    async fn for_session(
        &self,
        session: &SessionId,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<ConnectionRecord>> {
        self.connections_by(BY_SESSION, "session_id", session.as_str(), now).await
    }
}
