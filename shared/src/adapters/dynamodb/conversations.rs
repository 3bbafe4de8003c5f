//! Conversations table: the conversation item (`pk = <id>`, `sk = META`) and its messages
//! (`sk = MSG#<seq, 10 digits>`) share a partition, so a page of messages is one query. The
//! sparse index `by_user` (`user_id`, `activity = <updated_at, 20 digits>#<id>`) lists a user's
//! conversations, most recent first (eventually consistent).

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};

use super::item::{Item, get_n, get_opt_s, get_s, n, s};
use super::{DynamoStore, build_err, lost_race, position, unavailable};
use crate::clock::{epoch, from_epoch};
use crate::domain::{ConversationRecord, Cursor, MessageRecord, Role, UserId};
use crate::ports::{Conversations, StoreError, StoreResult};

/// Index listing a user's conversations by activity.
pub(crate) const BY_USER: &str = "by_user";
const META: &str = "META";

fn message_key(seq: u32) -> String {
    format!("MSG#{seq:010}")
}

fn conversation_item(k: &ConversationRecord) -> Item {
    let mut item = Item::from([
        ("pk".to_owned(), s(&k.id)),
        ("sk".to_owned(), s(META)),
        ("user_id".to_owned(), s(k.user_id.as_str())),
        ("title".to_owned(), s(&k.title)),
        ("created_at".to_owned(), n(epoch(k.created_at))),
        ("updated_at".to_owned(), n(epoch(k.updated_at))),
        ("message_count".to_owned(), n(i64::from(k.message_count))),
        ("activity".to_owned(), s(position(k.updated_at, &k.id))),
    ]);
    if let Some(ticket) = &k.open_ticket {
        item.insert("open_ticket".to_owned(), s(ticket));
    }
    item
}

fn conversation(item: &Item) -> StoreResult<ConversationRecord> {
    Ok(ConversationRecord {
        id: get_s(item, "pk")?,
        user_id: UserId::from_trusted(get_s(item, "user_id")?),
        title: get_s(item, "title")?,
        created_at: from_epoch(get_n(item, "created_at")?),
        updated_at: from_epoch(get_n(item, "updated_at")?),
        message_count: u32::try_from(get_n(item, "message_count")?).unwrap_or(0),
        open_ticket: get_opt_s(item, "open_ticket"),
    })
}

fn message_item(conversation_id: &str, m: &MessageRecord) -> StoreResult<Item> {
    let sources = serde_json::to_string(&m.sources).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let mut item = Item::from([
        ("pk".to_owned(), s(conversation_id)),
        ("sk".to_owned(), s(message_key(m.seq))),
        ("id".to_owned(), s(&m.id)),
        ("seq".to_owned(), n(i64::from(m.seq))),
        ("role".to_owned(), s(m.role.as_str())),
        ("content".to_owned(), s(&m.content)),
        ("sources".to_owned(), s(sources)),
        ("suggest_escalation".to_owned(), AttributeValue::Bool(m.suggest_escalation)),
        ("created_at".to_owned(), n(epoch(m.created_at))),
    ]);
    if let Some(author) = &m.author {
        item.insert("author".to_owned(), s(author));
    }
    Ok(item)
}

fn message(item: &Item) -> StoreResult<MessageRecord> {
    let role = get_s(item, "role")?;
    let sources = get_s(item, "sources")?;
    Ok(MessageRecord {
        id: get_s(item, "id")?,
        seq: u32::try_from(get_n(item, "seq")?).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("message role {role:?}")))?,
        content: get_s(item, "content")?,
        sources: serde_json::from_str(&sources).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        suggest_escalation: item
            .get("suggest_escalation")
            .and_then(|v| v.as_bool().ok())
            .copied()
            .unwrap_or(false),
        created_at: from_epoch(get_n(item, "created_at")?),
        author: get_opt_s(item, "author"),
    })
}

impl DynamoStore {
    /// The transaction items of an append: the conversation (new, or its new count conditional
    /// on `expected_count`) and a put per message.
    pub(super) fn append_items(
        &self,
        k: &ConversationRecord,
        messages: &[MessageRecord],
        expected_count: u32,
    ) -> StoreResult<Vec<TransactWriteItem>> {
        let table = &self.tables.conversations;
        let head = if expected_count == 0 {
            let put = Put::builder()
                .table_name(table)
                .set_item(Some(conversation_item(k)))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .map_err(build_err)?;
            TransactWriteItem::builder().put(put).build()
        } else {
            let update = Update::builder()
                .table_name(table)
                .key("pk", s(&k.id))
                .key("sk", s(META))
                .update_expression("SET updated_at = :u, message_count = :c, activity = :a")
                .condition_expression("message_count = :expected")
                .expression_attribute_values(":u", n(epoch(k.updated_at)))
                .expression_attribute_values(":c", n(i64::from(k.message_count)))
                .expression_attribute_values(":a", s(position(k.updated_at, &k.id)))
                .expression_attribute_values(":expected", n(i64::from(expected_count)))
                .build()
                .map_err(build_err)?;
            TransactWriteItem::builder().update(update).build()
        };
        let mut items = vec![head];
        for m in messages {
            let put = Put::builder()
                .table_name(table)
                .set_item(Some(message_item(&k.id, m)?))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .map_err(build_err)?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        Ok(items)
    }
}

#[async_trait]
impl Conversations for DynamoStore {
    async fn get(&self, id: &str) -> StoreResult<Option<ConversationRecord>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.conversations)
            .key("pk", s(id))
            .key("sk", s(META))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        out.item.as_ref().map(conversation).transpose()
    }

    async fn append(
        &self,
        k: &ConversationRecord,
        messages: &[MessageRecord],
        expected_count: u32,
    ) -> StoreResult<()> {
        let mut request = self.transaction();
        for item in self.append_items(k, messages, expected_count)? {
            request = request.transact_items(item);
        }
        match request.send().await {
            Ok(_) => Ok(()),
            Err(e) if lost_race(&e) => Err(StoreError::Conflict),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn transcript(&self, id: &str) -> StoreResult<Option<(ConversationRecord, Vec<MessageRecord>)>> {
        // The conversation item and its messages share the partition: one query reads both
        // ("META" sorts before "MSG#").
        let mut head = None;
        let mut messages = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.tables.conversations)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s(id))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(unavailable)?;
            for item in page.items() {
                if get_s(item, "sk")? == META {
                    head = Some(conversation(item)?);
                } else {
                    messages.push(message(item)?);
                }
            }
            match page.last_evaluated_key {
                Some(next) if !next.is_empty() => start = Some(next),
                _ => break,
            }
        }
        Ok(head.map(|c| (c, messages)))
    }

    async fn delete_for_user(&self, user: &UserId) -> StoreResult<()> {
        let table = &self.tables.conversations;
        for head in self.query_index(table, BY_USER, "user_id", user.as_str()).await? {
            let id = get_s(&head, "pk")?;
            let Some((_, messages)) = self.transcript(&id).await? else { continue };
            for m in &messages {
                self.delete_key(
                    table,
                    Item::from([("pk".to_owned(), s(&id)), ("sk".to_owned(), s(message_key(m.seq)))]),
                )
                .await?;
            }
            self.delete_key(table, Item::from([("pk".to_owned(), s(&id)), ("sk".to_owned(), s(META))]))
                .await?;
        }
        Ok(())
    }

    async fn messages(&self, id: &str, after: u32, limit: u32) -> StoreResult<Vec<MessageRecord>> {
        let Some(first) = after.checked_add(1) else { return Ok(Vec::new()) };
        let out = self
            .client
            .query()
            .table_name(&self.tables.conversations)
            .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
            .expression_attribute_values(":pk", s(id))
            .expression_attribute_values(":from", s(message_key(first)))
            .expression_attribute_values(":to", s(message_key(u32::MAX)))
            .consistent_read(true)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(unavailable)?;
        out.items().iter().map(message).collect()
    }

    async fn list(
        &self,
        user: &UserId,
        before: Option<Cursor>,
        limit: u32,
    ) -> StoreResult<Vec<ConversationRecord>> {
        let items =
            self.newest_first(&self.tables.conversations, BY_USER, "activity", user, before, limit).await?;
        items.iter().map(conversation).collect()
    }
}
