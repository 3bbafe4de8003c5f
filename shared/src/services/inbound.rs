//! Inbound mail: a reply to one of a ticket's mails comes back into the ticket's conversation.
//! The receiving server's verdicts must trust the sender's domain, a recipient must be the
//! ticket's signed reply address, and the sender must be the support team (an agent's message)
//! or the ticket's owner (the user answered by mail). The reply's own text (quotes and
//! signature cut) is appended with the ticket's move, conditionally on its revision; an agent's
//! `#resolve`, `#pending` or `#close` line moves it further. Anything else is refused with a
//! reason and changes nothing.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use mail_parser::MessageParser;

use super::mailer::Mailer;
use super::notifier::Notifier;
use crate::clock::Clock;
use crate::domain::mail::{Followup, MailSettings, build_agent_reply, followup_mail};
use crate::domain::{
    Append, DETACHED_OWNER, LifecycleError, MAX_CONTENT_CHARS, MailCommand, MailRecord, MessageRecord,
    MessageView, Recipient, Role, ServerEvent, SupportTicket, TicketChange, TicketUpdate, TicketView,
    Verdicts, reply_text,
};
use crate::ports::{Conversations, StoreError, Stores, SupportTickets};
use crate::telemetry::metrics::{self, Metric};

/// Attempts at a write that keeps losing to concurrent ticket changes.
const ATTEMPTS: usize = 3;

/// Why a message was refused (nothing was written).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Not a MIME message.
    #[error("unparseable: not a mail message")]
    Unparseable,
    /// SPF and DKIM both failed, DMARC failed, or spam or a virus was found.
    #[error(
        "untrusted: the sender's domain did not pass SPF or DKIM, DMARC failed, or spam or a virus was found"
    )]
    Untrusted,
    /// No recipient is a reply address of ours with a valid signature.
    #[error("no reply address: no recipient is a ticket's signed reply address")]
    NoReplyAddress,
    /// The address names a ticket that does not exist (or whose owner deleted their account).
    #[error("unknown ticket")]
    UnknownTicket,
    /// The sender is neither the support team nor the ticket's owner.
    #[error("unknown sender: neither the support team nor the ticket's owner")]
    UnknownSender,
    /// Nothing of its own once quotes and signature are cut, and no command.
    #[error("empty: no text of its own and no command")]
    Empty,
    /// The ticket is closed.
    #[error("ticket closed")]
    Closed,
}

impl Refusal {
    /// A stable name for metrics and logs.
    pub fn code(self) -> &'static str {
        match self {
            Self::Unparseable => "unparseable",
            Self::Untrusted => "untrusted",
            Self::NoReplyAddress => "no_reply_address",
            Self::UnknownTicket => "unknown_ticket",
            Self::UnknownSender => "unknown_sender",
            Self::Empty => "empty",
            Self::Closed => "closed",
        }
    }
}

/// Why a message was not taken.
#[derive(Debug, thiserror::Error)]
pub enum InboundError {
    /// Refused for good: keep the message for inspection.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The store failed: try the message again later.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Concurrent changes kept winning: try again later.
    #[error("ticket busy")]
    Busy,
    /// A mail could not be built (a bug).
    #[error("{0}")]
    Internal(String),
}

/// A received message and what the receiving server says about it.
#[derive(Debug, Clone, Copy)]
pub struct Received<'a> {
    /// The raw MIME message.
    pub raw: &'a [u8],
    /// SPF, DKIM, DMARC, spam and virus verdicts.
    pub verdicts: Verdicts,
    /// The envelope recipients (SES's receipt); the `To` and `Cc` headers are read too.
    pub recipients: &'a [String],
}

/// What a taken message did.
#[derive(Debug, Clone)]
pub struct Accepted {
    /// The ticket after it.
    pub ticket: SupportTicket,
    /// The message appended to the conversation (none for a command alone).
    pub message: Option<MessageRecord>,
}

/// Who may write to a ticket by mail.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InboundPolicy {
    /// Agents besides the support address: addresses, or `@domain` for a whole domain.
    pub agents: Vec<String>,
}

/// Who wrote.
enum Author {
    Agent(String),
    User,
}

/// The inbound mail use case.
#[derive(Clone)]
pub struct InboundService {
    tickets: Arc<dyn SupportTickets>,
    conversations: Arc<dyn Conversations>,
    mailer: Mailer,
    notifier: Notifier,
    settings: MailSettings,
    policy: InboundPolicy,
    clock: Arc<dyn Clock>,
}

/// The verdicts a message's own `Authentication-Results` headers state (the local gateway's
/// stand-in for SES's receipt).
pub fn header_verdicts(raw: &[u8]) -> Verdicts {
    let Some(message) = MessageParser::default().parse(raw) else { return Verdicts::default() };
    let values: Vec<&str> = message
        .headers_raw()
        .filter(|(name, _)| name.eq_ignore_ascii_case("Authentication-Results"))
        .map(|(_, value)| value)
        .collect();
    Verdicts::from_authentication_results(values)
}

impl InboundService {
    /// Wires the use case: the stores, the mailer (mails it queues are tried at once), the
    /// notifier, the mail settings (their reply addresses and support address) and the policy.
    pub fn new(
        stores: &Stores,
        mailer: Mailer,
        notifier: Notifier,
        settings: MailSettings,
        policy: InboundPolicy,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let (tickets, conversations) = (stores.tickets.clone(), stores.conversations.clone());
        Self { tickets, conversations, mailer, notifier, settings, policy, clock }
    }

    fn author(&self, ticket: &SupportTicket, address: &str, name: Option<&str>) -> Result<Author, Refusal> {
        let address = address.trim().to_ascii_lowercase();
        let domain = address.rsplit_once('@').map(|(_, d)| format!("@{d}")).unwrap_or_default();
        let support = self.settings.support.email.to_string().to_ascii_lowercase();
        let agent = address == support || self.policy.agents.iter().any(|a| *a == address || *a == domain);
        if agent {
            let local = address.split('@').next().unwrap_or_default();
            return Ok(Author::Agent(
                name.map(str::trim).filter(|n| !n.is_empty()).unwrap_or(local).to_owned(),
            ));
        }
        if ticket.user_id.as_str() != DETACHED_OWNER && address == ticket.user_email.to_ascii_lowercase() {
            return Ok(Author::User);
        }
        Err(Refusal::UnknownSender)
    }

    /// Takes a reply into its ticket's conversation, or refuses it. Round trips: the ticket,
    /// the conversation, the owner's sockets, one write; then the mails it queued and the pushes.
    pub async fn receive(&self, mail: Received<'_>) -> Result<Accepted, InboundError> {
        let outcome = self.take(mail).await;
        match &outcome {
            Ok(_) => metrics::count(Metric::InboundMails, "taken"),
            Err(InboundError::Refused(why)) => metrics::count(Metric::InboundMails, why.code()),
            Err(_) => {}
        }
        outcome
    }

    async fn take(&self, mail: Received<'_>) -> Result<Accepted, InboundError> {
        let replies = self.settings.replies.as_ref().ok_or(Refusal::NoReplyAddress)?;
        let message = MessageParser::default().parse(mail.raw).ok_or(Refusal::Unparseable)?;
        if !mail.verdicts.trusted() {
            return Err(Refusal::Untrusted.into());
        }
        let from = message.from().and_then(|a| a.first()).ok_or(Refusal::Unparseable)?;
        let address = from.address().ok_or(Refusal::Unparseable)?;
        let headers = [message.to(), message.cc()].into_iter().flatten().flat_map(|a| a.iter());
        let ticket_id = mail
            .recipients
            .iter()
            .map(String::as_str)
            .chain(headers.filter_map(|a| a.address()))
            .find_map(|a| replies.ticket_of(a))
            .ok_or(Refusal::NoReplyAddress)?;
        let mut ticket = self.tickets.get(&ticket_id).await?.ok_or(Refusal::UnknownTicket)?;
        let author = self.author(&ticket, address, from.name())?;
        let body = message.body_text(0).unwrap_or_default();
        let reply = reply_text(&body);
        let command = if matches!(author, Author::Agent(_)) { reply.command } else { None };
        let text: String = reply.text.chars().take(MAX_CONTENT_CHARS).collect();
        if text.is_empty() && command.is_none() {
            return Err(Refusal::Empty.into());
        }
        for _ in 0..ATTEMPTS {
            let now = self.clock.now();
            let next = next_state(&ticket, &author, !text.is_empty(), command, now)?;
            let conversation =
                self.conversations.get(&ticket.conversation_id).await?.ok_or(Refusal::UnknownTicket)?;
            let count = conversation.message_count;
            let appended = (!text.is_empty()).then(|| match &author {
                Author::Agent(name) => MessageRecord {
                    author: Some(name.clone()),
                    ..MessageRecord::new(count + 1, Role::Agent, &text, now)
                },
                Author::User => MessageRecord::new(count + 1, Role::User, &text, now),
            });
            let mut targets = self.notifier.user_targets(&ticket.user_id).await;
            let mails = self.mails(&next, &author, appended.as_ref(), targets.is_empty(), now)?;
            let append = appended.clone().map(|m| Append::one(&conversation, m, now));
            let update = TicketUpdate { ticket: next, mails, append };
            match self.tickets.update(&update).await {
                Ok(()) => {
                    for m in &update.mails {
                        self.mailer.attempt(m, &format!("{}-{}", update.ticket.number, m.mail_id)).await;
                    }
                    if let (Some(m), Author::Agent(_)) = (&appended, &author) {
                        let event = ServerEvent::AgentMessage {
                            conversation_id: conversation.id.clone(),
                            message: MessageView::from(m),
                        };
                        self.notifier.send(&mut targets, &event).await;
                    }
                    let event = ServerEvent::TicketUpdated { ticket: TicketView::summary(&update.ticket) };
                    self.notifier.send(&mut targets, &event).await;
                    return Ok(Accepted { ticket: update.ticket, message: appended });
                }
                Err(StoreError::Conflict) => {
                    ticket = self.tickets.get(&ticket_id).await?.ok_or(Refusal::UnknownTicket)?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(InboundError::Busy)
    }

    /// The mails a taken message queues: an agent's text goes to the user by mail when none of
    /// their sockets is live; a user's text goes to support in the thread.
    fn mails(
        &self,
        ticket: &SupportTicket,
        author: &Author,
        message: Option<&MessageRecord>,
        offline: bool,
        now: DateTime<Utc>,
    ) -> Result<Vec<MailRecord>, InboundError> {
        let internal = |e: crate::domain::mail::BuildError| InboundError::Internal(e.to_string());
        let Some(message) = message else { return Ok(Vec::new()) };
        match author {
            Author::Agent(name) if offline => {
                let mail_id = format!("agent-{}-user", ticket.revision);
                let mail = build_agent_reply(&self.settings, ticket, &mail_id, name, &message.content)
                    .map_err(internal)?;
                Ok(vec![MailRecord::queued(&ticket.id, mail_id, Recipient::User, mail, now)])
            }
            Author::Agent(_) => Ok(Vec::new()),
            Author::User => {
                let followup =
                    Followup::UserMessage { author: &ticket.user_email, content: &message.content };
                Ok(vec![followup_mail(&self.settings, ticket, followup, now).map_err(internal)?])
            }
        }
    }
}

/// The ticket after the author wrote (if they did) and the agent's command, as one change.
fn next_state(
    ticket: &SupportTicket,
    author: &Author,
    wrote: bool,
    command: Option<MailCommand>,
    now: DateTime<Utc>,
) -> Result<SupportTicket, Refusal> {
    let wrote = wrote.then_some(match author {
        Author::Agent(_) => TicketChange::AgentWrote,
        Author::User => TicketChange::UserWrote,
    });
    let command = command.map(|c| match c {
        MailCommand::Resolve => TicketChange::Resolve,
        MailCommand::Pending => TicketChange::Pending,
        MailCommand::Close => TicketChange::Close,
    });
    let mut next = ticket.clone();
    for change in wrote.iter().chain(command.iter()) {
        match next.apply(change, now) {
            Ok(Some(changed)) => next = changed,
            Ok(None) => {}
            Err(LifecycleError::Closed | LifecycleError::NotResolved | LifecycleError::AlreadyRated) => {
                return Err(Refusal::Closed);
            }
        }
    }
    // One write, however many steps: conditional on the revision read.
    next.revision = ticket.revision + 1;
    next.updated_at = now;
    Ok(next)
}
