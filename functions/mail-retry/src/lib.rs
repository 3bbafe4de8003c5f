//! The `mail-retry` function, the scheduled worker: on each event it tries the queued ticket
//! mails that are due (once each) and tells their owners about mails that were sent or gave up,
//! then closes the resolved tickets whose reopen window is over.

use std::sync::Arc;

use shared::Clock;
use shared::config::EscalationConfig;
use shared::env::ConfigError;
use shared::ports::{MailTransport, Push, StoreError, Stores};
use shared::runtime::{EventFunction, Wiring};
use shared::services::{EscalationService, Mailer, Notifier, RetryRun};

/// Mails tried per run (a run must finish well within the function's timeout).
pub const BATCH: u32 = 25;

/// The retry worker.
#[derive(Clone)]
pub struct MailRetry {
    mailer: Mailer,
    notifier: Notifier,
    tickets: EscalationService,
}

impl MailRetry {
    /// Builds the worker from the wiring: the mail settings and retry policy, stores, mail,
    /// push and the clock.
    pub fn build(w: &Wiring) -> Result<Self, ConfigError> {
        let config = EscalationConfig::from_source(w.settings())?;
        Ok(Self::new(&config, w.stores(), w.mail()?, w.push()?, w.clock()))
    }

    /// Wires the worker.
    pub fn new(
        config: &EscalationConfig,
        stores: &Stores,
        transport: Arc<dyn MailTransport>,
        push: Arc<dyn Push>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let mailer = Mailer::new(
            stores.tickets.clone(),
            transport,
            &config.mail,
            config.policy.clone(),
            clock.clone(),
        );
        let notifier = Notifier::new(stores, push, clock.clone());
        let tickets = EscalationService::new(
            stores,
            mailer.clone(),
            config.mail.clone(),
            notifier.clone(),
            config.policy.clone(),
            clock,
        );
        Self { mailer, notifier, tickets }
    }

    /// One run. The event's content does not matter (an EventBridge schedule, or a manual
    /// invoke); the result says what happened.
    pub async fn handle(&self, _event: serde_json::Value) -> Result<RetryRun, StoreError> {
        let mut run = self.mailer.retry_due(&self.notifier, BATCH).await?;
        run.closed = self.tickets.close_expired(BATCH).await?;
        tracing::info!(
            due = run.due,
            sent = run.sent,
            requeued = run.requeued,
            failed = run.failed,
            skipped = run.skipped,
            closed = run.closed,
            "mail retry run"
        );
        Ok(run)
    }
}

#[async_trait::async_trait]
impl EventFunction for MailRetry {
    type Event = serde_json::Value;
    type Output = RetryRun;
    type Error = StoreError;

    async fn invoke(&self, event: Self::Event) -> Result<Self::Output, Self::Error> {
        self.handle(event).await
    }
}
