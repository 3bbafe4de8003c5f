//! Catching up after a reconnect: the durable events a user's sockets may have missed, from
//! the log the notifier numbers them in.

use std::sync::Arc;

use crate::clock::Clock;
use crate::domain::Principal;
use crate::ports::{EventLog, StoreResult};

/// What a client missed.
#[derive(Debug, Clone, PartialEq)]
pub struct Missed {
    /// The frames, as they were pushed (each with its `seq`), in order.
    pub events: Vec<serde_json::Value>,
    /// The highest `seq` the client has now seen: the last frame's, or where it asked from
    /// (without `after`: the user's latest, a starting point).
    pub last_seq: u64,
    /// Whether more follow `last_seq` (ask again from there).
    pub has_more: bool,
}

/// The catch-up use case.
#[derive(Clone)]
pub struct CatchUp {
    events: Arc<dyn EventLog>,
    clock: Arc<dyn Clock>,
}

impl CatchUp {
    /// Over the event log.
    pub fn new(events: Arc<dyn EventLog>, clock: Arc<dyn Clock>) -> Self {
        Self { events, clock }
    }

    /// The caller's events after `after`, at most `limit`; without `after`, none and the
    /// latest `seq` (a client takes it before loading state, then asks from it on connect).
    pub async fn missed(&self, principal: &Principal, after: Option<u64>, limit: u32) -> StoreResult<Missed> {
        let user = &principal.user().id;
        let Some(after) = after else {
            let last_seq = self.events.last_seq(user).await?;
            return Ok(Missed { events: Vec::new(), last_seq, has_more: false });
        };
        let mut logged = self.events.after(user, after, limit + 1, self.clock.now()).await?;
        let has_more = logged.len() > limit as usize;
        logged.truncate(limit as usize);
        let last_seq = logged.last().map_or(after, |e| e.seq);
        Ok(Missed { events: logged.iter().map(|e| e.frame()).collect(), last_seq, has_more })
    }
}
