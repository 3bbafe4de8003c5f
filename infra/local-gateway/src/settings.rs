//! The settings the gateway's functions read: the caller's, with what the gateway decides
//! itself layered over them (its signing key, the origins and URLs of its own address).

use std::net::SocketAddr;
use std::sync::Arc;

use shared::auth::{PublicKeys, SigningKey};
use shared::config::Source;

use crate::keys;

/// Settings layered over the caller's: the gateway decides keys and origins itself.
pub(crate) struct Overlay {
    base: Arc<dyn Source + Send + Sync>,
    signing_key: String,
    public_keys: String,
    origins: String,
    websocket_url: String,
    reset_url: String,
    verify_url: String,
    web_url: String,
    reply_key: String,
}

impl Source for Overlay {
    fn get(&self, var: &str) -> Option<String> {
        match var {
            "AUTH_PUBLIC_KEYS" => Some(self.public_keys.clone()),
            "ALLOWED_ORIGINS" => Some(self.origins.clone()),
            "WEBSOCKET_URL" => Some(self.websocket_url.clone()),
            // Local mail goes to the outbox folder; these only label it.
            "MAIL_FROM" => self.base.get(var).or_else(|| Some("Support <support@localhost>".into())),
            "SUPPORT_EMAIL" => self.base.get(var).or_else(|| Some("support@localhost".into())),
            "PASSWORD_RESET_URL" => self.base.get(var).or_else(|| Some(self.reset_url.clone())),
            "EMAIL_VERIFY_URL" => self.base.get(var).or_else(|| Some(self.verify_url.clone())),
            // Replies to ticket mails come back through `<data-dir>/inbox`.
            "INBOUND_MAIL_DOMAIN" => self.base.get(var).or_else(|| Some("inbound.localhost".into())),
            "INBOUND_REPLY_KEY" => self.base.get(var).or_else(|| Some(self.reply_key.clone())),
            "WEB_CLIENT_URL" => self.base.get(var).or_else(|| Some(self.web_url.clone())),
            "AUTH_SIGNING_KEY" => Some(self.signing_key.clone()),
            "AUTH_SIGNING_KEY_ID" => Some(keys::KEY_ID.to_owned()),
            _ => self.base.get(var),
        }
    }
}

impl Overlay {
    /// The caller's settings under the gateway's keys (its PEM and public JWKS; the reply-address
    /// key), origins and URLs.
    pub(crate) fn new(
        base: Arc<dyn Source + Send + Sync>,
        pem: String,
        key: &SigningKey,
        reply_key: String,
        addr: SocketAddr,
        origins: &[String],
    ) -> anyhow::Result<Self> {
        Ok(Self {
            base,
            signing_key: pem,
            public_keys: PublicKeys::new([key.public_key().clone()])?.to_jwks(),
            origins: origins.join(","),
            websocket_url: format!("ws://{addr}/ws"),
            reset_url: format!("http://{addr}/reset-password"),
            verify_url: format!("http://{addr}/verify-email"),
            web_url: format!("http://{addr}/"),
            reply_key,
        })
    }
}

/// The gateway's own origin (and its `localhost` spelling on loopback).
pub(crate) fn default_origins(addr: SocketAddr) -> Vec<String> {
    let mut origins = vec![format!("http://{addr}")];
    if addr.ip().is_loopback() {
        origins.push(format!("http://localhost:{}", addr.port()));
    }
    origins
}
