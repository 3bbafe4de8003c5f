//! Random bearer secrets (session tokens, WebSocket tickets, mailed tokens) and their stored
//! digests.

use std::fmt;

use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::domain::UserId;

/// Bytes of entropy in every bearer secret.
const SECRET_BYTES: usize = 32;

/// A 256-bit secret from the system CSPRNG, base64url without padding. `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// A fresh random secret.
    pub fn generate() -> Self {
        let mut bytes = [0u8; SECRET_BYTES];
        // The system CSPRNG failing is unrecoverable: no secret may be derived from anything else.
        aws_lc_rs::rand::fill(&mut bytes).expect("system random generator failed");
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// A secret presented by a client: the exact shape we issue (43 base64url characters), or
    /// nothing — so oversized or odd input is refused before any lookup.
    pub fn parse(raw: &str) -> Option<Self> {
        let ok = raw.len() == 43 && raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        ok.then(|| Self(raw.to_owned()))
    }

    /// The value to hand to the client.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Hex SHA-256 of the secret: the only form that is ever stored.
    pub fn digest(&self) -> String {
        hex::encode(digest::digest(&digest::SHA256, self.0.as_bytes()))
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// A token mailed to one user (address verification, password reset): `<user id>.<secret>`.
/// The account keeps only the secret's digest, one per purpose, so naming the user lets a
/// redemption find that digest with one read and a new token replace the old one.
#[derive(Clone, PartialEq, Eq)]
pub struct MailToken {
    user: UserId,
    secret: Secret,
}

impl MailToken {
    /// A fresh token for `user`.
    pub fn generate(user: UserId) -> Self {
        Self { user, secret: Secret::generate() }
    }

    /// A token presented by a client: exactly the shape we issue, or nothing.
    pub fn parse(raw: &str) -> Option<Self> {
        let (user, secret) = raw.split_once('.')?;
        Some(Self { user: UserId::parse(user)?, secret: Secret::parse(secret)? })
    }

    /// Whose token it is.
    pub fn user(&self) -> &UserId {
        &self.user
    }

    /// The value for the mailed link.
    pub fn expose(&self) -> String {
        format!("{}.{}", self.user.as_str(), self.secret.expose())
    }

    /// Hex SHA-256 of the secret: what the account stores.
    pub fn digest(&self) -> String {
        self.secret.digest()
    }
}

impl fmt::Debug for MailToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MailToken({}, ***)", self.user.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_tokens_name_their_user_and_parse_back() {
        let user = UserId::generate();
        let token = MailToken::generate(user.clone());
        let raw = token.expose();
        let parsed = MailToken::parse(&raw).expect("parses");
        assert_eq!(parsed.user(), &user);
        assert_eq!(parsed.digest(), token.digest());
        assert!(!format!("{token:?}").contains(token.secret.expose()));
        for bad in [
            "",
            ".",
            &raw[..raw.len() - 1],
            &raw.replace('.', ""),
            &format!("usr_nobody.{}", token.secret.expose()),
        ] {
            assert!(MailToken::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn generated_secrets_parse_and_differ() {
        let a = Secret::generate();
        let b = Secret::generate();
        assert_ne!(a, b);
        assert_eq!(Secret::parse(a.expose()), Some(a.clone()));
        assert_eq!(a.digest().len(), 64);
        assert!(!format!("{a:?}").contains(a.expose()));
    }

    #[test]
    fn odd_input_is_refused() {
        assert!(Secret::parse("").is_none());
        assert!(Secret::parse(&"a".repeat(42)).is_none());
        assert!(Secret::parse(&"a".repeat(44)).is_none());
        assert!(Secret::parse(&format!("{}=", "a".repeat(42))).is_none());
    }
}
