//! Chat: a user's conversations with the assistant. Each message gets an answer; both are
//! stored in order, and the user's open sockets hear `assistant.started` then
//! `assistant.completed`. While a person handles the conversation (its ticket is open or
//! waiting, or resolved within the reopen window), the assistant is quiet: the message is stored
//! and forwarded to support in the ticket's mail thread, and the ticket waits on support.

use crate::telemetry::metrics::{self, Metric};
use std::sync::Arc;

use super::notifier::Notifier;
use crate::clock::Clock;
use crate::domain::mail::{Followup, MailSettings, followup_mail};
use crate::domain::{
    Append, Content, ConversationRecord, Cursor, MessageRecord, MessageView, Page, Principal, Role,
    ServerEvent, SupportTicket, TicketChange, TicketUpdate, TicketView, message_cursor, plausible_id,
};
use crate::ports::{Assistant, AssistantError, Conversations, StoreError, Stores, SupportTickets};

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
    /// The assistant's reply; none while a person handles the conversation.
    pub reply: Option<MessageRecord>,
    /// The ticket the message was forwarded to (with its new status), instead of a reply.
    pub forwarded_to: Option<SupportTicket>,
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
    /// A mail could not be built (a bug: addresses are validated at start-up and sign-up).
    #[error("{0}")]
    Internal(String),
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
    tickets: Arc<dyn SupportTickets>,
    assistant: Arc<dyn Assistant>,
    notifier: Notifier,
    mail: MailSettings,
    clock: Arc<dyn Clock>,
}

fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

impl ChatService {
    /// Wires the use cases: the stores (conversations; tickets, for forwarding), the
    /// assistant, the notifier, the mail addresses (forwarded messages go to support) and the
    /// clock.
    pub fn new(
        stores: &Stores,
        assistant: Arc<dyn Assistant>,
        notifier: Notifier,
        mail: MailSettings,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let (conversations, tickets) = (stores.conversations.clone(), stores.tickets.clone());
        Self { conversations, tickets, assistant, notifier, mail, clock }
    }

    /// The ticket of a person handling this conversation, if any: one a message of the user
    /// moves (open, waiting, or resolved within its reopen window).
    async fn handled_by(
        &self,
        conversation: &ConversationRecord,
    ) -> Result<Option<SupportTicket>, ChatError> {
        let Some(id) = &conversation.open_ticket else { return Ok(None) };
        let ticket = self.tickets.get(id).await?;
        let now = self.clock.now();
        Ok(ticket.filter(|t| matches!(t.apply(&TicketChange::UserWrote, now), Ok(Some(_)))))
    }

    /// Stores the message and forwards it to support in the ticket's thread (queued: the retry
    /// worker sends it), in one write with the ticket's move to `waiting_on_support`; then
    /// `ticket.updated`. Round trips: per attempt the write; on a conflict the conversation and
    /// ticket again.
    async fn forward(
        &self,
        principal: &Principal,
        mut conversation: ConversationRecord,
        mut ticket: SupportTicket,
        content: Content,
    ) -> Result<Exchange, ChatError> {
        let user = principal.user();
        let author =
            user.display_name.as_ref().map_or_else(|| user.email.as_str(), |n| n.as_str()).to_owned();
        for _ in 0..APPEND_ATTEMPTS {
            let now = self.clock.now();
            let Ok(Some(next)) = ticket.apply(&TicketChange::UserWrote, now) else {
                // Closed meanwhile: the assistant answers after all.
                return self.answer(principal, Some(conversation), content).await;
            };
            let count = conversation.message_count;
            let message = MessageRecord::new(count + 1, Role::User, content.as_str(), now);
            let followup = Followup::UserMessage { author: &author, content: content.as_str() };
            let mail = followup_mail(&self.mail, &next, followup, now)
                .map_err(|e| ChatError::Internal(e.to_string()))?;
            let append = Append::one(&conversation, message.clone(), now);
            let update = TicketUpdate { ticket: next, mails: vec![mail], append: Some(append) };
            match self.tickets.update(&update).await {
                Ok(()) => {
                    let event = ServerEvent::TicketUpdated { ticket: TicketView::summary(&update.ticket) };
                    self.notifier.to_user(&user.id, &event).await;
                    metrics::count(Metric::AssistantTurns, "forwarded");
                    return Ok(Exchange {
                        conversation_id: conversation.id,
                        message,
                        reply: None,
                        forwarded_to: Some(update.ticket),
                    });
                }
                Err(StoreError::Conflict) => {
                    conversation = self.owned(principal, &conversation.id).await?;
                    ticket = self.tickets.get(&ticket.id).await?.ok_or(ChatError::NotFound)?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(ChatError::Busy)
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
        let existing = match conversation_id {
            Some(id) => Some(self.owned(principal, id).await?),
            None => None,
        };
        if let Some(conversation) = &existing
            && let Some(ticket) = self.handled_by(conversation).await?
        {
            return self.forward(principal, conversation.clone(), ticket, content).await;
        }
        self.answer(principal, existing, content).await
    }

    /// The assistant's turn: its answer, stored with the message in one append.
    async fn answer(
        &self,
        principal: &Principal,
        mut existing: Option<ConversationRecord>,
        content: Content,
    ) -> Result<Exchange, ChatError> {
        let conversation_id = existing.as_ref().map_or_else(|| new_id("conv"), |c| c.id.clone());
        let mut targets = self.notifier.user_targets(&principal.user().id).await;
        let started = ServerEvent::AssistantStarted { conversation_id: conversation_id.clone() };
        self.notifier.send(&mut targets, &started).await;
        let answer = self.assistant.answer(content.as_str(), &[]).await?;

        for _ in 0..APPEND_ATTEMPTS {
            let now = self.clock.now();
            let count = existing.as_ref().map_or(0, |c| c.message_count);
            let message = MessageRecord::new(count + 1, Role::User, content.as_str(), now);
            let reply = MessageRecord {
                sources: answer.sources.clone(),
                suggest_escalation: answer.suggest_escalation,
                ..MessageRecord::new(count + 2, Role::Assistant, &answer.content, now)
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
                    return Ok(Exchange { conversation_id, message, reply: Some(reply), forwarded_to: None });
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
