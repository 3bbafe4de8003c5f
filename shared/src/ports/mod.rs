//! Ports: the small traits the services and the auth core depend on, speaking domain types.
//! Adapters live in [`crate::adapters`]; a service never knows which one it has.

pub mod assistant;
pub mod connections;
pub mod conversations;
pub mod events;
pub mod keys;
pub mod mail;
pub mod push;
pub mod rate_limits;
pub mod received_mail;
pub mod sessions;
pub mod support_tickets;
pub mod users;
pub mod ws_tickets;

pub use assistant::{Answer, Assistant, AssistantError};
pub use connections::{ConnectGate, Connections, Opened};
pub use conversations::Conversations;
pub use events::EventLog;
pub use keys::{KeySource, KeySourceError};
pub use mail::{MailError, MailTransport, OutgoingMail, Sent};
pub use push::{Push, PushError};
pub use rate_limits::{Acquired, Counter, RateLimits};
pub use received_mail::ReceivedMail;
pub use sessions::SessionStore;
pub use support_tickets::{CreateConflict, SupportTickets};
pub use users::UserStore;
pub use ws_tickets::{Admission, Quota, WsTickets};

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend could not be reached or answered with an error; the caller may retry.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A uniqueness or precondition check refused the write.
    #[error("conflicting write")]
    Conflict,
    /// An item exists but cannot be decoded: a bug or a manual edit.
    #[error("corrupt item: {0}")]
    Corrupt(String),
}

/// Result of a store call.
pub type StoreResult<T> = Result<T, StoreError>;

use std::sync::Arc;

/// The stores a function is wired with; each handler takes the ones it needs.
#[derive(Clone)]
pub struct Stores {
    /// Accounts.
    pub users: Arc<dyn UserStore>,
    /// Sessions.
    pub sessions: Arc<dyn SessionStore>,
    /// Throttle and rate-limit counters.
    pub rate_limits: Arc<dyn RateLimits>,
    /// WebSocket tickets.
    pub ws_tickets: Arc<dyn WsTickets>,
    /// Open WebSocket connections.
    pub connections: Arc<dyn Connections>,
    /// Conversations and messages.
    pub conversations: Arc<dyn Conversations>,
    /// Support tickets and their mail.
    pub tickets: Arc<dyn SupportTickets>,
    /// Each user's durable events, for clients that reconnect.
    pub events: Arc<dyn EventLog>,
}

impl Stores {
    /// Every port served by one adapter (the SQLite file, or the DynamoDB tables).
    pub fn single<S>(store: Arc<S>) -> Self
    where
        S: UserStore
            + SessionStore
            + RateLimits
            + WsTickets
            + Connections
            + Conversations
            + SupportTickets
            + EventLog
            + 'static,
    {
        Self {
            users: store.clone(),
            sessions: store.clone(),
            rate_limits: store.clone(),
            ws_tickets: store.clone(),
            connections: store.clone(),
            conversations: store.clone(),
            tickets: store.clone(),
            events: store,
        }
    }
}
