//! Where the token keys are kept when they can change without a deploy (Secrets Manager).

use async_trait::async_trait;

/// The key store could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("key store: {0}")]
pub struct KeySourceError(pub String);

/// The key store: the documents as stored; `auth` parses them.
#[async_trait]
pub trait KeySource: Send + Sync {
    /// The accepted public keys, a JWKS document.
    async fn public_keys(&self) -> Result<String, KeySourceError>;
    /// The signing key, `{"kid": "...", "pem": "<PKCS#8 PEM>"}` (only login may read it).
    async fn signing_key(&self) -> Result<String, KeySourceError>;
}
