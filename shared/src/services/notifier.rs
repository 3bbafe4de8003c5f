//! Best-effort delivery to open sockets. A failed push never fails the caller's request; a
//! connection that is gone (410) has its record deleted — that one, not the sender's. Durable
//! events are first numbered in the user's catch-up log, so a client whose socket was down
//! fetches them on reconnect (`GET /api/events`).

use crate::telemetry::metrics::{self, Metric};
use std::sync::Arc;

use crate::clock::Clock;
use crate::domain::{ConnectionRecord, EVENT_LIFETIME, ServerEvent, SessionId, UserId, numbered};
use crate::ports::{Connections, EventLog, Push, PushError, StoreResult, Stores};

/// What a delivery did, for logs and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    /// Frames accepted by the push API.
    pub sent: usize,
    /// Connections found gone and forgotten.
    pub gone: usize,
    /// Other failures (logged).
    pub failed: usize,
}

/// Sends events to the sockets of a user or a session.
#[derive(Clone)]
pub struct Notifier {
    connections: Arc<dyn Connections>,
    events: Arc<dyn EventLog>,
    push: Arc<dyn Push>,
    clock: Arc<dyn Clock>,
}

/// One user's live sockets, looked up once for several events.
#[derive(Debug, Clone)]
pub struct Targets {
    user: UserId,
    sockets: Vec<ConnectionRecord>,
}

impl Targets {
    /// Whether the user has no live socket (a push would reach nobody).
    pub fn is_empty(&self) -> bool {
        self.sockets.is_empty()
    }
}

impl Notifier {
    /// A notifier over the stores' connections and event log, and a push transport.
    pub fn new(stores: &Stores, push: Arc<dyn Push>, clock: Arc<dyn Clock>) -> Self {
        Self { connections: stores.connections.clone(), events: stores.events.clone(), push, clock }
    }

    /// Sends `event` to every live socket of `user` (logging it first if it is durable).
    pub async fn to_user(&self, user: &UserId, event: &ServerEvent) -> Delivery {
        let mut targets = self.user_targets(user).await;
        self.send(&mut targets, event).await
    }

    /// The live sockets of `user`, to send several events with one lookup (none if the lookup
    /// failed: pushes are best effort, and durable events still reach the log).
    pub async fn user_targets(&self, user: &UserId) -> Targets {
        let sockets = self.connections.for_user(user, self.clock.now()).await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "listing a user's connections failed; events not pushed");
            Vec::new()
        });
        Targets { user: user.clone(), sockets }
    }

    /// Sends `event` to these sockets, forgetting the gone ones (in the store and in `targets`,
    /// so a second event to the same targets does not try them again). A durable event is
    /// numbered in the user's log first and pushed with its `seq`; if the log cannot be written
    /// it is still pushed, without one.
    pub async fn send(&self, targets: &mut Targets, event: &ServerEvent) -> Delivery {
        let payload = event.to_json();
        let frame = if event.is_durable() { self.log(&targets.user, payload).await } else { payload };
        let (delivery, gone) = self.send_all(&targets.sockets, &frame, false).await;
        targets.sockets.retain(|t| !gone.contains(&t.id));
        delivery
    }

    /// Numbers `payload` in the user's log; the frame to push.
    async fn log(&self, user: &UserId, payload: String) -> String {
        let now = self.clock.now();
        match self.events.record(user, &payload, now + EVENT_LIFETIME).await {
            Ok(seq) => numbered(&payload, seq).to_string(),
            Err(e) => {
                tracing::warn!(error = %e, "logging a durable event failed; pushed without a seq");
                payload
            }
        }
    }

    /// Tells every socket of a signed-out session so, closes it and forgets it.
    pub async fn revoke_session(&self, session: &SessionId) -> Delivery {
        match self.connections.for_session(session, self.clock.now()).await {
            Ok(targets) => self.send_all(&targets, &ServerEvent::SessionRevoked.to_json(), true).await.0,
            Err(e) => {
                tracing::warn!(error = %e, "listing a session's connections failed; sockets not closed");
                Delivery::default()
            }
        }
    }

    /// Tells every socket of a user their session is revoked, closes and forgets them all (a
    /// password reset or an account deletion ends every session at once). Unlike the other
    /// sends, a failed lookup is returned: account deletion must not leave connections behind.
    pub async fn revoke_user(&self, user: &UserId) -> StoreResult<Delivery> {
        let targets = self.connections.for_user(user, self.clock.now()).await?;
        Ok(self.send_all(&targets, &ServerEvent::SessionRevoked.to_json(), true).await.0)
    }

    /// Sends a frame to each target (and closes it if asked); returns the tally and the gone ids.
    async fn send_all(
        &self,
        targets: &[ConnectionRecord],
        payload: &str,
        close: bool,
    ) -> (Delivery, Vec<String>) {
        let mut delivery = Delivery::default();
        let mut gone_ids = Vec::new();
        for target in targets {
            let mut outcome = self.push.send(&target.id, payload).await;
            if close && outcome.is_ok() {
                outcome = self.push.close(&target.id).await;
            }
            let gone = outcome == Err(PushError::Gone);
            match outcome {
                Ok(()) => delivery.sent += 1,
                Err(PushError::Gone) => {
                    delivery.gone += 1;
                    gone_ids.push(target.id.clone());
                }
                Err(PushError::Failed(why)) => {
                    delivery.failed += 1;
                    tracing::warn!(connection = %crate::telemetry::fingerprint(&target.id), error = %why, "push failed");
                }
            }
            if (close || gone)
                && let Err(e) = self.connections.delete(&target.id).await
            {
                tracing::warn!(connection = %crate::telemetry::fingerprint(&target.id), error = %e, "forgetting a connection failed");
            }
        }
        metrics::add(Metric::Pushes, "ok", delivery.sent);
        metrics::add(Metric::Pushes, "gone", delivery.gone);
        metrics::add(Metric::Pushes, "failed", delivery.failed);
        (delivery, gone_ids)
    }
}
