//! Chat: a user's conversations with the assistant. Each message gets an answer; both are
//! stored in order, and the user's open sockets hear `assistant.started` then
//! `assistant.completed`.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::ws::{Notifier, ServerEvent};
use crate::auth::Principal;
use crate::clock::{Clock, epoch, from_epoch, rfc3339};
use crate::ports::{
    Assistant, AssistantError, ConversationRecord, Conversations, MessageRecord, Role, Source, StoreError,
};

/// Longest message, in characters.
pub const MAX_CONTENT_CHARS: usize = 4000;
/// Page size when none is asked for.
pub const DEFAULT_PAGE: u32 = 20;
/// Largest page.
pub const MAX_PAGE: u32 = 100;
/// Longest title taken from a first message, in characters.
const TITLE_CHARS: usize = 80;
/// How often a message is retried when another message landed in the same conversation first.
const APPEND_ATTEMPTS: usize = 3;

/// A message's text: trimmed, 1–4000 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content(String);

impl Content {
    /// Validates user input.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let trimmed = raw.trim();
        match trimmed.chars().count() {
            0 => Err("must not be empty"),
            n if n > MAX_CONTENT_CHARS => Err("must be at most 4000 characters"),
            _ => Ok(Self(trimmed.to_owned())),
        }
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A page size: 1–100.
pub fn parse_limit(raw: Option<&str>) -> Result<u32, &'static str> {
    match raw {
        None => Ok(DEFAULT_PAGE),
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or("must be a number from 1 to 100"),
    }
}

/// Conversation ids are ours: anything else cannot exist and is never looked up.
pub fn plausible_id(raw: &str) -> bool {
    (1..=64).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn encode_cursor(raw: String) -> String {
    URL_SAFE_NO_PAD.encode(raw)
}

fn decode_cursor(raw: &str, kind: &str) -> Option<String> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(raw).ok()?).ok()?;
    text.strip_prefix(kind).map(str::to_owned)
}

/// A messages cursor: after this position.
pub fn parse_message_cursor(raw: Option<&str>) -> Result<u32, &'static str> {
    raw.map_or(Ok(0), |c| {
        decode_cursor(c, "m:").and_then(|s| s.parse().ok()).ok_or("is not a cursor this API issued")
    })
}

/// A cursor for a `(time, id)` position in a newest-first list; `kind` keeps lists apart.
pub fn position_cursor(kind: &str, at: DateTime<Utc>, id: &str) -> String {
    encode_cursor(format!("{kind}:{}:{id}", epoch(at)))
}

/// Parses a [`position_cursor`] of this `kind`.
pub fn parse_position_cursor(
    kind: &str,
    raw: Option<&str>,
) -> Result<Option<(DateTime<Utc>, String)>, &'static str> {
    let Some(raw) = raw else { return Ok(None) };
    decode_cursor(raw, &format!("{kind}:"))
        .and_then(|s| {
            let (at, id) = s.split_once(':')?;
            Some((from_epoch(at.parse().ok()?), id.to_owned()))
        })
        .map(Some)
        .ok_or("is not a cursor this API issued")
}

/// A conversations cursor: after this `(updated_at, id)` position.
pub fn parse_conversation_cursor(raw: Option<&str>) -> Result<Option<(DateTime<Utc>, String)>, &'static str> {
    parse_position_cursor("c", raw)
}

/// `message` and `reply` in responses and events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MessageView {
    id: String,
    role: Role,
    content: String,
    sources: Vec<Source>,
    suggest_escalation: bool,
    created_at: String,
}

impl From<&MessageRecord> for MessageView {
    fn from(m: &MessageRecord) -> Self {
        Self {
            id: m.id.clone(),
            role: m.role,
            content: m.content.clone(),
            sources: m.sources.clone(),
            suggest_escalation: m.suggest_escalation,
            created_at: rfc3339(m.created_at),
        }
    }
}

/// A conversation in `GET /api/chat/conversations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConversationView {
    id: String,
    title: String,
    created_at: String,
    updated_at: String,
    open_ticket: Option<String>,
}

impl From<&ConversationRecord> for ConversationView {
    fn from(c: &ConversationRecord) -> Self {
        Self {
            id: c.id.clone(),
            title: c.title.clone(),
            created_at: rfc3339(c.created_at),
            updated_at: rfc3339(c.updated_at),
            open_ticket: c.open_ticket.clone(),
        }
    }
}

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

/// A page of results and the cursor for the next one.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Where the next page starts, if there is one.
    pub next_cursor: Option<String>,
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

fn title_of(content: &str) -> String {
    let line = content.lines().next().unwrap_or("").trim();
    if line.chars().count() <= TITLE_CHARS {
        return line.to_owned();
    }
    let cut: String = line.chars().take(TITLE_CHARS - 1).collect();
    format!("{}…", cut.trim_end())
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
    pub async fn owned(&self, principal: &Principal, id: &str) -> Result<ConversationRecord, ChatError> {
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
                    title: title_of(content.as_str()),
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
        let mut items = self.conversations.messages(&conversation.id, after, limit + 1).await?;
        let next_cursor = (items.len() > limit as usize).then(|| {
            items.truncate(limit as usize);
            encode_cursor(format!("m:{}", items.last().map_or(after, |m| m.seq)))
        });
        Ok(Page { items, next_cursor })
    }

    /// A page of the caller's conversations, most recently active first.
    pub async fn conversations(
        &self,
        principal: &Principal,
        before: Option<(DateTime<Utc>, String)>,
        limit: u32,
    ) -> Result<Page<ConversationRecord>, ChatError> {
        let mut items = self.conversations.list(&principal.user().id, before, limit + 1).await?;
        let next_cursor = (items.len() > limit as usize).then(|| {
            items.truncate(limit as usize);
            items.last().map(|c| position_cursor("c", c.updated_at, &c.id)).unwrap_or_default()
        });
        Ok(Page { items, next_cursor })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_is_trimmed_and_bounded() {
        assert_eq!(Content::parse("  hi  ").unwrap().as_str(), "hi");
        assert!(Content::parse(" \n ").is_err());
        assert!(Content::parse(&"é".repeat(4000)).is_ok());
        assert!(Content::parse(&"é".repeat(4001)).is_err());
    }

    #[test]
    fn titles_come_from_the_first_line() {
        assert_eq!(title_of("How do I reset?\nMore text"), "How do I reset?");
        let long = "word ".repeat(40);
        let title = title_of(&long);
        assert_eq!(title.chars().count(), TITLE_CHARS);
        assert!(title.ends_with('…'));
    }

    #[test]
    fn cursors_round_trip_and_foreign_ones_are_refused() {
        assert_eq!(parse_message_cursor(Some(&encode_cursor("m:42".into()))), Ok(42));
        assert!(parse_message_cursor(Some("bogus")).is_err());
        assert!(parse_message_cursor(Some(&encode_cursor("c:1:x".into()))).is_err());
        let c =
            parse_conversation_cursor(Some(&encode_cursor("c:1767952800:conv_1".into()))).unwrap().unwrap();
        assert_eq!(c.1, "conv_1");
        assert_eq!(parse_limit(Some("0")), Err("must be a number from 1 to 100"));
        assert_eq!(parse_limit(Some("101")), Err("must be a number from 1 to 100"));
        assert_eq!(parse_limit(None), Ok(DEFAULT_PAGE));
    }
}
