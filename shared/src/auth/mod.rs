//! The auth core: passwords, access tokens, sessions, throttling and the one `authenticate`.

pub mod accounts;
pub mod authenticate;
pub mod keys;
pub mod lifecycle;
pub mod password;
pub mod secret;
pub mod session;
pub mod throttle;
pub mod token;

pub use accounts::{AccountError, AccountPolicy, Accounts, MailedLink, SignedIn};
pub use authenticate::{Authenticator, Principal};
pub use keys::{KeyError, PublicKeys, SigningKey};
pub use lifecycle::SessionView;
pub use password::PasswordHasher;
pub use session::{SessionId, SessionPolicy, SessionToken};
pub use throttle::{Allowance, LoginThrottle};
pub use token::{TokenIssuer, TokenVerifier};

use crate::ports::StoreError;

/// Why `authenticate` refused a request.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No bearer credential was presented.
    #[error("no bearer token")]
    MissingToken,
    /// A bearer token was presented and did not verify.
    #[error("invalid token")]
    InvalidToken,
    /// The token verified but its session is expired, revoked or unknown.
    #[error("session not live")]
    SessionNotLive,
    /// The session store failed (a 503, never a 401).
    #[error(transparent)]
    Store(#[from] StoreError),
}
