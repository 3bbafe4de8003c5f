//! Escalation: a conversation becomes a numbered support ticket with a transcript, and two mails
//! (support, user) that are written with the ticket first and then sent, retried, or marked
//! failed — never dropped.

use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;

use super::chat::plausible_id;
use super::mail::{MailSettings, build, header_safe};
use super::ws::{Notifier, ServerEvent};
use crate::auth::Principal;
use crate::clock::{Clock, rfc3339};
use crate::ports::{
    Conversations, CreateConflict, IdempotencyKey, MailRecord, MailStatus, MailTransport, NewTicket,
    OutgoingMail, Priority, Recipient, StoreError, SupportTicket, SupportTickets, TranscriptLine, UserStore,
};

/// How long an `Idempotency-Key` is remembered.
pub const KEY_LIFETIME: Duration = Duration::hours(24);
/// Attempts to take a day number before giving up. Each conflict means another ticket won, so
/// under N simultaneous escalations the last one needs up to N attempts.
const NUMBER_ATTEMPTS: u32 = 40;
/// Longest subject, in characters.
pub const MAX_SUBJECT_CHARS: usize = 200;
/// Longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 4000;
/// Transcript text kept in a ticket (and its support mail); older messages beyond it are
/// summarised, so the ticket stays within DynamoDB's item size.
const MAX_TRANSCRIPT_CHARS: usize = 100_000;

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
    status: String,
    priority: Priority,
    subject: String,
    description: String,
    conversation_id: String,
    created_at: String,
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
            status: t.status.clone(),
            priority: t.priority,
            subject: t.subject.clone(),
            description: t.description.clone(),
            conversation_id: t.conversation_id.clone(),
            created_at: rfc3339(t.created_at),
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
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A mail could not be built (a bug: addresses are validated at start-up and sign-up).
    #[error("{0}")]
    Internal(String),
}

/// Sends ticket mails and records every outcome.
#[derive(Clone)]
pub struct Mailer {
    tickets: Arc<dyn SupportTickets>,
    transport: Arc<dyn MailTransport>,
    from: String,
    policy: EscalationPolicy,
    clock: Arc<dyn Clock>,
}

/// What one retry run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RetryRun {
    /// Due mails found.
    pub due: usize,
    /// Sent now.
    pub sent: usize,
    /// Failed again, to be retried later.
    pub requeued: usize,
    /// Out of attempts: marked failed.
    pub failed: usize,
    /// Claimed by another worker first.
    pub skipped: usize,
}

impl Mailer {
    /// A mailer over the ticket store and a transport.
    pub fn new(
        tickets: Arc<dyn SupportTickets>,
        transport: Arc<dyn MailTransport>,
        settings: &MailSettings,
        policy: EscalationPolicy,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self { tickets, transport, from: settings.from.email.to_string(), policy, clock }
    }

    /// Tries one mail once and stores the outcome: sent, queued with its error and the next
    /// attempt time, or failed after the last attempt.
    pub async fn attempt(&self, mail: &MailRecord, name: &str) -> MailRecord {
        let outgoing = OutgoingMail { from: &self.from, to: &mail.to, raw: &mail.raw, name };
        let outcome = self.transport.send(&outgoing).await;
        let now = self.clock.now();
        let attempts = mail.attempts + 1;
        let updated = match outcome {
            Ok(()) => MailRecord { status: MailStatus::Sent, attempts, last_error: None, ..mail.clone() },
            Err(e) => {
                let exhausted = attempts >= self.policy.max_attempts;
                let wait =
                    (self.policy.retry_base * 2i32.saturating_pow(attempts - 1)).min(Duration::hours(1));
                tracing::warn!(ticket_id = %mail.ticket_id, recipient = mail.recipient.as_str(), attempts, error = %e,
                    "mail not sent");
                MailRecord {
                    status: if exhausted { MailStatus::Failed } else { MailStatus::Queued },
                    attempts,
                    last_error: Some(e.0),
                    next_attempt_at: now + wait,
                    ..mail.clone()
                }
            }
        };
        if let Err(e) = self.tickets.update_mail(&updated).await {
            // The stored mail keeps its previous state; the retry worker will try it again.
            // If it was sent, that second send is the one duplicate at-least-once allows.
            tracing::error!(ticket_id = %mail.ticket_id, error = %e, "mail status not stored");
            return mail.clone();
        }
        updated
    }

    /// One run of the retry worker: claims the due mails, tries each once, and tells the
    /// ticket's owner about changed statuses.
    pub async fn retry_due(&self, notifier: &Notifier, limit: u32) -> Result<RetryRun, StoreError> {
        let now = self.clock.now();
        let due = self.tickets.due_mails(now, limit).await?;
        let mut run = RetryRun { due: due.len(), ..RetryRun::default() };
        for mail in due {
            // A claimed mail is invisible to other workers for a while; if this worker dies,
            // the mail comes due again then.
            if !self.tickets.claim_mail(&mail, now + Duration::minutes(5)).await? {
                run.skipped += 1;
                continue;
            }
            let claimed = MailRecord { next_attempt_at: now + Duration::minutes(5), ..mail };
            let Some(ticket) = self.tickets.get(&claimed.ticket_id).await? else { continue };
            let name = format!("{}-{}", ticket.number, claimed.recipient.as_str());
            let after = self.attempt(&claimed, &name).await;
            match after.status {
                MailStatus::Sent => run.sent += 1,
                MailStatus::Queued => run.requeued += 1,
                MailStatus::Failed => run.failed += 1,
            }
            if after.status != MailStatus::Queued
                && let Some(ticket) = self.tickets.get(&after.ticket_id).await?
            {
                let event =
                    ServerEvent::TicketMail { ticket_id: ticket.id.clone(), mail: TicketView::mail(&ticket) };
                notifier.to_user(&ticket.user_id, &event).await;
            }
        }
        Ok(run)
    }
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

fn transcript_of(messages: &[crate::ports::MessageRecord]) -> Vec<TranscriptLine> {
    let mut kept = Vec::new();
    let mut budget = MAX_TRANSCRIPT_CHARS;
    for m in messages.iter().rev() {
        let size = m.content.chars().count();
        if size > budget {
            kept.push(TranscriptLine {
                role: "system".into(),
                content: format!("({} earlier messages omitted)", messages.len() - kept.len()),
                created_at: rfc3339(m.created_at),
            });
            break;
        }
        budget -= size;
        kept.push(TranscriptLine {
            role: m.role.as_str().into(),
            content: m.content.clone(),
            created_at: rfc3339(m.created_at),
        });
    }
    kept.reverse();
    kept
}

impl EscalationService {
    /// Wires the use cases.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        users: Arc<dyn UserStore>,
        conversations: Arc<dyn Conversations>,
        tickets: Arc<dyn SupportTickets>,
        mailer: Mailer,
        settings: MailSettings,
        notifier: Notifier,
        policy: EscalationPolicy,
        clock: Arc<dyn Clock>,
    ) -> Self {
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
        before: Option<(DateTime<Utc>, String)>,
        limit: u32,
    ) -> Result<Vec<SupportTicket>, EscalationError> {
        Ok(self.tickets.list(&principal.user().id, before, limit).await?)
    }

    /// Opens a ticket for the caller's conversation, or returns the one its key or the
    /// conversation already has. Store round trips: the transcript read, the day counter, one
    /// transaction; then one write per mail attempt.
    pub async fn escalate(
        &self,
        principal: &Principal,
        request: EscalationRequest,
    ) -> Result<Escalated, EscalationError> {
        let user = &principal.user().id;
        // A ticket mails the user: only to an address they proved is theirs.
        if !principal.current_profile(&*self.users).await?.is_some_and(|p| p.email_verified) {
            return Err(EscalationError::EmailUnverified);
        }
        if !plausible_id(&request.conversation_id) {
            return Err(EscalationError::NotFound);
        }
        let (conversation, messages) = self
            .conversations
            .transcript(&request.conversation_id)
            .await?
            .filter(|(c, _)| &c.user_id == user)
            .ok_or(EscalationError::NotFound)?;
        if let Some(existing) = &conversation.open_ticket {
            return self.existing(principal, existing).await;
        }
        let id = format!("tkt_{}", uuid::Uuid::new_v4().simple());
        let transcript = transcript_of(&messages);
        for attempt in 0..NUMBER_ATTEMPTS {
            let now = self.clock.now();
            let day = now.date_naive();
            let counter = self.tickets.counter(day).await?;
            let ticket = SupportTicket {
                id: id.clone(),
                number: ticket_number(&self.policy.prefix, day, counter + 1),
                user_id: user.clone(),
                user_email: principal.user().email.as_str().to_owned(),
                conversation_id: conversation.id.clone(),
                subject: request.subject.clone().unwrap_or_else(|| conversation.title.clone()),
                description: request.description.clone(),
                priority: request.priority,
                status: "open".into(),
                created_at: now,
                transcript: transcript.clone(),
                mail_support: MailStatus::Queued,
                mail_user: MailStatus::Queued,
            };
            let mut mails = Vec::with_capacity(2);
            for recipient in [Recipient::Support, Recipient::User] {
                let (to, raw) = build(&self.settings, &ticket, recipient)
                    .map_err(|e| EscalationError::Internal(e.to_string()))?;
                mails.push(MailRecord {
                    ticket_id: id.clone(),
                    recipient,
                    to,
                    raw,
                    status: MailStatus::Queued,
                    attempts: 0,
                    last_error: None,
                    next_attempt_at: now,
                });
            }
            let idempotency = request.idempotency_key.as_ref().map(|key| IdempotencyKey {
                user_id: user.clone(),
                key: key.clone(),
                expires_at: now + KEY_LIFETIME,
            });
            let new = NewTicket { ticket, mails, day, counter_expected: counter, idempotency };
            match self.tickets.create(&new).await? {
                Ok(()) => return Ok(Escalated { ticket: self.deliver(new).await, created: true }),
                Err(CreateConflict::Counter) => {
                    // Another ticket took this number: back off a little more each time, with
                    // jitter so the losers do not collide again in step.
                    let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0] % 20);
                    let backoff = 5 * (1u64 << attempt.min(4));
                    tokio::time::sleep(std::time::Duration::from_millis(backoff + jitter)).await;
                }
                Err(CreateConflict::KeySeen) => {
                    let key = request.idempotency_key.as_deref().unwrap_or_default();
                    let Some(ticket_id) = self.tickets.by_key(user, key, now).await? else { continue };
                    return self.existing(principal, &ticket_id).await;
                }
                Err(CreateConflict::ConversationHasTicket) => {
                    let (latest, _) = self
                        .conversations
                        .transcript(&conversation.id)
                        .await?
                        .ok_or(EscalationError::NotFound)?;
                    let existing = latest.open_ticket.ok_or(EscalationError::Busy)?;
                    return self.existing(principal, &existing).await;
                }
            }
        }
        Err(EscalationError::Busy)
    }

    async fn existing(&self, principal: &Principal, id: &str) -> Result<Escalated, EscalationError> {
        Ok(Escalated { ticket: self.ticket(principal, id).await?, created: false })
    }

    /// First attempt at both mails, right after the commit; then the live event.
    async fn deliver(&self, new: NewTicket) -> SupportTicket {
        let mut ticket = new.ticket;
        for mail in &new.mails {
            let name = format!("{}-{}", ticket.number, mail.recipient.as_str());
            let after = self.mailer.attempt(mail, &name).await;
            match after.recipient {
                Recipient::Support => ticket.mail_support = after.status,
                Recipient::User => ticket.mail_user = after.status,
            }
        }
        let event = ServerEvent::TicketCreated { ticket: TicketView::summary(&ticket) };
        self.notifier.to_user(&ticket.user_id, &event).await;
        ticket
    }
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
