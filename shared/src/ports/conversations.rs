//! Conversations and their messages, in order; listed per user, most recently active first.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::StoreResult;
use crate::domain::UserId;

/// A knowledge-base article an answer drew on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// Article id (its file name).
    pub id: String,
    /// Article title.
    pub title: String,
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The signed-in user.
    User,
    /// The assistant.
    Assistant,
}

impl Role {
    /// `user` or `assistant`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Assistant => "assistant",
        }
    }

    /// Parses what [`Role::as_str`] wrote.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "user" => Some(Self::User),
            "assistant" => Some(Self::Assistant),
            _ => None,
        }
    }
}

/// A stored conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationRecord {
    /// Opaque id.
    pub id: String,
    /// Its owner; nobody else may read or write it.
    pub user_id: UserId,
    /// From the first message.
    pub title: String,
    /// When the first message arrived.
    pub created_at: DateTime<Utc>,
    /// When the last message arrived (orders the list).
    pub updated_at: DateTime<Utc>,
    /// Messages so far; the next message's `seq` is this plus one.
    pub message_count: u32,
    /// The open support ticket for this conversation, if any.
    pub open_ticket: Option<String>,
}

/// A stored message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRecord {
    /// Opaque id.
    pub id: String,
    /// Position in the conversation, from 1.
    pub seq: u32,
    /// Author.
    pub role: Role,
    /// Text.
    pub content: String,
    /// Articles an assistant answer drew on.
    pub sources: Vec<Source>,
    /// Whether the assistant suggests a human take over.
    pub suggest_escalation: bool,
    /// When it was written.
    pub created_at: DateTime<Utc>,
}

/// Where conversations live.
#[async_trait]
pub trait Conversations: Send + Sync {
    /// The conversation, if it exists (ownership is the caller's check).
    async fn get(&self, id: &str) -> StoreResult<Option<ConversationRecord>>;
    /// Writes `conversation` (its new `updated_at` and `message_count`) and `messages` in one
    /// atomic write, provided the stored count is still `expected_count` (0: the conversation
    /// must not exist yet). A concurrent writer makes this [`super::StoreError::Conflict`].
    async fn append(
        &self,
        conversation: &ConversationRecord,
        messages: &[MessageRecord],
        expected_count: u32,
    ) -> StoreResult<()>;
    /// The conversation and all its messages, in order, in one read (escalation's transcript).
    async fn transcript(&self, id: &str) -> StoreResult<Option<(ConversationRecord, Vec<MessageRecord>)>>;
    /// Up to `limit` messages with `seq > after`, in order.
    async fn messages(&self, id: &str, after: u32, limit: u32) -> StoreResult<Vec<MessageRecord>>;
    /// Deletes every conversation of the user and their messages (account deletion).
    async fn delete_for_user(&self, user: &UserId) -> StoreResult<()>;
    /// Up to `limit` of the user's conversations, most recently active first, strictly after
    /// the `(updated_at, id)` position `before` in that order.
    async fn list(
        &self,
        user: &UserId,
        before: Option<(DateTime<Utc>, String)>,
        limit: u32,
    ) -> StoreResult<Vec<ConversationRecord>>;
}
