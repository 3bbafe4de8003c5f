//! Session tokens (the cookie; its SHA-256 is the stored session id) and session lifetimes.

use std::fmt;

use chrono::{DateTime, Duration, Utc};

use super::secret::Secret;
use crate::domain::{SessionId, SessionRecord, UserProfile};

/// The raw session token that lives only in the client's cookie.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken(Secret);

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken(***)")
    }
}

impl SessionToken {
    /// A fresh token.
    pub fn generate() -> Self {
        Self(Secret::generate())
    }

    /// A token read from a cookie; `None` unless it has the shape we issue.
    pub fn parse(raw: &str) -> Option<Self> {
        Secret::parse(raw).map(Self)
    }

    /// The cookie value.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    /// The id under which the session is stored.
    pub fn id(&self) -> SessionId {
        SessionId::from_trusted(self.0.digest())
    }
}

/// Session lifetimes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// Hard limit from creation.
    pub absolute: Duration,
    /// Limit since the last refresh.
    pub idle: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        Self { absolute: Duration::days(31), idle: Duration::days(7) }
    }
}

impl SessionPolicy {
    /// A new session for `user` starting at `now` from this client, with its token.
    pub fn start(
        &self,
        user: UserProfile,
        now: DateTime<Utc>,
        user_agent: Option<String>,
    ) -> (SessionToken, SessionRecord) {
        let token = SessionToken::generate();
        let record = SessionRecord {
            id: token.id(),
            user,
            created_at: now,
            absolute_expires_at: now + self.absolute,
            idle_expires_at: now + self.idle,
            last_seen_at: now,
            user_agent,
        };
        (token, record)
    }
}
