//! The table names the DynamoDB adapter works over, read from the environment.

use crate::env::{ConfigError, Source, required};

/// DynamoDB table names, from `USERS_TABLE`, `SESSIONS_TABLE`, `RATE_LIMITS_TABLE`,
/// `WS_TICKETS_TABLE`, `CONNECTIONS_TABLE`, `CONVERSATIONS_TABLE`, `SUPPORT_TICKETS_TABLE`,
/// `EVENTS_TABLE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tables {
    /// Accounts and email claims.
    pub users: String,
    /// Sessions.
    pub sessions: String,
    /// Throttle and rate-limit counters.
    pub rate_limits: String,
    /// WebSocket tickets.
    pub ws_tickets: String,
    /// Open WebSocket connections (indexes `by_user`, `by_session`).
    pub connections: String,
    /// Conversations and their messages (index `by_user`).
    pub conversations: String,
    /// Support tickets, their mails, day counters and idempotency keys (indexes `by_user`,
    /// `by_due`).
    pub support_tickets: String,
    /// Each user's durable events and their counter (TTL).
    pub events: String,
}

impl Tables {
    /// Reads every name; each is required.
    pub fn from_source(src: &dyn Source) -> Result<Self, ConfigError> {
        Ok(Self {
            users: required(src, "USERS_TABLE")?,
            sessions: required(src, "SESSIONS_TABLE")?,
            rate_limits: required(src, "RATE_LIMITS_TABLE")?,
            ws_tickets: required(src, "WS_TICKETS_TABLE")?,
            connections: required(src, "CONNECTIONS_TABLE")?,
            conversations: required(src, "CONVERSATIONS_TABLE")?,
            support_tickets: required(src, "SUPPORT_TICKETS_TABLE")?,
            events: required(src, "EVENTS_TABLE")?,
        })
    }

    /// `<prefix>-users`, `<prefix>-sessions`, ... (tests, scripts, local tables).
    pub fn with_prefix(prefix: &str) -> Self {
        Self {
            users: format!("{prefix}-users"),
            sessions: format!("{prefix}-sessions"),
            rate_limits: format!("{prefix}-rate-limits"),
            ws_tickets: format!("{prefix}-ws-tickets"),
            connections: format!("{prefix}-connections"),
            conversations: format!("{prefix}-conversations"),
            support_tickets: format!("{prefix}-support-tickets"),
            events: format!("{prefix}-events"),
        }
    }
}
