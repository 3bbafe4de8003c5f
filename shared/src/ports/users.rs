//! Accounts: one record per user, unique by email, with its mailed tokens.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{SessionRecord, StoreResult};
use crate::domain::{Email, UserId, UserProfile};

/// What a mailed token is for. A user has at most one live token per purpose: issuing one
/// replaces the last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenPurpose {
    /// Proves the user receives mail at the account's address.
    VerifyEmail,
    /// Sets a new password.
    ResetPassword,
}

/// A mailed token as the account keeps it: the SHA-256 of its secret and when it stops working.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredToken {
    /// Hex SHA-256 of the token's secret.
    pub digest: String,
    /// When it stops being redeemable.
    pub expires_at: DateTime<Utc>,
}

impl StoredToken {
    /// A token no presented value redeems: it replaces one whose mail could not be sent.
    pub fn withdrawn() -> Self {
        Self { digest: String::new(), expires_at: DateTime::<Utc>::UNIX_EPOCH }
    }

    /// Whether a presented token with this digest redeems it at `now` (constant-time compare).
    pub fn admits(&self, digest: &str, now: DateTime<Utc>) -> bool {
        let same =
            aws_lc_rs::constant_time::verify_slices_are_equal(self.digest.as_bytes(), digest.as_bytes())
                .is_ok();
        same && !digest.is_empty() && now < self.expires_at
    }
}

/// A stored account: the public profile, the password's PHC string and the live mailed tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// What the API shows.
    pub profile: UserProfile,
    /// argon2id PHC string; never leaves the auth core.
    pub password_hash: String,
    /// The address-verification token, if one is outstanding.
    pub verify_token: Option<StoredToken>,
    /// The password-reset token, if one is outstanding.
    pub reset_token: Option<StoredToken>,
}

impl UserRecord {
    /// The outstanding token for `purpose`.
    pub fn token(&self, purpose: TokenPurpose) -> Option<&StoredToken> {
        match purpose {
            TokenPurpose::VerifyEmail => self.verify_token.as_ref(),
            TokenPurpose::ResetPassword => self.reset_token.as_ref(),
        }
    }
}

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
