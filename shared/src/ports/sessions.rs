//! Where sessions live: keyed by the SHA-256 of the cookie token, with absolute and idle expiry.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::domain::{SessionId, SessionRecord, UserId};

/// Where sessions live. Every read treats a session that is not live as absent.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Stores a new session; [`super::StoreError::Conflict`] if the id exists.
    async fn create(&self, session: &SessionRecord) -> StoreResult<()>;
    /// The live session with this id.
    async fn get(&self, id: &SessionId, now: DateTime<Utc>) -> StoreResult<Option<SessionRecord>>;
    /// Moves the idle limit of a live session to `idle_expires_at` (and its last use to `now`)
    /// and returns it, in one write.
    async fn touch(
        &self,
        id: &SessionId,
        idle_expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<SessionRecord>>;
    /// Revokes (deletes) the session; whether a live one existed.
    async fn delete(&self, id: &SessionId, now: DateTime<Utc>) -> StoreResult<bool>;
    /// A user's live sessions, oldest first.
    async fn for_user(&self, user: &UserId, now: DateTime<Utc>) -> StoreResult<Vec<SessionRecord>>;
    /// Marks the address verified in the profile snapshot of every live session of the user.
    async fn mark_email_verified(&self, user: &UserId, now: DateTime<Utc>) -> StoreResult<()>;
}
