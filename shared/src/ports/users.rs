//! Where accounts live: one record per user, unique by email, with its mailed tokens.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreResult;
use crate::domain::{Email, SessionRecord, StoredToken, TokenPurpose, UserId, UserRecord};

/// Where accounts live. Every write that depends on a token or a password hash is conditional
/// on the stored value, so a token works once and concurrent changes cannot undo each other.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Creates the account (with its tokens) and its first session in one atomic write, so a
    /// failure leaves neither; [`super::StoreError::Conflict`] when the email (or id) is taken.
    async fn create(&self, user: &UserRecord, first_session: &SessionRecord) -> StoreResult<()>;
    /// The account with this email, if any.
    async fn find_by_email(&self, email: &Email) -> StoreResult<Option<UserRecord>>;
    /// The account with this id, if any.
    async fn get(&self, id: &UserId) -> StoreResult<Option<UserRecord>>;
    /// Stores `token` as the user's one live token for `purpose`, replacing any earlier one;
    /// [`super::StoreError::Conflict`] if the account is gone.
    async fn set_token(
        &self,
        user: &UserRecord,
        purpose: TokenPurpose,
        token: &StoredToken,
    ) -> StoreResult<()>;
    /// Marks the address verified and removes the verification token, if the stored token has
    /// `digest` and is live at `now` (one conditional write: it works once); whether it did.
    async fn verify_email(&self, user: &UserRecord, digest: &str, now: DateTime<Utc>) -> StoreResult<bool>;
    /// Sets `password_hash`, removes every mailed token and marks the address verified (the link
    /// proved it), if the stored reset token has `digest` and is live at `now` (one conditional
    /// write); whether it did.
    async fn reset_password(
        &self,
        user: &UserRecord,
        digest: &str,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool>;
    /// Sets a new password hash and removes every mailed token (a password change).
    async fn change_password(&self, user: &UserRecord, password_hash: &str) -> StoreResult<()>;
    /// Replaces the hash with one of the current parameters only if it is still
    /// `user.password_hash`, so a concurrent change is never undone; whether it did.
    async fn rehash(&self, user: &UserRecord, password_hash: &str) -> StoreResult<bool>;
    /// Deletes the account (and so its tokens); its email can register again.
    async fn delete(&self, user: &UserRecord) -> StoreResult<()>;
}
