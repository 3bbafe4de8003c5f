//! Session tokens (the cookie) and session ids (what is stored and put in `sid`).

use std::fmt;

use chrono::{DateTime, Duration, Utc};

use super::secret::Secret;
use crate::domain::UserProfile;
use crate::ports::SessionRecord;

/// The session id: hex SHA-256 of the session token.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SessionId(String);

impl SessionId {
    /// The id shown to the user in the sessions list: a hash of the sid, short and useless as a
    /// credential or to look the session up without the user's other sessions.
    pub fn public_id(&self) -> String {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, self.0.as_bytes());
        hex::encode(&digest.as_ref()[..8])
    }

    /// An id from a verified token or a store.
    pub fn from_trusted(raw: impl Into<String>) -> Self {
        Self(raw.into())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

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
        SessionId(self.0.digest())
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
