//! Connections table: `pk = <connection id>`, `user_id`, `session_id`, `connected_at`,
//! `expires_at` (TTL); global indexes `by_user` and `by_session` (eventually consistent).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::item::{Item, get_n, get_s, n, s};
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem};

use super::{DynamoStore, build_err, first_condition_failed, unavailable};
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

fn to_item(c: &ConnectionRecord) -> Item {
    Item::from([
        ("pk".to_owned(), s(&c.id)),
        ("user_id".to_owned(), s(c.user_id.as_str())),
        ("session_id".to_owned(), s(c.session_id.as_str())),
        ("connected_at".to_owned(), n(epoch(c.connected_at))),
        ("expires_at".to_owned(), n(epoch(c.expires_at))),
    ])
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
            .set_item(Some(to_item(c)))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn put_redeeming(
        &self,
        c: &ConnectionRecord,
        ticket_id: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let spend = Delete::builder()
            .table_name(&self.tables.ws_tickets)
            .key("pk", s(ticket_id))
            .condition_expression("attribute_exists(pk) AND expires_at > :now")
            .expression_attribute_values(":now", n(epoch(now)))
            .build()
            .map_err(build_err)?;
        let put = Put::builder()
            .table_name(&self.tables.connections)
            .set_item(Some(to_item(c)))
            .build()
            .map_err(build_err)?;
        let result = self
            .transaction()
            .transact_items(TransactWriteItem::builder().delete(spend).build())
            .transact_items(TransactWriteItem::builder().put(put).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            // The ticket's condition (the first item): spent, expired or never minted.
            Err(e) if first_condition_failed(&e) => Ok(false),
            Err(e) => Err(unavailable(e)),
        }
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
