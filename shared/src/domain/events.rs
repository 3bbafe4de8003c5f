//! Frames the server sends: JSON text, each with a `type`. Durable events (what a client
//! would be wrong without) also carry the user's next `seq` and are kept for a day, so a
//! client that reconnects fetches what it missed; progress events are only pushed.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::UserId;

use super::views::{MailView, MessageView, TicketView};

/// A server-to-client event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type")]
pub enum ServerEvent {
    /// Answer to `{"action":"ping"}`.
    #[serde(rename = "pong")]
    Pong,
    /// A frame the server could not act on; the socket stays open.
    #[serde(rename = "error")]
    Error {
        /// `unknown_action` or `bad_frame`.
        code: &'static str,
    },
    /// The session behind this socket was signed out; the socket closes next.
    #[serde(rename = "session.revoked")]
    SessionRevoked,
    /// The assistant started on a message in this conversation.
    #[serde(rename = "assistant.started")]
    AssistantStarted {
        /// The conversation.
        conversation_id: String,
    },
    /// The assistant's reply was stored.
    #[serde(rename = "assistant.completed")]
    AssistantCompleted {
        /// The conversation.
        conversation_id: String,
        /// The reply, as `POST /api/chat/messages` returns it.
        reply: MessageView,
    },
    /// A person of the support team wrote in the conversation (by mail).
    #[serde(rename = "agent.message")]
    AgentMessage {
        /// The conversation.
        conversation_id: String,
        /// The message, as `GET /api/chat/messages` lists it.
        message: MessageView,
    },
    /// A support ticket was opened.
    #[serde(rename = "ticket.created")]
    TicketCreated {
        /// The ticket, as `POST /api/escalations` returns it.
        ticket: TicketView,
    },
    /// A ticket's status or rating changed.
    #[serde(rename = "ticket.updated")]
    TicketUpdated {
        /// The ticket, as `GET /api/escalations` lists it.
        ticket: TicketView,
    },
    /// A ticket's mail status changed (sent or failed after a retry).
    #[serde(rename = "ticket.mail")]
    TicketMail {
        /// The ticket.
        ticket_id: String,
        /// Per-recipient statuses.
        mail: MailView,
    },
}

/// How long a durable event can be fetched again (`GET /api/events`).
pub const EVENT_LIFETIME: Duration = Duration::hours(24);

/// A durable event as the catch-up log keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedEvent {
    /// Whose it is.
    pub user_id: UserId,
    /// The user's sequence number, from 1, increasing.
    pub seq: u64,
    /// The frame without `seq` (JSON text).
    pub payload: String,
    /// When it is forgotten.
    pub expires_at: DateTime<Utc>,
}

impl LoggedEvent {
    /// The frame as pushed and as `GET /api/events` lists it: the payload with its `seq`.
    pub fn frame(&self) -> serde_json::Value {
        numbered(&self.payload, self.seq)
    }
}

/// A frame (JSON text) with `seq` added.
pub fn numbered(payload: &str, seq: u64) -> serde_json::Value {
    let mut frame = serde_json::from_str(payload).unwrap_or(serde_json::Value::Null);
    if let Some(fields) = frame.as_object_mut() {
        fields.insert("seq".into(), seq.into());
    }
    frame
}

impl ServerEvent {
    /// The JSON text frame.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| String::from(r#"{"type":"error","code":"internal"}"#))
    }

    /// Whether a client that missed it would be wrong: replies, ticket changes. Progress
    /// (`assistant.started`) and socket housekeeping are only worth something live.
    pub fn is_durable(&self) -> bool {
        match self {
            Self::Pong | Self::Error { .. } | Self::SessionRevoked | Self::AssistantStarted { .. } => false,
            Self::AssistantCompleted { .. }
            | Self::AgentMessage { .. }
            | Self::TicketCreated { .. }
            | Self::TicketUpdated { .. }
            | Self::TicketMail { .. } => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_match_the_contract() {
        assert_eq!(ServerEvent::Pong.to_json(), r#"{"type":"pong"}"#);
        assert_eq!(
            ServerEvent::Error { code: "bad_frame" }.to_json(),
            r#"{"type":"error","code":"bad_frame"}"#
        );
        assert_eq!(ServerEvent::SessionRevoked.to_json(), r#"{"type":"session.revoked"}"#);
    }

    #[test]
    fn logged_frames_carry_their_seq() {
        let logged = LoggedEvent {
            user_id: UserId::from_trusted("usr_1"),
            seq: 7,
            payload: ServerEvent::AssistantStarted { conversation_id: "conv_1".into() }.to_json(),
            expires_at: Utc::now(),
        };
        assert_eq!(
            logged.frame().to_string(),
            r#"{"conversation_id":"conv_1","seq":7,"type":"assistant.started"}"#
        );
        assert!(!ServerEvent::Pong.is_durable());
    }
}
