//! Accounts: one record per user, unique by email.

use async_trait::async_trait;

use super::{SessionRecord, StoreResult};
use crate::domain::{Email, UserId, UserProfile};

/// A stored account: the public profile and the password's PHC string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// What the API shows.
    pub profile: UserProfile,
    /// argon2id PHC string; never leaves the auth core.
    pub password_hash: String,
}

/// Where accounts live.
#[async_trait]
pub trait UserStore: Send + Sync {
    /// Creates the account and its first session in one atomic write, so a failure leaves
    /// neither; [`super::StoreError::Conflict`] when the email (or id) is taken.
    async fn create(&self, user: &UserRecord, first_session: &SessionRecord) -> StoreResult<()>;
    /// The account with this email, if any.
    async fn find_by_email(&self, email: &Email) -> StoreResult<Option<UserRecord>>;
    /// The account with this id, if any.
    async fn get(&self, id: &UserId) -> StoreResult<Option<UserRecord>>;
    /// Replaces the password hash (rehash, reset, change).
    async fn set_password_hash(&self, user: &UserRecord, password_hash: &str) -> StoreResult<()>;
    /// Deletes the account; its email can register again.
    async fn delete(&self, user: &UserRecord) -> StoreResult<()>;
}
