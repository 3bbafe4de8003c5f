//! Frames the server sends: JSON text, each with a `type`.

use serde::Serialize;

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
    /// A support ticket was opened.
    #[serde(rename = "ticket.created")]
    TicketCreated {
        /// The ticket, as `POST /api/escalations` returns it.
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

impl ServerEvent {
    /// The JSON text frame.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| String::from(r#"{"type":"error","code":"internal"}"#))
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
}
