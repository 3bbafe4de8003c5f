//! The JSON shapes the API answers with and the socket events carry, one per kind of thing.

use serde::Serialize;

use super::{
    ConversationRecord, MailStatus, MessageRecord, Priority, Rating, Role, Source, SupportTicket,
    TicketStatus, TranscriptLine,
};
use crate::clock::rfc3339;

/// `message` and `reply` in responses and events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MessageView {
    id: String,
    role: Role,
    #[serde(skip_serializing_if = "Option::is_none")]
    author: Option<String>,
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
            author: m.author.clone(),
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

/// Per-recipient mail status in the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MailView {
    support: MailStatus,
    user: MailStatus,
}

/// `ticket` in responses and events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TicketView {
    id: String,
    number: String,
    status: TicketStatus,
    priority: Priority,
    subject: String,
    description: String,
    conversation_id: String,
    created_at: String,
    updated_at: String,
    resolved_at: Option<String>,
    rating: Option<Rating>,
    mail: MailView,
    #[serde(skip_serializing_if = "Option::is_none")]
    transcript: Option<Vec<TranscriptLine>>,
}

impl TicketView {
    /// The ticket without its transcript (lists, events).
    pub fn summary(t: &SupportTicket) -> Self {
        Self {
            id: t.id.clone(),
            number: t.number.clone(),
            status: t.status,
            priority: t.priority,
            subject: t.subject.clone(),
            description: t.description.clone(),
            conversation_id: t.conversation_id.clone(),
            created_at: rfc3339(t.created_at),
            updated_at: rfc3339(t.updated_at),
            resolved_at: t.resolved_at.map(rfc3339),
            rating: t.rating.clone(),
            mail: MailView { support: t.mail_support, user: t.mail_user },
            transcript: None,
        }
    }

    /// The ticket with its transcript (`GET /api/escalations/{id}`).
    pub fn full(t: &SupportTicket) -> Self {
        Self { transcript: Some(t.transcript.clone()), ..Self::summary(t) }
    }

    /// The mail statuses alone (the `ticket.mail` event).
    pub fn mail(t: &SupportTicket) -> MailView {
        MailView { support: t.mail_support, user: t.mail_user }
    }
}
