//! Conversations with the assistant, as stored: the conversation, its messages and what a
//! message may be.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::UserId;

/// Longest message, in characters.
pub const MAX_CONTENT_CHARS: usize = 4000;
/// Longest title taken from a first message, in characters.
const TITLE_CHARS: usize = 80;

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
    /// A person of the support team (a reply by mail).
    Agent,
}

impl Role {
    /// `user`, `assistant` or `agent`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Assistant => "assistant",
            Self::Agent => "agent",
        }
    }

    /// Parses what [`Role::as_str`] wrote.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "user" => Some(Self::User),
            "assistant" => Some(Self::Assistant),
            "agent" => Some(Self::Agent),
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
    /// The person's name, for an agent's message (from their mail's `From`).
    pub author: Option<String>,
    /// Text.
    pub content: String,
    /// Articles an assistant answer drew on.
    pub sources: Vec<Source>,
    /// Whether the assistant suggests a human take over.
    pub suggest_escalation: bool,
    /// When it was written.
    pub created_at: DateTime<Utc>,
}

impl MessageRecord {
    /// A new message of `role` at `seq` with a fresh id, and no author, sources or suggestion.
    pub fn new(seq: u32, role: Role, content: &str, now: DateTime<Utc>) -> Self {
        Self {
            id: format!("msg_{}", uuid::Uuid::new_v4().simple()),
            seq,
            role,
            author: None,
            content: content.to_owned(),
            sources: Vec::new(),
            suggest_escalation: false,
            created_at: now,
        }
    }
}

impl ConversationRecord {
    /// A conversation's title: its first message's first line, cut to 80 characters.
    pub fn title_of(content: &Content) -> String {
        let line = content.as_str().lines().next().unwrap_or("").trim();
        if line.chars().count() <= TITLE_CHARS {
            return line.to_owned();
        }
        let cut: String = line.chars().take(TITLE_CHARS - 1).collect();
        format!("{}…", cut.trim_end())
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
        let title = |s: &str| ConversationRecord::title_of(&Content::parse(s).unwrap());
        assert_eq!(title("How do I reset?\nMore text"), "How do I reset?");
        let long = title(&"word ".repeat(40));
        assert_eq!(long.chars().count(), TITLE_CHARS);
        assert!(long.ends_with('…'));
    }
}
