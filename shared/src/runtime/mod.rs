//! Wiring, written once. A [`Wiring`] is everything a function is built from: its settings,
//! the stores, push, mail and the clock. Each function crate has a `build(&Wiring)`; a Lambda's
//! `main` hands that to [`lambda`]'s `serve_*`, which wires the AWS adapters from the
//! environment, and the local gateway builds the same functions over its own wiring.

#[cfg(feature = "dynamodb")]
pub mod lambda;

use std::sync::Arc;

use lambda_http::lambda_runtime;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Clock;
use crate::auth::KeyRing;
use crate::config::HttpConfig;
use crate::env::{ConfigError, Source, err};
use crate::ports::{MailTransport, Push, ReceivedMail, Stores};

/// A function invoked with a whole Lambda event (not through `lambda_http`).
#[async_trait::async_trait]
pub trait EventFunction: Send + Sync + 'static {
    /// The event it is invoked with.
    type Event: DeserializeOwned + Send;
    /// What it answers.
    type Output: Serialize;
    /// Why an invocation failed (Lambda reports it, and retries an async invoke).
    type Error: Into<lambda_runtime::Error>;
    /// Handles one event.
    async fn invoke(&self, event: Self::Event) -> Result<Self::Output, Self::Error>;
}

/// Settings with one variable's value replaced.
struct Overridden {
    base: Arc<dyn Source + Send + Sync>,
    var: &'static str,
    value: String,
}

impl Source for Overridden {
    fn get(&self, var: &str) -> Option<String> {
        if var == self.var { Some(self.value.clone()) } else { self.base.get(var) }
    }
}

/// What every function is built from.
#[derive(Clone)]
pub struct Wiring {
    settings: Arc<dyn Source + Send + Sync>,
    stores: Stores,
    clock: Arc<dyn Clock>,
    push: Option<Arc<dyn Push>>,
    mail: Option<Arc<dyn MailTransport>>,
    keys: Option<Arc<KeyRing>>,
    received_mail: Option<Arc<dyn ReceivedMail>>,
}

impl Wiring {
    /// Settings, stores and clock; push and mail are added when the host has them.
    pub fn new(settings: Arc<dyn Source + Send + Sync>, stores: Stores, clock: Arc<dyn Clock>) -> Self {
        Self { settings, stores, clock, push: None, mail: None, keys: None, received_mail: None }
    }

    /// With pushes to WebSocket clients.
    #[must_use]
    pub fn with_push(mut self, push: Arc<dyn Push>) -> Self {
        self.push = Some(push);
        self
    }

    /// With a mail transport.
    #[must_use]
    pub fn with_mail(mut self, mail: Arc<dyn MailTransport>) -> Self {
        self.mail = Some(mail);
        self
    }

    /// With keys fetched from a key store (Secrets Manager); without, the keys are fixed, read
    /// from the settings.
    #[must_use]
    pub fn with_keys(mut self, keys: Arc<KeyRing>) -> Self {
        self.keys = Some(keys);
        self
    }

    /// With one setting's value given here rather than read from the settings (a secret read
    /// at init).
    #[must_use]
    pub fn with_setting(mut self, var: &'static str, value: String) -> Self {
        self.settings = Arc::new(Overridden { base: self.settings, var, value });
        self
    }

    /// With the messages SES receiving stored (the inbound bucket).
    #[must_use]
    pub fn with_received_mail(mut self, received: Arc<dyn ReceivedMail>) -> Self {
        self.received_mail = Some(received);
        self
    }

    /// Where the functions' settings are read from.
    pub fn settings(&self) -> &dyn Source {
        self.settings.as_ref()
    }

    /// The stores.
    pub fn stores(&self) -> &Stores {
        &self.stores
    }

    /// The clock.
    pub fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }

    /// Pushes to WebSocket clients; an error naming the setting when this host has none.
    pub fn push(&self) -> Result<Arc<dyn Push>, ConfigError> {
        self.push.clone().ok_or_else(|| {
            err("WEBSOCKET_MANAGEMENT_ENDPOINT", "is required (or WEBSOCKET_URL to derive it from)")
        })
    }

    /// The mail transport; an error when this host has none.
    pub fn mail(&self) -> Result<Arc<dyn MailTransport>, ConfigError> {
        self.mail
            .clone()
            .ok_or_else(|| err("MAIL_FROM", "this function sends mail, but no transport is wired"))
    }

    /// The stored received messages; an error naming the setting when this host has none.
    pub fn received_mail(&self) -> Result<Arc<dyn ReceivedMail>, ConfigError> {
        self.received_mail
            .clone()
            .ok_or_else(|| err("INBOUND_MAIL_BUCKET", "is required: this function reads received mail"))
    }

    /// The HTTP settings every HTTP function reads ([`HttpConfig`]): the wired keys, or fixed
    /// keys from the settings; `signs` for a function that signs tokens (login).
    pub fn http(&self, signs: bool) -> Result<HttpConfig, ConfigError> {
        match &self.keys {
            Some(keys) if signs && !keys.signs() => {
                Err(err("AUTH_SIGNING_KEY_SECRET", "is required: this function signs tokens"))
            }
            Some(keys) => HttpConfig::with_keys(self.settings(), keys.clone()),
            // A main that forgot `with_keys` would otherwise fail later, naming AUTH_PUBLIC_KEYS.
            None if self.settings().get("AUTH_PUBLIC_KEYS_SECRET").is_some() => Err(err(
                "AUTH_PUBLIC_KEYS_SECRET",
                "is set, but this function was wired without the key store (with_keys)",
            )),
            None => HttpConfig::from_source(self.settings(), signs),
        }
    }
}
