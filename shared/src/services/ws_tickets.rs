//! Minting WebSocket tickets: 256 random bits, returned once, stored only as a hash, within a
//! per-user quota counted in the same write.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};

use crate::auth::limits::{counter_key, seconds_until};
use crate::auth::secret::Secret;
use crate::clock::{Clock, epoch, from_epoch};
use crate::domain::{Principal, TicketRecord, UserId};
use crate::ports::{Admission, Quota, StoreError, WsTickets};

/// Ticket lifetime and minting allowance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TicketPolicy {
    /// How long a ticket can be redeemed (300 s).
    pub ttl: Duration,
    /// Tickets a user may mint per clock minute (20).
    pub per_minute: u32,
}

impl Default for TicketPolicy {
    fn default() -> Self {
        Self { ttl: Duration::seconds(300), per_minute: 20 }
    }
}

/// A fresh ticket, to be shown to its owner once.
#[derive(Debug)]
pub struct MintedTicket {
    /// The bearer secret for `?ticket=`.
    pub ticket: Secret,
    /// When it stops being redeemable.
    pub expires_at: DateTime<Utc>,
    /// Seconds until then.
    pub expires_in: i64,
}

/// Why minting failed.
#[derive(Debug, thiserror::Error)]
pub enum MintError {
    /// The user's per-minute allowance is used up.
    #[error("rate limited")]
    RateLimited {
        /// Seconds until the next window.
        retry_after: u64,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The per-user allowance of tickets (and bearer connects) in the clock minute of `now`. The
/// counter key hashes the user id, so the rate-limit table holds no identities (and nothing is
/// left of a deleted account); windows are aligned to the clock minute, so the key needs no read
/// first.
pub fn minting_quota(user: &UserId, per_minute: u32, now: DateTime<Utc>) -> Quota {
    let window_start = epoch(now) - epoch(now).rem_euclid(60);
    Quota {
        key: format!("{}#{window_start}", counter_key("ws-ticket", user.as_str())),
        limit: per_minute,
        window_end: from_epoch(window_start + 60),
    }
}

/// Mints tickets for authenticated principals.
#[derive(Clone)]
pub struct TicketMinter {
    tickets: Arc<dyn WsTickets>,
    policy: TicketPolicy,
    clock: Arc<dyn Clock>,
}

impl TicketMinter {
    /// A minter over the ticket store.
    pub fn new(tickets: Arc<dyn WsTickets>, policy: TicketPolicy, clock: Arc<dyn Clock>) -> Self {
        Self { tickets, policy, clock }
    }

    /// Mints one ticket for the principal's user and session (one store write).
    pub async fn mint(&self, principal: &Principal) -> Result<MintedTicket, MintError> {
        let now = self.clock.now();
        let quota = minting_quota(&principal.user().id, self.policy.per_minute, now);
        let ticket = Secret::generate();
        let expires_at = now + self.policy.ttl;
        let record = TicketRecord {
            id: ticket.digest(),
            user_id: principal.user().id.clone(),
            session_id: principal.session_id().clone(),
            expires_at,
        };
        match self.tickets.create(&record, &quota).await? {
            Admission::Admitted => {
                Ok(MintedTicket { ticket, expires_at, expires_in: self.policy.ttl.num_seconds() })
            }
            Admission::OverQuota => {
                Err(MintError::RateLimited { retry_after: seconds_until(quota.window_end, now) })
            }
        }
    }
}
