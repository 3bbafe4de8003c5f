//! Support tickets as stored: the ticket with its transcript and number, its mails, and what an
//! escalation request may carry.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::mail::header_safe;
use super::{Rating, TicketStatus, UserId};

/// How long an `Idempotency-Key` is remembered.
pub const KEY_LIFETIME: Duration = Duration::hours(24);
/// Longest subject, in characters.
pub const MAX_SUBJECT_CHARS: usize = 200;
/// Longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 4000;

/// How urgent a ticket is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// Low.
    Low,
    /// The default.
    Normal,
    /// High.
    High,
    /// Urgent.
    Urgent,
}

impl Priority {
    /// The API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Normal => "normal",
            Self::High => "high",
            Self::Urgent => "urgent",
        }
    }

    /// Parses the API spelling.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        match raw {
            "low" => Ok(Self::Low),
            "normal" => Ok(Self::Normal),
            "high" => Ok(Self::High),
            "urgent" => Ok(Self::Urgent),
            _ => Err("must be one of low, normal, high, urgent"),
        }
    }
}

/// Who a ticket mail goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Recipient {
    /// The support team's address.
    Support,
    /// The user who escalated.
    User,
}

impl Recipient {
    /// `support` or `user`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Support => "support",
            Self::User => "user",
        }
    }

    /// Parses what [`Recipient::as_str`] wrote.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "support" => Some(Self::Support),
            "user" => Some(Self::User),
            _ => None,
        }
    }
}

/// Where a mail stands. Every mail is in exactly one of these; none is ever dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailStatus {
    /// Accepted by the transport.
    Sent,
    /// Not sent yet (never tried, or failed and waiting for a retry).
    Queued,
    /// Gave up after the last attempt.
    Failed,
}

impl MailStatus {
    /// The API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Queued => "queued",
            Self::Failed => "failed",
        }
    }

    /// Parses the API spelling.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "sent" => Some(Self::Sent),
            "queued" => Some(Self::Queued),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// One line of a ticket's transcript.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranscriptLine {
    /// `user` or `assistant`.
    pub role: String,
    /// What was said.
    pub content: String,
    /// When (RFC 3339).
    pub created_at: String,
    /// The articles an assistant message cited.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<crate::domain::Source>,
}

/// The owner of tickets whose user deleted their account.
pub const DETACHED_OWNER: &str = "deleted-account";

/// A stored ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupportTicket {
    /// Opaque id.
    pub id: String,
    /// `PREFIX-YYYYMMDD-NNNN`.
    pub number: String,
    /// Owner.
    pub user_id: UserId,
    /// Owner's email at escalation time.
    pub user_email: String,
    /// The escalated conversation.
    pub conversation_id: String,
    /// Subject (default: the conversation's title).
    pub subject: String,
    /// What the user added.
    pub description: String,
    /// Urgency.
    pub priority: Priority,
    /// Where it stands.
    pub status: TicketStatus,
    /// When it was opened.
    pub created_at: DateTime<Utc>,
    /// When its status last changed (its creation at first).
    pub updated_at: DateTime<Utc>,
    /// When it was resolved, while it is resolved or closed after that.
    pub resolved_at: Option<DateTime<Utc>>,
    /// The user's rating, once given.
    pub rating: Option<Rating>,
    /// Bumped by every change; changes are written conditionally on it (no lost update).
    pub revision: u32,
    /// The conversation as it was when escalated.
    pub transcript: Vec<TranscriptLine>,
    /// Status of the mail to support.
    pub mail_support: MailStatus,
    /// Status of the mail to the user.
    pub mail_user: MailStatus,
    /// The `Message-ID` the mail service gave the mail to support once it was sent (SES replaces
    /// ours): later mails to support name it, so they thread under it.
    pub message_id_support: Option<String>,
    /// The same for the mail to the user.
    pub message_id_user: Option<String>,
}

/// A stored outgoing mail of a ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailRecord {
    /// The ticket it belongs to.
    pub ticket_id: String,
    /// Its name within the ticket: `support` and `user` for the two mails of the escalation,
    /// `<kind>-<n>-<recipient>` for later ones.
    pub mail_id: String,
    /// Who it is for.
    pub recipient: Recipient,
    /// Envelope recipient address.
    pub to: String,
    /// The complete MIME message, sent byte for byte on every attempt.
    pub raw: Vec<u8>,
    /// Where it stands.
    pub status: MailStatus,
    /// Attempts so far.
    pub attempts: u32,
    /// The last failure, if any.
    pub last_error: Option<String>,
    /// When a queued mail is due (ignored otherwise).
    pub next_attempt_at: DateTime<Utc>,
    /// The `Message-ID` the mail service gave it when it was sent in place of its own (the
    /// ticket keeps that of its first two mails).
    pub sent_message_id: Option<String>,
}

impl MailRecord {
    /// A mail of a ticket, queued for its first attempt at `now`.
    pub fn queued(
        ticket_id: &str,
        mail_id: String,
        recipient: Recipient,
        (to, raw): (String, Vec<u8>),
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            ticket_id: ticket_id.to_owned(),
            mail_id,
            recipient,
            to,
            raw,
            status: MailStatus::Queued,
            attempts: 0,
            last_error: None,
            next_attempt_at: now,
            sent_message_id: None,
        }
    }

    /// Whether this is one of the escalation's two mails (named after their recipient), whose
    /// statuses the ticket carries.
    pub fn is_first(&self) -> bool {
        self.mail_id == self.recipient.as_str()
    }
}

/// An `Idempotency-Key` to remember with the ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    /// The user the key belongs to (keys are per user).
    pub user_id: UserId,
    /// The header's value.
    pub key: String,
    /// When it is forgotten (24 h).
    pub expires_at: DateTime<Utc>,
}

/// Everything one escalation writes, in one atomic write.
#[derive(Debug, Clone)]
pub struct NewTicket {
    /// The ticket (its number uses `counter_expected + 1`).
    pub ticket: SupportTicket,
    /// Its two mails, `queued`.
    pub mails: Vec<MailRecord>,
    /// The UTC day whose counter numbers it.
    pub day: NaiveDate,
    /// The counter value read before; the write fails if it moved.
    pub counter_expected: u64,
    /// The key, if the request had one.
    pub idempotency: Option<IdempotencyKey>,
}

/// Messages appended to a ticket's conversation in the same write as a ticket change.
#[derive(Debug, Clone)]
pub struct Append {
    /// The conversation with its new `updated_at` and `message_count`.
    pub conversation: super::ConversationRecord,
    /// The new messages.
    pub messages: Vec<super::MessageRecord>,
    /// The count the write is conditional on.
    pub expected_count: u32,
}

impl Append {
    /// One message appended to `conversation` as read (the write is conditional on its count).
    pub fn one(
        conversation: &super::ConversationRecord,
        message: super::MessageRecord,
        now: DateTime<Utc>,
    ) -> Self {
        let expected_count = conversation.message_count;
        Self {
            conversation: super::ConversationRecord {
                updated_at: now,
                message_count: expected_count + 1,
                ..conversation.clone()
            },
            messages: vec![message],
            expected_count,
        }
    }
}

/// One change of a ticket, written whole or not at all: the ticket (conditional on its
/// previous revision), mails to queue, and messages for its conversation. Closing a ticket
/// also clears its conversation's open-ticket mark.
#[derive(Debug, Clone)]
pub struct TicketUpdate {
    /// The ticket after the change (`revision` one higher than stored).
    pub ticket: SupportTicket,
    /// New mails, queued.
    pub mails: Vec<MailRecord>,
    /// Messages for the conversation, if any.
    pub append: Option<Append>,
}

/// `PREFIX-YYYYMMDD-NNNN`, widening past 9999.
pub fn ticket_number(prefix: &str, day: NaiveDate, n: u64) -> String {
    format!("{prefix}-{}-{n:04}", day.format("%Y%m%d"))
}

/// Validated escalation input.
#[derive(Debug, Clone)]
pub struct EscalationRequest {
    /// The conversation to escalate.
    pub conversation_id: String,
    /// Subject (control characters removed), or the conversation's title.
    pub subject: Option<String>,
    /// Extra text from the user.
    pub description: String,
    /// Urgency (default normal).
    pub priority: Priority,
    /// The `Idempotency-Key` header.
    pub idempotency_key: Option<String>,
    /// The web client's origin the request came through (the front door's, proven), linked
    /// from the user's mail when `WEB_CLIENT_URL` does not name one.
    pub site: Option<String>,
}

/// Parses a subject: control characters become spaces; 1–200 characters once trimmed.
pub fn parse_subject(raw: &str) -> Result<Option<String>, &'static str> {
    let clean = header_safe(raw);
    match clean.chars().count() {
        0 => Ok(None),
        n if n > MAX_SUBJECT_CHARS => Err("must be at most 200 characters"),
        _ => Ok(Some(clean)),
    }
}

/// Parses a description: trimmed, at most 4000 characters.
pub fn parse_description(raw: &str) -> Result<String, &'static str> {
    let trimmed = raw.trim();
    if trimmed.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err("must be at most 4000 characters");
    }
    Ok(trimmed.to_owned())
}

/// Parses an `Idempotency-Key`: 1–255 visible ASCII characters.
pub fn parse_key(raw: &str) -> Result<String, &'static str> {
    let ok = (1..=255).contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_graphic());
    if ok { Ok(raw.to_owned()) } else { Err("must be 1-255 visible ASCII characters") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_dated_and_widen() {
        let day = NaiveDate::from_ymd_opt(2026, 1, 9).unwrap();
        assert_eq!(ticket_number("AB", day, 4), "AB-20260109-0004");
        assert_eq!(ticket_number("AB", day, 12345), "AB-20260109-12345");
    }

    #[test]
    fn inputs_are_checked() {
        assert_eq!(parse_subject("  a\r\nBcc: x  "), Ok(Some("a Bcc: x".into())));
        assert_eq!(parse_subject("   "), Ok(None));
        assert!(parse_subject(&"x".repeat(201)).is_err());
        assert!(parse_key("").is_err());
        assert!(parse_key("with space").is_err());
        assert!(parse_key(&"k".repeat(256)).is_err());
        assert_eq!(parse_key("retry-123"), Ok("retry-123".into()));
        assert!(parse_description(&"d".repeat(4001)).is_err());
    }
}
