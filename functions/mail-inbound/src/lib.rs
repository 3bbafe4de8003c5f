//! The `mail-inbound` function: SES receiving stores each message sent to the inbound domain in
//! S3, then invokes this with its receipt (one message per event). The message is read from the
//! bucket and taken into its ticket's conversation with SES's verdicts, or refused with a reason
//! in the log and left in the bucket for inspection (the bucket's lifecycle deletes it later).
//! A store failure fails the invocation, so Lambda tries the event again.

use std::sync::Arc;

use aws_lambda_events::event::ses::{SimpleEmailEvent, SimpleEmailRecord, SimpleEmailVerdict};
use serde::Serialize;
use shared::config::{EscalationConfig, inbound_policy};
use shared::domain::Verdicts;
use shared::env::ConfigError;
use shared::ports::ReceivedMail;
use shared::runtime::{EventFunction, Wiring};
use shared::services::{InboundError, InboundService, Mailer, Notifier, Received};
use shared::telemetry::metrics::{self, Metric};

/// The inbound mail use case over the wiring's stores, mail and push: what this function runs,
/// and what the local gateway runs on its inbox folder.
pub fn service(w: &Wiring) -> Result<InboundService, ConfigError> {
    let config = EscalationConfig::from_source(w.settings())?;
    let stores = w.stores();
    let clock = w.clock();
    let mailer =
        Mailer::new(stores.tickets.clone(), w.mail()?, &config.mail, config.policy.clone(), clock.clone());
    let notifier = Notifier::new(stores, w.push()?, clock.clone());
    Ok(InboundService::new(stores, mailer, notifier, config.mail, inbound_policy(w.settings())?, clock))
}

/// The function.
#[derive(Clone)]
pub struct MailInbound {
    service: InboundService,
    received: Arc<dyn ReceivedMail>,
}

/// What became of one invocation's messages.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct InboundRun {
    /// Messages taken into a conversation.
    pub taken: u32,
    /// Messages refused, each with its reason and where it is kept.
    pub refused: Vec<RefusedMail>,
}

/// A refused message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefusedMail {
    /// SES's message id.
    pub message_id: String,
    /// A stable reason code (`untrusted`, `unknown_sender`, …; `not_stored`, `internal`).
    pub reason: String,
    /// Where the message is kept (`s3://bucket/key`).
    pub location: String,
}

impl MailInbound {
    /// Builds the function from the wiring: the inbound use case and the received messages.
    pub fn build(w: &Wiring) -> Result<Self, ConfigError> {
        Ok(Self::new(service(w)?, w.received_mail()?))
    }

    /// Wires the function.
    pub fn new(service: InboundService, received: Arc<dyn ReceivedMail>) -> Self {
        Self { service, received }
    }

    /// Takes every message of an SES receipt event. A store failure ends the invocation with
    /// the error (Lambda invokes again); a refusal does not.
    pub async fn handle(&self, event: SimpleEmailEvent) -> Result<InboundRun, InboundError> {
        let mut run = InboundRun::default();
        for record in &event.records {
            self.take(record, &mut run).await?;
        }
        Ok(run)
    }

    async fn take(&self, record: &SimpleEmailRecord, run: &mut InboundRun) -> Result<(), InboundError> {
        let message_id = record.ses.mail.message_id.clone().unwrap_or_default();
        let raw = if message_id.is_empty() { None } else { self.received.get(&message_id).await? };
        let Some(raw) = raw else {
            metrics::count(Metric::InboundMails, "not_stored");
            self.refuse(run, message_id, "not_stored", "SES's S3 action stored no message under this id");
            return Ok(());
        };
        let receipt = &record.ses.receipt;
        let verdicts = Verdicts::from_ses(
            status(&receipt.spf_verdict),
            status(&receipt.dkim_verdict),
            status(&receipt.dmarc_verdict),
            status(&receipt.spam_verdict),
            status(&receipt.virus_verdict),
        );
        let received = Received { raw: &raw, verdicts, recipients: &receipt.recipients };
        match self.service.receive(received).await {
            Ok(accepted) => {
                tracing::info!(
                    message_id,
                    ticket = %accepted.ticket.number,
                    status = accepted.ticket.status.as_str(),
                    "inbound mail taken"
                );
                run.taken += 1;
            }
            Err(InboundError::Refused(why)) => self.refuse(run, message_id, why.code(), &why.to_string()),
            Err(InboundError::Internal(why)) => {
                tracing::error!(message_id, error = %why, "inbound mail: a mail could not be built");
                metrics::count(Metric::InboundMails, "internal");
                self.refuse(run, message_id, "internal", &why);
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }

    fn refuse(&self, run: &mut InboundRun, message_id: String, reason: &str, detail: &str) {
        let location = self.received.location(&message_id);
        tracing::warn!(message_id, location, reason, detail, "inbound mail refused");
        run.refused.push(RefusedMail { message_id, reason: reason.to_owned(), location });
    }
}

fn status(verdict: &SimpleEmailVerdict) -> Option<&str> {
    verdict.status.as_deref()
}

#[async_trait::async_trait]
impl EventFunction for MailInbound {
    type Event = SimpleEmailEvent;
    type Output = InboundRun;
    type Error = InboundError;

    async fn invoke(&self, event: Self::Event) -> Result<Self::Output, Self::Error> {
        self.handle(event).await
    }
}
