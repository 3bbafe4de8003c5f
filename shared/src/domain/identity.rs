//! Who is who: user and session ids, the public profile, and the authenticated principal.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::Email;
use crate::clock::rfc3339;

/// Opaque user id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct UserId(String);

impl UserId {
    /// A fresh random id.
    pub fn generate() -> Self {
        Self(format!("usr_{}", uuid::Uuid::new_v4().simple()))
    }

    /// An id presented by a client (inside a mailed token): exactly the shape [`Self::generate`]
    /// makes, or nothing.
    pub fn parse(raw: &str) -> Option<Self> {
        let hex = raw.strip_prefix("usr_")?;
        let ok = hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        ok.then(|| Self(raw.to_owned()))
    }

    /// An id read back from a store or a verified token.
    pub fn from_trusted(raw: impl Into<String>) -> Self {
        Self(raw.into())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

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

/// Optional human name: trimmed, 1–100 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct DisplayName(String);

impl DisplayName {
    /// Validates a name given by the user.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err("must not be empty");
        }
        if trimmed.chars().count() > 100 {
            return Err("must be at most 100 characters");
        }
        if trimmed.chars().any(char::is_control) {
            return Err("must not contain control characters");
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// A name read back from a store.
    pub fn from_trusted(raw: impl Into<String>) -> Self {
        Self(raw.into())
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The public part of an account, as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserProfile {
    /// Opaque id.
    pub id: UserId,
    /// Normalized email.
    pub email: Email,
    /// Optional name.
    pub display_name: Option<DisplayName>,
    /// Registration time (whole seconds).
    pub created_at: DateTime<Utc>,
    /// Whether the user has proved they receive mail at `email` (a verification or reset link).
    pub email_verified: bool,
}

/// `user` in API responses.
#[derive(Serialize)]
pub struct UserView<'a> {
    id: &'a str,
    email: &'a str,
    display_name: Option<&'a str>,
    created_at: String,
    email_verified: bool,
}

impl UserProfile {
    /// The JSON shape `{id, email, display_name, created_at, email_verified}`.
    pub fn view(&self) -> UserView<'_> {
        UserView {
            id: self.id.as_str(),
            email: self.email.as_str(),
            display_name: self.display_name.as_ref().map(DisplayName::as_str),
            created_at: rfc3339(self.created_at),
            email_verified: self.email_verified,
        }
    }
}

/// An authenticated caller: who they are and through which live session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    user: UserProfile,
    session_id: SessionId,
    session_expires_at: DateTime<Utc>,
}

impl Principal {
    /// A principal for a verified token's live session. Only `auth::authenticate` calls this:
    /// nothing else in the code base yields a `Principal`.
    pub(crate) fn new(user: UserProfile, session_id: SessionId, session_expires_at: DateTime<Utc>) -> Self {
        Self { user, session_id, session_expires_at }
    }

    /// The user's profile (as of the session's creation).
    pub fn user(&self) -> &UserProfile {
        &self.user
    }

    /// The session the request runs under.
    pub fn session_id(&self) -> &SessionId {
        &self.session_id
    }

    /// When that session stops being usable unless refreshed.
    pub fn session_expires_at(&self) -> DateTime<Utc> {
        self.session_expires_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_generated_ids_parse() {
        let id = UserId::generate();
        assert_eq!(UserId::parse(id.as_str()), Some(id.clone()));
        for bad in [
            "",
            "usr_",
            "usr_nobody",
            "usr_0123456789ABCDEF0123456789abcdef",
            "x_0123456789abcdef0123456789abcdef",
        ] {
            assert_eq!(UserId::parse(bad), None, "{bad:?}");
        }
        assert_eq!(UserId::parse(&format!("{}0", id.as_str())), None);
    }
}
