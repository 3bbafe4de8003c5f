//! Escalation: a conversation becomes a numbered support ticket with a transcript, and two mails
//! (support, user) written with the ticket first and then sent (see `mailer`).

use crate::telemetry::metrics::{self, Metric};
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};

use super::mailer::Mailer;
use super::notifier::Notifier;
use crate::auth::authenticate::current_profile;
use crate::clock::{Clock, rfc3339};
use crate::domain::mail::{About, Followup, MailSettings, build, followup_mail};
use crate::domain::{
    ConversationRecord, Cursor, DETACHED_OWNER, EscalationRequest, IdempotencyKey, KEY_LIFETIME,
    LifecycleError, MailRecord, MailStatus, MessageRecord, NewTicket, Page, Principal, REOPEN_WINDOW,
    Recipient, ServerEvent, SupportTicket, TicketChange, TicketStatus, TicketUpdate, TicketView,
    TranscriptLine, plausible_id, ticket_number,
};
use crate::domain::{Rating, Score};
use crate::ports::{Conversations, CreateConflict, StoreError, Stores, SupportTickets, UserStore};

/// Attempts to take a day number before giving up. Each conflict means another ticket won, so
/// under N simultaneous escalations the last one needs up to N attempts.
const NUMBER_ATTEMPTS: u32 = 40;
/// Transcript text kept in a ticket (and its support mail); older messages beyond it are
/// summarised, so the ticket stays within DynamoDB's item size.
const MAX_TRANSCRIPT_CHARS: usize = 100_000;
/// The cursor kind of the tickets list.
pub const TICKETS: &str = "t";

/// Attempts at a ticket change that keeps losing to concurrent changes (each loss re-reads).
const CHANGE_ATTEMPTS: usize = 3;

/// Ticket numbering and mail retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EscalationPolicy {
    /// `AB` in `AB-20260109-0004`.
    pub prefix: String,
    /// Attempts before a mail is marked failed.
    pub max_attempts: u32,
    /// Wait before the first retry; doubles each time (capped at an hour).
    pub retry_base: Duration,
}

impl Default for EscalationPolicy {
    fn default() -> Self {
        Self { prefix: "AB".into(), max_attempts: 5, retry_base: Duration::seconds(60) }
    }
}

/// What an escalation produced.
#[derive(Debug, Clone)]
pub struct Escalated {
    /// The ticket, with mail statuses after the first attempts.
    pub ticket: SupportTicket,
    /// False when an existing ticket was returned (key seen, or the conversation had one).
    pub created: bool,
}

/// Why an escalation failed.
#[derive(Debug, thiserror::Error)]
pub enum EscalationError {
    /// No such conversation or ticket for this user.
    #[error("not found")]
    NotFound,
    /// Numbers kept being taken by concurrent escalations.
    #[error("ticket numbering busy")]
    Busy,
    /// The user's address is not verified: nothing may be mailed to it.
    #[error("email unverified")]
    EmailUnverified,
    /// The ticket's lifecycle does not allow the change.
    #[error(transparent)]
    Lifecycle(#[from] LifecycleError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A mail could not be built (a bug: addresses are validated at start-up and sign-up).
    #[error("{0}")]
    Internal(String),
}

/// The escalation use cases.
#[derive(Clone)]
pub struct EscalationService {
    users: Arc<dyn UserStore>,
    conversations: Arc<dyn Conversations>,
    tickets: Arc<dyn SupportTickets>,
    mailer: Mailer,
    settings: MailSettings,
    notifier: Notifier,
    policy: EscalationPolicy,
    clock: Arc<dyn Clock>,
}

fn transcript_of(messages: &[MessageRecord]) -> Vec<TranscriptLine> {
    let mut kept = Vec::new();
    let mut budget = MAX_TRANSCRIPT_CHARS;
    for m in messages.iter().rev() {
        let size = m.content.chars().count();
        if size > budget {
            kept.push(TranscriptLine {
                role: "system".into(),
                content: format!("({} earlier messages omitted)", messages.len() - kept.len()),
                created_at: rfc3339(m.created_at),
                sources: Vec::new(),
            });
            break;
        }
        budget -= size;
        kept.push(TranscriptLine {
            role: m.role.as_str().into(),
            content: m.content.clone(),
            created_at: rfc3339(m.created_at),
            sources: m.sources.clone(),
        });
    }
    kept.reverse();
    kept
}

/// What a ticket is made of before its number is known.
struct Draft<'a> {
    id: String,
    principal: &'a Principal,
    conversation: &'a ConversationRecord,
    transcript: Vec<TranscriptLine>,
    request: &'a EscalationRequest,
}

impl EscalationService {
    /// Wires the use cases: the stores (users, whose address must be verified; conversations;
    /// tickets), the mailer, the mail addresses, the notifier, the numbering and retry policy,
    /// the clock.
    pub fn new(
        stores: &Stores,
        mailer: Mailer,
        settings: MailSettings,
        notifier: Notifier,
        policy: EscalationPolicy,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let (users, conversations, tickets) =
            (stores.users.clone(), stores.conversations.clone(), stores.tickets.clone());
        Self { users, conversations, tickets, mailer, settings, notifier, policy, clock }
    }

    /// The caller's ticket, or `NotFound` (also for someone else's).
    pub async fn ticket(&self, principal: &Principal, id: &str) -> Result<SupportTicket, EscalationError> {
        if !plausible_id(id) {
            return Err(EscalationError::NotFound);
        }
        self.tickets
            .get(id)
            .await?
            .filter(|t| t.user_id == principal.user().id)
            .ok_or(EscalationError::NotFound)
    }

    /// A page of the caller's tickets, newest first.
    pub async fn list(
        &self,
        principal: &Principal,
        before: Option<Cursor>,
        limit: u32,
    ) -> Result<Page<SupportTicket>, EscalationError> {
        let items = self.tickets.list(&principal.user().id, before, limit + 1).await?;
        Ok(Page::cut(items, limit, |t| Cursor::new(t.created_at, &t.id).encode(TICKETS)))
    }

    /// Opens a ticket for the caller's conversation, or returns the one its key or the
    /// conversation already has. Store round trips: the transcript read, the day counter, one
    /// transaction; then one write per mail attempt.
    pub async fn escalate(
        &self,
        principal: &Principal,
        request: EscalationRequest,
    ) -> Result<Escalated, EscalationError> {
        let escalated = async {
            // A ticket mails the user: only to an address they proved is theirs.
            if !current_profile(principal, &*self.users).await?.is_some_and(|p| p.email_verified) {
                return Err(EscalationError::EmailUnverified);
            }
            if !plausible_id(&request.conversation_id) {
                return Err(EscalationError::NotFound);
            }
            let (conversation, messages) = self
                .conversations
                .transcript(&request.conversation_id)
                .await?
                .filter(|(c, _)| c.user_id == principal.user().id)
                .ok_or(EscalationError::NotFound)?;
            if let Some(existing) = &conversation.open_ticket {
                return self.existing(principal, existing).await;
            }
            let draft = Draft {
                id: format!("tkt_{}", uuid::Uuid::new_v4().simple()),
                principal,
                conversation: &conversation,
                transcript: transcript_of(&messages),
                request: &request,
            };
            for attempt in 0..NUMBER_ATTEMPTS {
                let now = self.clock.now();
                let day = now.date_naive();
                let counter = self.tickets.counter(day).await?;
                let new = self.number(&draft, day, counter, now)?;
                match self.tickets.create(&new).await? {
                    Ok(()) => return Ok(Escalated { ticket: self.deliver(new).await, created: true }),
                    Err(CreateConflict::Counter) => backoff(attempt).await,
                    Err(conflict) => {
                        if let Some(found) = self.already_open(&draft, conflict, now).await? {
                            return Ok(found);
                        }
                    }
                }
            }
            Err(EscalationError::Busy)
        }
        .await?;
        metrics::count(Metric::Escalations, if escalated.created { "created" } else { "existing" });
        Ok(escalated)
    }

    /// The whole write for a draft numbered `counter + 1` on `day`: the ticket, its two mails
    /// (queued), and the idempotency key.
    fn number(
        &self,
        draft: &Draft<'_>,
        day: NaiveDate,
        counter: u64,
        now: DateTime<Utc>,
    ) -> Result<NewTicket, EscalationError> {
        let user = draft.principal.user();
        let ticket = SupportTicket {
            id: draft.id.clone(),
            number: ticket_number(&self.policy.prefix, day, counter + 1),
            user_id: user.id.clone(),
            user_email: user.email.as_str().to_owned(),
            conversation_id: draft.conversation.id.clone(),
            subject: draft.request.subject.clone().unwrap_or_else(|| draft.conversation.title.clone()),
            description: draft.request.description.clone(),
            priority: draft.request.priority,
            status: TicketStatus::Open,
            created_at: now,
            updated_at: now,
            resolved_at: None,
            rating: None,
            revision: 0,
            transcript: draft.transcript.clone(),
            mail_support: MailStatus::Queued,
            mail_user: MailStatus::Queued,
            message_id_support: None,
            message_id_user: None,
        };
        let mut mails = Vec::with_capacity(2);
        for recipient in [Recipient::Support, Recipient::User] {
            let about = About {
                user_name: user.display_name.as_ref().map(|n| n.as_str()),
                web_client: self.settings.web_client.as_deref().or(draft.request.site.as_deref()),
            };
            let mail = build(&self.settings, &ticket, recipient, &about)
                .map_err(|e| EscalationError::Internal(e.to_string()))?;
            // The escalation's two mails are named after their recipient.
            mails.push(MailRecord::queued(&draft.id, recipient.as_str().to_owned(), recipient, mail, now));
        }
        let idempotency = draft.request.idempotency_key.as_ref().map(|key| IdempotencyKey {
            user_id: user.id.clone(),
            key: key.clone(),
            expires_at: now + KEY_LIFETIME,
        });
        Ok(NewTicket { ticket, mails, day, counter_expected: counter, idempotency })
    }

    /// The ticket a lost race left in place: the one the idempotency key made, or the one the
    /// conversation got meanwhile. `None` when the key's ticket is not readable yet (go again).
    async fn already_open(
        &self,
        draft: &Draft<'_>,
        conflict: CreateConflict,
        now: DateTime<Utc>,
    ) -> Result<Option<Escalated>, EscalationError> {
        let principal = draft.principal;
        let id = match conflict {
            CreateConflict::Counter => return Ok(None),
            CreateConflict::KeySeen => {
                let key = draft.request.idempotency_key.as_deref().unwrap_or_default();
                match self.tickets.by_key(&principal.user().id, key, now).await? {
                    Some(id) => id,
                    None => return Ok(None),
                }
            }
            CreateConflict::ConversationHasTicket => {
                let (latest, _) = self
                    .conversations
                    .transcript(&draft.conversation.id)
                    .await?
                    .ok_or(EscalationError::NotFound)?;
                latest.open_ticket.ok_or(EscalationError::Busy)?
            }
        };
        self.existing(principal, &id).await.map(Some)
    }

    async fn existing(&self, principal: &Principal, id: &str) -> Result<Escalated, EscalationError> {
        Ok(Escalated { ticket: self.ticket(principal, id).await?, created: false })
    }

    /// Applies the caller's change (resolve, rate) to their ticket: written conditionally on
    /// the ticket's revision with a mail telling support, then that mail's first attempt and a
    /// `ticket.updated` event. A change that changes nothing returns the ticket as it is.
    pub async fn change(
        &self,
        principal: &Principal,
        id: &str,
        change: TicketChange,
    ) -> Result<SupportTicket, EscalationError> {
        for _ in 0..CHANGE_ATTEMPTS {
            let ticket = self.ticket(principal, id).await?;
            let now = self.clock.now();
            let Some(next) = ticket.apply(&change, now)? else { return Ok(ticket) };
            let followup = match &change {
                TicketChange::Rate(rating) => Followup::Rated(rating),
                _ => Followup::Resolved,
            };
            let mail = followup_mail(&self.settings, &next, followup, now)
                .map_err(|e| EscalationError::Internal(e.to_string()))?;
            let update = TicketUpdate { ticket: next, mails: vec![mail], append: None };
            match self.tickets.update(&update).await {
                Ok(()) => {
                    for mail in &update.mails {
                        self.mailer
                            .attempt(mail, &format!("{}-{}", update.ticket.number, mail.mail_id))
                            .await;
                    }
                    let event = ServerEvent::TicketUpdated { ticket: TicketView::summary(&update.ticket) };
                    self.notifier.to_user(&update.ticket.user_id, &event).await;
                    return Ok(update.ticket);
                }
                // A mail or the user changed it meanwhile: read it again.
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(EscalationError::Busy)
    }

    /// The caller's one rating of their resolved ticket, stamped now (see [`Self::change`]).
    pub async fn rate(
        &self,
        principal: &Principal,
        id: &str,
        score: Score,
        comment: String,
    ) -> Result<SupportTicket, EscalationError> {
        let rating = Rating { score, comment, rated_at: rfc3339(self.clock.now()) };
        self.change(principal, id, TicketChange::Rate(rating)).await
    }

    /// Closes up to `limit` resolved tickets whose reopen window is over and tells their
    /// owners; returns how many it closed. A ticket changed meanwhile is left for the next run.
    pub async fn close_expired(&self, limit: u32) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let mut closed = 0;
        for ticket in self.tickets.resolved_before(now - REOPEN_WINDOW, limit).await? {
            let Ok(Some(next)) = ticket.apply(&TicketChange::Close, now) else { continue };
            let update = TicketUpdate { ticket: next, mails: Vec::new(), append: None };
            match self.tickets.update(&update).await {
                Ok(()) => {
                    closed += 1;
                    if update.ticket.user_id.as_str() != DETACHED_OWNER {
                        let event =
                            ServerEvent::TicketUpdated { ticket: TicketView::summary(&update.ticket) };
                        self.notifier.to_user(&update.ticket.user_id, &event).await;
                    }
                }
                Err(StoreError::Conflict) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(closed)
    }

    /// First attempt at both mails, right after the commit; then the live event.
    async fn deliver(&self, new: NewTicket) -> SupportTicket {
        let mut ticket = new.ticket;
        for mail in &new.mails {
            let name = format!("{}-{}", ticket.number, mail.mail_id);
            let after = self.mailer.attempt(mail, &name).await;
            match after.recipient {
                Recipient::Support => {
                    (ticket.mail_support, ticket.message_id_support) = (after.status, after.sent_message_id)
                }
                Recipient::User => {
                    (ticket.mail_user, ticket.message_id_user) = (after.status, after.sent_message_id)
                }
            }
        }
        let event = ServerEvent::TicketCreated { ticket: TicketView::summary(&ticket) };
        self.notifier.to_user(&ticket.user_id, &event).await;
        ticket
    }
}

/// Another ticket took this number: back off a little more each time, with jitter so the losers
/// do not collide again in step.
async fn backoff(attempt: u32) {
    let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0] % 20);
    let wait = 5 * (1u64 << attempt.min(4));
    tokio::time::sleep(std::time::Duration::from_millis(wait + jitter)).await;
}
