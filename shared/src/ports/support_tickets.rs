//! Support tickets with their numbers, transcripts and mail outbox, written together.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::StoreResult;
use crate::domain::UserId;

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
    /// Always `open` for now.
    pub status: String,
    /// When it was opened.
    pub created_at: DateTime<Utc>,
    /// The conversation as it was when escalated.
    pub transcript: Vec<TranscriptLine>,
    /// Status of the mail to support.
    pub mail_support: MailStatus,
    /// Status of the mail to the user.
    pub mail_user: MailStatus,
}

/// A stored outgoing mail of a ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailRecord {
    /// The ticket it belongs to.
    pub ticket_id: String,
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

/// Why a ticket was not written (nothing was).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateConflict {
    /// Another ticket took the number first: read the counter again and retry.
    Counter,
    /// The conversation got an open ticket meanwhile.
    ConversationHasTicket,
    /// The idempotency key was used already.
    KeySeen,
}

/// Where tickets live.
#[async_trait]
pub trait SupportTickets: Send + Sync {
    /// The day's counter (0 if no ticket yet).
    async fn counter(&self, day: NaiveDate) -> StoreResult<u64>;
    /// Writes the ticket, its mails, the key, the counter increment and the conversation's
    /// open-ticket mark together, or nothing.
    async fn create(&self, new: &NewTicket) -> StoreResult<Result<(), CreateConflict>>;
    /// A ticket by id.
    async fn get(&self, id: &str) -> StoreResult<Option<SupportTicket>>;
    /// The ticket a user's key produced, if the key is remembered and live at `now`.
    async fn by_key(&self, user: &UserId, key: &str, now: DateTime<Utc>) -> StoreResult<Option<String>>;
    /// A user's tickets, newest first, after the `(created_at, id)` position `before`.
    async fn list(
        &self,
        user: &UserId,
        before: Option<(DateTime<Utc>, String)>,
        limit: u32,
    ) -> StoreResult<Vec<SupportTicket>>;
    /// A ticket's mail.
    async fn mail(&self, ticket_id: &str, recipient: Recipient) -> StoreResult<Option<MailRecord>>;
    /// Stores a mail's new status (and the ticket's copy of it) after an attempt.
    async fn update_mail(&self, mail: &MailRecord) -> StoreResult<()>;
    /// Queued mails due at `now`, oldest first.
    async fn due_mails(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<MailRecord>>;
    /// Keeps a deleted user's tickets for the support team but cuts them from the identity:
    /// owner becomes [`DETACHED_OWNER`] and the email is cleared.
    async fn detach_user(&self, user: &UserId) -> StoreResult<()>;
    /// Claims a due mail for one attempt by moving its due time to `until`, provided it is
    /// still queued and due at `due`: two workers never send the same attempt.
    async fn claim_mail(&self, mail: &MailRecord, until: DateTime<Utc>) -> StoreResult<bool>;
}
