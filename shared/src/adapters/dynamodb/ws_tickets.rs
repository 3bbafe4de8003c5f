//! WS tickets table: `pk = <ticket hash>`, `user_id`, `session_id`, `expires_at` (TTL). The
//! per-user minting counter lives in the rate-limits table and is written in the same
//! transaction as the ticket (or, for a bearer connect, as the connection).

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem, Update};
use chrono::{DateTime, Utc};

use super::item::{Item, get_n, get_s, n, s};
use super::{DynamoStore, build_err, first_condition_failed, unavailable};
use crate::clock::{epoch, from_epoch};
use crate::domain::{SessionId, TicketRecord, UserId};
use crate::ports::{Admission, Quota, StoreResult, WsTickets};

/// Index of a user's tickets (account deletion).
pub(crate) const BY_USER: &str = "by_user";

fn from_item(item: &Item) -> StoreResult<TicketRecord> {
    Ok(TicketRecord {
        id: get_s(item, "pk")?,
        user_id: UserId::from_trusted(get_s(item, "user_id")?),
        session_id: SessionId::from_trusted(get_s(item, "session_id")?),
        expires_at: from_epoch(get_n(item, "expires_at")?),
    })
}

impl DynamoStore {
    /// Counts one against `quota` as a transaction item whose condition fails when it is used
    /// up (the key names the window, so a new window is a new counter).
    pub(super) fn quota_update(&self, quota: &Quota) -> StoreResult<Update> {
        Update::builder()
            .table_name(&self.tables.rate_limits)
            .key("pk", s(&quota.key))
            .update_expression("SET expires_at = :end ADD #c :one")
            .condition_expression("attribute_not_exists(pk) OR #c < :limit")
            .expression_attribute_names("#c", "count")
            .expression_attribute_values(":end", n(epoch(quota.window_end)))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":limit", n(i64::from(quota.limit)))
            .build()
            .map_err(build_err)
    }
}

#[async_trait]
impl WsTickets for DynamoStore {
    async fn create(&self, ticket: &TicketRecord, quota: &Quota) -> StoreResult<Admission> {
        let count = self.quota_update(quota)?;
        let put = Put::builder()
            .table_name(&self.tables.ws_tickets)
            .item("pk", s(&ticket.id))
            .item("user_id", s(ticket.user_id.as_str()))
            .item("session_id", s(ticket.session_id.as_str()))
            .item("expires_at", n(epoch(ticket.expires_at)))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(build_err)?;
        let result = self
            .transaction()
            .transact_items(TransactWriteItem::builder().update(count).build())
            .transact_items(TransactWriteItem::builder().put(put).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(Admission::Admitted),
            // Only the counter's condition (the first item) means "over quota".
            Err(e) if first_condition_failed(&e) => Ok(Admission::OverQuota),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn peek(&self, id: &str, now: DateTime<Utc>) -> StoreResult<Option<TicketRecord>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.ws_tickets)
            .key("pk", s(id))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        let Some(item) = out.item else { return Ok(None) };
        let ticket = from_item(&item)?;
        Ok((ticket.expires_at > now).then_some(ticket))
    }

    async fn delete_for_user(&self, user: &UserId) -> StoreResult<()> {
        let table = &self.tables.ws_tickets;
        for item in self.query_index(table, BY_USER, "user_id", user.as_str()).await? {
            self.delete_key(table, Item::from([("pk".to_owned(), s(get_s(&item, "pk")?))])).await?;
        }
        Ok(())
    }
}
