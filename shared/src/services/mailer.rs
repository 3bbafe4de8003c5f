//! Ticket mail delivery: every mail is tried right after its ticket is written, then retried
//! with doubling backoff by the scheduled worker until it is sent or out of attempts; every
//! outcome is stored, none is dropped.

use crate::telemetry::metrics::{self, Metric};
use std::sync::Arc;

use chrono::Duration;
use serde::Serialize;

use super::escalation::EscalationPolicy;
use super::notifier::Notifier;
use crate::clock::Clock;
use crate::domain::mail::MailSettings;
use crate::domain::{MailRecord, MailStatus, ServerEvent, TicketView};
use crate::ports::{MailTransport, OutgoingMail, StoreError, SupportTickets};

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
    /// Resolved tickets closed because their reopen window ended (the same worker's run).
    pub closed: usize,
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
            Ok(sent) => MailRecord {
                status: MailStatus::Sent,
                attempts,
                last_error: None,
                sent_message_id: sent.message_id,
                ..mail.clone()
            },
            Err(e) => {
                let exhausted = attempts >= self.policy.max_attempts;
                let wait =
                    (self.policy.retry_base * 2i32.saturating_pow(attempts - 1)).min(Duration::hours(1));
                tracing::warn!(ticket_id = %mail.ticket_id, mail_id = %mail.mail_id, attempts, error = %e,
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
        metrics::count(Metric::Mails, updated.status.as_str());
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
            let name = format!("{}-{}", ticket.number, claimed.mail_id);
            let after = self.attempt(&claimed, &name).await;
            match after.status {
                MailStatus::Sent => run.sent += 1,
                MailStatus::Queued => run.requeued += 1,
                MailStatus::Failed => run.failed += 1,
            }
            let retried = if after.status == MailStatus::Queued { "requeued" } else { after.status.as_str() };
            metrics::count(Metric::MailRetries, retried);
            // The ticket shows its first two mails' statuses; later mails are support's thread.
            if after.status != MailStatus::Queued
                && after.is_first()
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
