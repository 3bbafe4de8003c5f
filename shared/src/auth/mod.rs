//! The auth mechanics: password hashing, bearer secrets and mailed tokens, session tokens,
//! signing keys and access tokens, allowances counted before the work, and the one
//! `authenticate`. The account use cases built on them are in [`crate::services::accounts`].

pub mod authenticate;
pub mod keyring;
pub mod keys;
pub mod limits;
pub mod password;
pub mod secret;
pub mod session;
pub mod token;

pub use authenticate::Authenticator;
pub use keyring::{KeyRing, TokenSettings};
pub use keys::{KeyError, PublicKeys, SigningKey};
pub use limits::{Allowance, LoginThrottle};
pub use password::PasswordHasher;
pub use session::{SessionPolicy, SessionToken};
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
