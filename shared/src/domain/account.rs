//! An account as stored: its profile, password hash and mailed tokens; and its sessions.

use chrono::{DateTime, Utc};

use super::{SessionId, UserProfile};

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
