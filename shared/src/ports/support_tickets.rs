//! Where support tickets live, with their numbers, transcripts and mail outbox, written together.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

use super::StoreResult;
use crate::domain::{Cursor, MailRecord, NewTicket, SupportTicket, TicketUpdate, UserId};

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
        before: Option<Cursor>,
        limit: u32,
    ) -> StoreResult<Vec<SupportTicket>>;
    /// A ticket's mail by its `mail_id`.
    async fn mail(&self, ticket_id: &str, mail_id: &str) -> StoreResult<Option<MailRecord>>;
    /// Writes a ticket change whole (see [`TicketUpdate`]), provided the stored ticket's
    /// revision is still one below the new one and, with an append, the conversation's message
    /// count is still the expected one; otherwise [`super::StoreError::Conflict`] and nothing.
    async fn update(&self, update: &TicketUpdate) -> StoreResult<()>;
    /// Resolved tickets resolved at or before `cutoff` (their reopen window is over), oldest
    /// first.
    async fn resolved_before(&self, cutoff: DateTime<Utc>, limit: u32) -> StoreResult<Vec<SupportTicket>>;
    /// Stores a mail's new status (and the ticket's copy of it) after an attempt.
    async fn update_mail(&self, mail: &MailRecord) -> StoreResult<()>;
    /// Queued mails due at `now`, oldest first.
    async fn due_mails(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<MailRecord>>;
    /// Keeps a deleted user's tickets for the support team but cuts them from the identity:
    /// owner becomes [`crate::domain::DETACHED_OWNER`] and the email is cleared.
    async fn detach_user(&self, user: &UserId) -> StoreResult<()>;
    /// Claims a due mail for one attempt by moving its due time to `until`, provided it is
    /// still queued and due at `due`: two workers never send the same attempt.
    async fn claim_mail(&self, mail: &MailRecord, until: DateTime<Utc>) -> StoreResult<bool>;
}
