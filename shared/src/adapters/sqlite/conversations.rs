use async_trait::async_trait;
use rusqlite::{OptionalExtension, Row, Transaction, params};

use super::{NewestFirst, SqliteStore, conflict_or_unavailable, unavailable};
use crate::clock::{epoch, from_epoch};
use crate::domain::{ConversationRecord, Cursor, MessageRecord, Role, UserId};
use crate::ports::{Conversations, StoreError, StoreResult};

const CONVERSATION: &str = "id, user_id, title, created_at, updated_at, message_count, open_ticket";
const MESSAGE: &str = "id, seq, role, content, sources, suggest_escalation, created_at, author";

fn conversation(r: &Row<'_>) -> rusqlite::Result<ConversationRecord> {
    Ok(ConversationRecord {
        id: r.get(0)?,
        user_id: UserId::from_trusted(r.get::<_, String>(1)?),
        title: r.get(2)?,
        created_at: from_epoch(r.get(3)?),
        updated_at: from_epoch(r.get(4)?),
        message_count: r.get(5)?,
        open_ticket: r.get(6)?,
    })
}

fn message(r: &Row<'_>) -> rusqlite::Result<StoreResult<MessageRecord>> {
    let (role, sources): (String, String) = (r.get(2)?, r.get(4)?);
    let (Some(role), Ok(sources)) = (Role::parse(&role), serde_json::from_str(&sources)) else {
        return Ok(Err(StoreError::Corrupt(format!("message role {role:?} or sources {sources:?}"))));
    };
    Ok(Ok(MessageRecord {
        id: r.get(0)?,
        seq: r.get(1)?,
        role,
        content: r.get(3)?,
        sources,
        suggest_escalation: r.get(5)?,
        created_at: from_epoch(r.get(6)?),
        author: r.get(7)?,
    }))
}

/// Writes the conversation (new, or its new count if the stored one is `expected_count`) and
/// its new messages inside `tx`; a moved count is a conflict (the caller rolls back).
pub(super) fn append(
    tx: &Transaction<'_>,
    k: &ConversationRecord,
    messages: &[MessageRecord],
    expected_count: u32,
) -> StoreResult<()> {
    let written = if expected_count == 0 {
        tx.execute(
            &format!("INSERT INTO conversations ({CONVERSATION}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
            params![
                k.id,
                k.user_id.as_str(),
                k.title,
                epoch(k.created_at),
                epoch(k.updated_at),
                k.message_count,
                k.open_ticket
            ],
        )
        .map_err(conflict_or_unavailable)?
    } else {
        tx.execute(
            "UPDATE conversations SET updated_at = ?2, message_count = ?3 WHERE id = ?1 AND message_count = ?4",
            params![k.id, epoch(k.updated_at), k.message_count, expected_count],
        )
        .map_err(unavailable)?
    };
    if written != 1 {
        return Err(StoreError::Conflict);
    }
    for m in messages {
        let sources = serde_json::to_string(&m.sources).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        tx.execute(
            &format!(
                "INSERT INTO messages (conversation_id, {MESSAGE}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
            ),
            params![
                k.id,
                m.id,
                m.seq,
                m.role.as_str(),
                m.content,
                sources,
                m.suggest_escalation,
                epoch(m.created_at),
                m.author
            ],
        )
        .map_err(conflict_or_unavailable)?;
    }
    Ok(())
}

#[async_trait]
impl Conversations for SqliteStore {
    async fn get(&self, id: &str) -> StoreResult<Option<ConversationRecord>> {
        let id = id.to_owned();
        self.run(move |c| {
            c.query_row(
                &format!("SELECT {CONVERSATION} FROM conversations WHERE id = ?1"),
                [id],
                conversation,
            )
            .optional()
            .map_err(unavailable)
        })
        .await
    }

    async fn append(
        &self,
        conversation: &ConversationRecord,
        messages: &[MessageRecord],
        expected_count: u32,
    ) -> StoreResult<()> {
        let (k, messages) = (conversation.clone(), messages.to_vec());
        self.run(move |c| {
            let tx = c.transaction().map_err(unavailable)?;
            append(&tx, &k, &messages, expected_count)?;
            tx.commit().map_err(unavailable)
        })
        .await
    }

    async fn transcript(&self, id: &str) -> StoreResult<Option<(ConversationRecord, Vec<MessageRecord>)>> {
        let id = id.to_owned();
        self.run(move |c| {
            let tx = c.transaction().map_err(unavailable)?;
            let Some(conversation) = tx
                .query_row(
                    &format!("SELECT {CONVERSATION} FROM conversations WHERE id = ?1"),
                    [&id],
                    conversation,
                )
                .optional()
                .map_err(unavailable)?
            else {
                return Ok(None);
            };
            let mut stmt = tx
                .prepare_cached(&format!(
                    "SELECT {MESSAGE} FROM messages WHERE conversation_id = ?1 ORDER BY seq"
                ))
                .map_err(unavailable)?;
            let messages = stmt
                .query_map([&id], message)
                .map_err(unavailable)?
                .map(|r| r.map_err(unavailable)?)
                .collect::<StoreResult<Vec<_>>>()?;
            Ok(Some((conversation, messages)))
        })
        .await
    }

    async fn delete_for_user(&self, user: &UserId) -> StoreResult<()> {
        let user = user.as_str().to_owned();
        self.run(move |c| {
            let tx = c.transaction().map_err(unavailable)?;
            tx.execute(
                "DELETE FROM messages WHERE conversation_id IN (SELECT id FROM conversations WHERE user_id = ?1)",
                [&user],
            )
            .map_err(unavailable)?;
            tx.execute("DELETE FROM conversations WHERE user_id = ?1", [&user]).map_err(unavailable)?;
            tx.commit().map_err(unavailable)
        })
        .await
    }

    async fn messages(&self, id: &str, after: u32, limit: u32) -> StoreResult<Vec<MessageRecord>> {
        let id = id.to_owned();
        self.run(move |c| {
            let mut stmt = c
                .prepare_cached(&format!(
                    "SELECT {MESSAGE} FROM messages WHERE conversation_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3"
                ))
                .map_err(unavailable)?;
            let rows = stmt.query_map(params![id, after, limit], message).map_err(unavailable)?;
            rows.map(|r| r.map_err(unavailable)?).collect()
        })
        .await
    }

    async fn list(
        &self,
        user: &UserId,
        before: Option<Cursor>,
        limit: u32,
    ) -> StoreResult<Vec<ConversationRecord>> {
        let list = NewestFirst { columns: CONVERSATION, table: "conversations", time: "updated_at" };
        self.newest_first(list, user, before, limit, |r| conversation(r).map(Ok)).await
    }
}
