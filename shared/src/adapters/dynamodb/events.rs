//! Events table: `pk = <user id>`; the user's counter at `sk = SEQ` (no expiry, so numbers keep
//! growing after every event has expired) and each event at `sk = EVT#<zero-padded seq>` with
//! `payload` and `expires_at` (TTL).

use async_trait::async_trait;
use aws_sdk_dynamodb::types::ReturnValue;
use chrono::{DateTime, Utc};

use super::item::{Item, get_n, get_s, n, s};
use super::{DynamoStore, unavailable};
use crate::clock::{epoch, from_epoch};
use crate::domain::{LoggedEvent, UserId};
use crate::ports::{EventLog, StoreError, StoreResult};

const COUNTER: &str = "SEQ";

fn event_key(seq: u64) -> String {
    format!("EVT#{seq:020}")
}

fn counter_key(user: &UserId) -> Item {
    Item::from([("pk".to_owned(), s(user.as_str())), ("sk".to_owned(), s(COUNTER))])
}

fn event(user: &UserId, item: &Item) -> StoreResult<LoggedEvent> {
    Ok(LoggedEvent {
        user_id: user.clone(),
        seq: u64::try_from(get_n(item, "seq")?).map_err(|_| StoreError::Corrupt("event seq".into()))?,
        payload: get_s(item, "payload")?,
        expires_at: from_epoch(get_n(item, "expires_at")?),
    })
}

#[async_trait]
impl EventLog for DynamoStore {
    async fn record(&self, user: &UserId, payload: &str, expires_at: DateTime<Utc>) -> StoreResult<u64> {
        let table = &self.tables.events;
        let counted = self
            .client
            .update_item()
            .table_name(table)
            .set_key(Some(counter_key(user)))
            .update_expression("ADD seq :one")
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(unavailable)?;
        let seq = counted
            .attributes()
            .and_then(|a| a.get("seq"))
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or_else(|| StoreError::Corrupt("event counter".into()))?;
        // A failed put leaves a gap in the numbers, never a repeat: clients only need order.
        self.client
            .put_item()
            .table_name(table)
            .item("pk", s(user.as_str()))
            .item("sk", s(event_key(seq)))
            .item("seq", n(seq as i64))
            .item("payload", s(payload))
            .item("expires_at", n(epoch(expires_at)))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(seq)
    }

    async fn after(
        &self,
        user: &UserId,
        after: u64,
        limit: u32,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<LoggedEvent>> {
        let Some(first) = after.checked_add(1) else { return Ok(Vec::new()) };
        let mut found = Vec::new();
        let mut start = None;
        // TTL deletes late and a filter applies after the page limit: page until enough live ones.
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.tables.events)
                .key_condition_expression("pk = :u AND sk BETWEEN :from AND :to")
                .filter_expression("expires_at > :now")
                .expression_attribute_values(":u", s(user.as_str()))
                .expression_attribute_values(":from", s(event_key(first)))
                .expression_attribute_values(":to", s(event_key(u64::MAX)))
                .expression_attribute_values(":now", n(epoch(now)))
                .consistent_read(true)
                .limit(i32::try_from(limit).unwrap_or(i32::MAX).max(1))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(unavailable)?;
            for item in page.items() {
                found.push(event(user, item)?);
            }
            match page.last_evaluated_key {
                Some(next) if !next.is_empty() && found.len() < limit as usize => start = Some(next),
                _ => break,
            }
        }
        found.truncate(limit as usize);
        Ok(found)
    }

    async fn last_seq(&self, user: &UserId) -> StoreResult<u64> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.events)
            .set_key(Some(counter_key(user)))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.item().and_then(|i| get_n(i, "seq").ok()).map_or(0, |v| v.max(0) as u64))
    }

    async fn delete_for_user(&self, user: &UserId) -> StoreResult<()> {
        let table = &self.tables.events;
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(table)
                .key_condition_expression("pk = :u")
                .expression_attribute_values(":u", s(user.as_str()))
                .projection_expression("pk, sk")
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(unavailable)?;
            for key in page.items() {
                self.delete_key(table, key.clone()).await?;
            }
            match page.last_evaluated_key {
                Some(next) if !next.is_empty() => start = Some(next),
                _ => return Ok(()),
            }
        }
    }
}
