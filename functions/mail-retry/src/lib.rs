//! The `mail-retry` function: on each scheduled event, tries the queued ticket mails that are
//! due, once each, and tells their owners about mails that were sent or gave up.

use std::sync::Arc;

use shared::Clock;
use shared::config::EscalationConfig;
use shared::domain::escalation::{Mailer, RetryRun};
use shared::domain::ws::Notifier;
use shared::ports::{MailTransport, Push, StoreError, Stores};

/// Mails tried per run (a run must finish well within the function's timeout).
pub const BATCH: u32 = 25;

/// The retry worker.
#[derive(Clone)]
pub struct MailRetry {
    mailer: Mailer,
    notifier: Notifier,
}

impl MailRetry {
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
        Self { mailer, notifier: Notifier::new(stores.connections.clone(), push, clock) }
    }

    /// One run. The event's content does not matter (an EventBridge schedule, or a manual
    /// invoke); the result says what happened.
    pub async fn handle(&self, _event: serde_json::Value) -> Result<RetryRun, StoreError> {
        let run = self.mailer.retry_due(&self.notifier, BATCH).await?;
        tracing::info!(
            due = run.due,
            sent = run.sent,
            requeued = run.requeued,
            failed = run.failed,
            skipped = run.skipped,
            "mail retry run"
        );
        Ok(run)
    }
}
