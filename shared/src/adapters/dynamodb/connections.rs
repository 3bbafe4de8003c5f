//! Connections table: `pk = <connection id>`, `user_id`, `session_id`, `connected_at`,
//! `expires_at` (TTL), `slot`; indexes `by_user` and `by_session`.
//!
//! A user's connections are capped with numbered slot items in the rate-limits table
//! (`ws-slot#<user hash>#<n>`, each naming the connection that holds it and expiring with it):
//! a connect reads the user's slots in one consistent batch, then claims a free one in the same
//! transaction that stores the connection, conditional on it still being free. So a cap holds
//! under any concurrency, and a slot whose `$disconnect` never came frees itself when its
//! connection's two hours are over.

use std::collections::HashSet;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Delete, KeysAndAttributes, Put, ReturnValue, TransactWriteItem};
use chrono::{DateTime, Utc};

use super::item::{Item, get_n, get_opt_s, get_s, n, s};
use super::{DynamoStore, build_err, failed_condition, unavailable};
use crate::auth::limits::counter_key;
use crate::clock::{epoch, from_epoch};
use crate::domain::{ConnectionRecord, SessionId, UserId};
use crate::ports::{ConnectGate, Connections, Opened, StoreError, StoreResult};

/// Index on `user_id`.
pub(crate) const BY_USER: &str = "by_user";
/// Index on `session_id`.
pub(crate) const BY_SESSION: &str = "by_session";

/// Claims of a free slot that may lose a race before the connect gives up (only reached when
/// many connects of one user race for its last free slots).
const SLOT_ATTEMPTS: usize = 8;

fn from_item(item: &Item) -> StoreResult<ConnectionRecord> {
    Ok(ConnectionRecord {
        id: get_s(item, "pk")?,
        user_id: UserId::from_trusted(get_s(item, "user_id")?),
        session_id: SessionId::from_trusted(get_s(item, "session_id")?),
        connected_at: from_epoch(get_n(item, "connected_at")?),
        expires_at: from_epoch(get_n(item, "expires_at")?),
    })
}

fn to_item(c: &ConnectionRecord, slot: &str) -> Item {
    Item::from([
        ("pk".to_owned(), s(&c.id)),
        ("user_id".to_owned(), s(c.user_id.as_str())),
        ("session_id".to_owned(), s(c.session_id.as_str())),
        ("connected_at".to_owned(), n(epoch(c.connected_at))),
        ("expires_at".to_owned(), n(epoch(c.expires_at))),
        ("slot".to_owned(), s(slot)),
    ])
}

/// The key of a user's slot `n`: the user id is hashed, as in every counter key.
fn slot_key(user: &UserId, n: u32) -> String {
    format!("{}#{n}", counter_key("ws-slot", user.as_str()))
}

/// What a transaction item guards, to tell which condition cancelled it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Guard {
    Ticket,
    Quota,
    Slot,
    None,
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

    /// The slot `connection` already holds (stored again under the same id), else one of the
    /// user's free slots, picked at random so concurrent connects rarely pick the same (one
    /// consistent batch read); `None` when all `max` are held by other live connections.
    async fn free_slot(
        &self,
        user: &UserId,
        connection: &str,
        max: u32,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<String>> {
        let keys: Vec<String> = (0..max.min(100)).map(|n| slot_key(user, n)).collect();
        let mut request = KeysAndAttributes::builder().consistent_read(true);
        for key in &keys {
            request = request.keys(Item::from([("pk".to_owned(), s(key))]));
        }
        let mut pending = Some(request.build().map_err(build_err)?);
        let mut held = HashSet::new();
        // A batch may come back partly unprocessed (throttling): read the rest again.
        for _ in 0..5 {
            let Some(request) = pending.take() else { break };
            let out = self
                .client
                .batch_get_item()
                .request_items(&self.tables.rate_limits, request)
                .send()
                .await
                .map_err(unavailable)?;
            for item in out.responses.unwrap_or_default().remove(&self.tables.rate_limits).unwrap_or_default()
            {
                if get_opt_s(&item, "connection_id").as_deref() == Some(connection) {
                    return Ok(Some(get_s(&item, "pk")?));
                }
                if get_n(&item, "expires_at").is_ok_and(|t| t > epoch(now)) {
                    held.insert(get_s(&item, "pk")?);
                }
            }
            pending = out
                .unprocessed_keys
                .and_then(|mut left| left.remove(&self.tables.rate_limits))
                .filter(|left| !left.keys().is_empty());
        }
        if pending.is_some() {
            return Err(StoreError::Unavailable(
                "reading connection slots: too many unprocessed keys".into(),
            ));
        }
        let free: Vec<String> = keys.into_iter().filter(|k| !held.contains(k)).collect();
        let pick = usize::from(uuid::Uuid::new_v4().as_bytes()[0]);
        Ok((!free.is_empty()).then(|| free[pick % free.len()].clone()))
    }
}

#[async_trait]
impl Connections for DynamoStore {
    async fn open(
        &self,
        c: &ConnectionRecord,
        gate: &ConnectGate,
        now: DateTime<Utc>,
    ) -> StoreResult<Opened> {
        for _ in 0..SLOT_ATTEMPTS {
            let Some(slot) = self.free_slot(&c.user_id, &c.id, gate.max_per_user, now).await? else {
                return Ok(Opened::TooManyConnections);
            };
            let mut items = Vec::new();
            if let Some(ticket) = &gate.ticket {
                let spend = Delete::builder()
                    .table_name(&self.tables.ws_tickets)
                    .key("pk", s(ticket))
                    .condition_expression("attribute_exists(pk) AND expires_at > :now")
                    .expression_attribute_values(":now", n(epoch(now)))
                    .build()
                    .map_err(build_err)?;
                items.push((Guard::Ticket, TransactWriteItem::builder().delete(spend).build()));
            }
            if let Some(quota) = &gate.quota {
                let count = self.quota_update(quota)?;
                items.push((Guard::Quota, TransactWriteItem::builder().update(count).build()));
            }
            let claim = Put::builder()
                .table_name(&self.tables.rate_limits)
                .item("pk", s(&slot))
                .item("connection_id", s(&c.id))
                .item("expires_at", n(epoch(c.expires_at)))
                .condition_expression("attribute_not_exists(pk) OR expires_at <= :now OR connection_id = :id")
                .expression_attribute_values(":now", n(epoch(now)))
                .expression_attribute_values(":id", s(&c.id))
                .build()
                .map_err(build_err)?;
            items.push((Guard::Slot, TransactWriteItem::builder().put(claim).build()));
            let put = Put::builder()
                .table_name(&self.tables.connections)
                .set_item(Some(to_item(c, &slot)))
                .build()
                .map_err(build_err)?;
            items.push((Guard::None, TransactWriteItem::builder().put(put).build()));
            let guards: Vec<Guard> = items.iter().map(|(g, _)| *g).collect();
            let result = self
                .transaction()
                .set_transact_items(Some(items.into_iter().map(|(_, i)| i).collect()))
                .send()
                .await;
            match result {
                Ok(_) => return Ok(Opened::Stored),
                Err(e) => match failed_condition(&e).and_then(|i| guards.get(i).copied()) {
                    Some(Guard::Ticket) => return Ok(Opened::TicketRefused),
                    Some(Guard::Quota) => return Ok(Opened::OverQuota),
                    // Another connect took that slot first: read the slots again.
                    Some(Guard::Slot) => {}
                    Some(Guard::None) | None => return Err(unavailable(e)),
                },
            }
        }
        Ok(Opened::TooManyConnections)
    }

    async fn delete(&self, id: &str) -> StoreResult<()> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.tables.connections)
            .key("pk", s(id))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(unavailable)?;
        let Some(slot) = out.attributes.as_ref().and_then(|old| get_opt_s(old, "slot")) else {
            return Ok(());
        };
        // Only if the slot is still this connection's (it may have expired and been taken).
        let freed = self
            .client
            .delete_item()
            .table_name(&self.tables.rate_limits)
            .key("pk", s(slot))
            .condition_expression("connection_id = :id")
            .expression_attribute_values(":id", s(id))
            .send()
            .await;
        match freed {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => {
                Ok(())
            }
            Err(e) => Err(unavailable(e)),
        }
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
