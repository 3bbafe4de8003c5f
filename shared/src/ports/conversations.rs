//! Where conversations live: their messages in order; listed per user, most recently active
//! first.

use async_trait::async_trait;

use super::StoreResult;
use crate::domain::{ConversationRecord, Cursor, MessageRecord, UserId};

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
        before: Option<Cursor>,
        limit: u32,
    ) -> StoreResult<Vec<ConversationRecord>>;
}
