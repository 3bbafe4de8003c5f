//! Sessions: keyed by the SHA-256 of the cookie token, with absolute and idle expiry.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::auth::SessionId;
use crate::domain::{UserId, UserProfile};

/// A stored session. It carries a snapshot of the user's profile so that `authenticate`
/// and `GET /api/auth/me` cost one store round trip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// SHA-256 (hex) of the cookie token; also the `sid` claim.
    pub id: SessionId,
    /// Whose session it is.
    pub user: UserProfile,
    /// When it was created (at login or registration).
    pub created_at: DateTime<Utc>,
    /// Hard end, never extended (also the item's TTL).
    pub absolute_expires_at: DateTime<Utc>,
    /// End unless refreshed before; refresh pushes it forward.
    pub idle_expires_at: DateTime<Utc>,
    /// When it was last used to sign in or refresh.
    pub last_seen_at: DateTime<Utc>,
    /// The browser or client it was opened from, as it said (for the sessions list).
    pub user_agent: Option<String>,
}

impl SessionRecord {
    /// When the session stops being usable: the earlier of its two limits.
    pub fn expires_at(&self) -> DateTime<Utc> {
        self.absolute_expires_at.min(self.idle_expires_at)
    }

    /// Whether the session may be used at `now`.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        now < self.expires_at()
    }
}

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
