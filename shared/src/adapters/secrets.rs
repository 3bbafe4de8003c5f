//! The token keys in AWS Secrets Manager: one secret with the accepted keys' JWKS (every
//! function reads it) and one with login's signing key (only login's role may read it); and the
//! key that signs ticket mails' reply addresses.

use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::DisplayErrorContext;

use crate::ports::{KeySource, KeySourceError};

/// The two secrets, by name or ARN.
#[derive(Debug, Clone)]
pub struct SecretsManagerKeys {
    client: Client,
    public_keys: String,
    signing_key: Option<String>,
}

impl SecretsManagerKeys {
    /// A key source over these secrets, with a client from the shared SDK configuration.
    pub fn from_sdk(sdk: &aws_config::SdkConfig, public_keys: &str, signing_key: Option<&str>) -> Self {
        Self::new(Client::new(sdk), public_keys, signing_key)
    }

    /// A key source over these secrets with this client (and its open connection).
    pub fn new(client: Client, public_keys: &str, signing_key: Option<&str>) -> Self {
        Self { client, public_keys: public_keys.to_owned(), signing_key: signing_key.map(str::to_owned) }
    }

    async fn read(&self, id: &str) -> Result<String, KeySourceError> {
        read(&self.client, id).await
    }
}

/// The text of one secret, read once (the reply-address key, which never rotates: the
/// addresses in mails already sent carry it).
pub async fn secret_string(client: &Client, id: &str) -> Result<String, KeySourceError> {
    read(client, id).await
}

async fn read(client: &Client, id: &str) -> Result<String, KeySourceError> {
    let out = client
        .get_secret_value()
        .secret_id(id)
        .send()
        .await
        .map_err(|e| KeySourceError(format!("{id}: {}", DisplayErrorContext(&e))))?;
    out.secret_string.ok_or_else(|| KeySourceError(format!("{id}: not a text secret")))
}

#[async_trait]
impl KeySource for SecretsManagerKeys {
    async fn public_keys(&self) -> Result<String, KeySourceError> {
        self.read(&self.public_keys).await
    }

    async fn signing_key(&self) -> Result<String, KeySourceError> {
        match &self.signing_key {
            Some(id) => self.read(id).await,
            None => Err(KeySourceError("no signing key secret is configured".into())),
        }
    }
}
