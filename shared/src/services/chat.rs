//! Chat: a user's conversations with the assistant. Each message gets an answer; both are
//! stored in order, and the user's open sockets hear `assistant.started` then
//! `assistant.completed`.

use crate::telemetry::metrics::{self, Metric};
use std::sync::Arc;

use super::notifier::Notifier;
use crate::clock::Clock;
use crate::domain::{
    Content, ConversationRecord, Cursor, MessageRecord, MessageView, Page, Principal, Role, ServerEvent,
    message_cursor, plausible_id,
};
use crate::ports::{Assistant, AssistantError, Conversations, StoreError};

/// How often a message is retried when another message landed in the same conversation first.
const APPEND_ATTEMPTS: usize = 3;

/// The cursor kind of the conversations list.
pub const CONVERSATIONS: &str = "c";

/// A stored message and its answer.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// The conversation (new or existing).
    pub conversation_id: String,
    /// The user's message.
    pub message: MessageRecord,
    /// The assistant's reply.
    pub reply: MessageRecord,
}

/// Why a chat operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    /// The conversation does not exist or belongs to someone else (the same to the caller).
    #[error("conversation not found")]
    NotFound,
    /// Other messages kept landing in the conversation first.
    #[error("conversation busy")]
    Busy,
    /// The assistant could not answer.
    #[error(transparent)]
    Assistant(#[from] AssistantError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The chat use cases.
#[derive(Clone)]
pub struct ChatService {
    conversations: Arc<dyn Conversations>,
    assistant: Arc<dyn Assistant>,
    notifier: Notifier,
    clock: Arc<dyn Clock>,
}

fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

impl ChatService {
    /// Wires the use cases.
    pub fn new(
        conversations: Arc<dyn Conversations>,
        assistant: Arc<dyn Assistant>,
        notifier: Notifier,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self { conversations, assistant, notifier, clock }
    }

    /// The caller's conversation, or `NotFound` (also for someone else's).
    async fn owned(&self, principal: &Principal, id: &str) -> Result<ConversationRecord, ChatError> {
        if !plausible_id(id) {
            return Err(ChatError::NotFound);
        }
        self.conversations
            .get(id)
            .await?
            .filter(|c| c.user_id == principal.user().id)
            .ok_or(ChatError::NotFound)
    }

    /// Stores a message and its answer. Round trips: the conversation (if given), the user's
    /// sockets, one atomic append.
    pub async fn post(
        &self,
        principal: &Principal,
        conversation_id: Option<&str>,
        content: Content,
    ) -> Result<Exchange, ChatError> {
        let mut existing = match conversation_id {
            Some(id) => Some(self.owned(principal, id).await?),
            None => None,
        };
        let conversation_id = existing.as_ref().map_or_else(|| new_id("conv"), |c| c.id.clone());
        let mut targets = self.notifier.user_targets(&principal.user().id).await;
        let started = ServerEvent::AssistantStarted { conversation_id: conversation_id.clone() };
        self.notifier.send(&mut targets, &started).await;
        let answer = self.assistant.answer(content.as_str(), &[]).await?;

        for _ in 0..APPEND_ATTEMPTS {
            let now = self.clock.now();
            let count = existing.as_ref().map_or(0, |c| c.message_count);
            let message = MessageRecord {
                id: new_id("msg"),
                seq: count + 1,
                role: Role::User,
                content: content.as_str().to_owned(),
                sources: Vec::new(),
                suggest_escalation: false,
                created_at: now,
            };
            let reply = MessageRecord {
                id: new_id("msg"),
                seq: count + 2,
                role: Role::Assistant,
                content: answer.content.clone(),
                sources: answer.sources.clone(),
                suggest_escalation: answer.suggest_escalation,
                created_at: now,
            };
            let conversation = match &existing {
                Some(c) => ConversationRecord { updated_at: now, message_count: count + 2, ..c.clone() },
                None => ConversationRecord {
                    id: conversation_id.clone(),
                    user_id: principal.user().id.clone(),
                    title: ConversationRecord::title_of(&content),
                    created_at: now,
                    updated_at: now,
                    message_count: 2,
                    open_ticket: None,
                },
            };
            match self.conversations.append(&conversation, &[message.clone(), reply.clone()], count).await {
                Ok(()) => {
                    let completed = ServerEvent::AssistantCompleted {
                        conversation_id: conversation_id.clone(),
                        reply: MessageView::from(&reply),
                    };
                    self.notifier.send(&mut targets, &completed).await;
                    metrics::count(Metric::AssistantTurns, "retrieval");
                    return Ok(Exchange { conversation_id, message, reply });
                }
                // Another message landed first: read the new count and go again.
                Err(StoreError::Conflict) if existing.is_some() => {
                    existing = Some(self.owned(principal, &conversation_id).await?);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(ChatError::Busy)
    }

    /// A page of a conversation's messages, oldest first.
    pub async fn messages(
        &self,
        principal: &Principal,
        conversation_id: &str,
        after: u32,
        limit: u32,
    ) -> Result<Page<MessageRecord>, ChatError> {
        let conversation = self.owned(principal, conversation_id).await?;
        let items = self.conversations.messages(&conversation.id, after, limit + 1).await?;
        Ok(Page::cut(items, limit, |m| message_cursor(m.seq)))
    }

    /// A page of the caller's conversations, most recently active first.
    pub async fn conversations(
        &self,
        principal: &Principal,
        before: Option<Cursor>,
        limit: u32,
    ) -> Result<Page<ConversationRecord>, ChatError> {
        let items = self.conversations.list(&principal.user().id, before, limit + 1).await?;
        Ok(Page::cut(items, limit, |c| Cursor::new(c.updated_at, &c.id).encode(CONVERSATIONS)))
    }
}
