//! Serving a function on Lambda: telemetry, the AWS wiring from the environment (tables, one
//! SDK configuration, a warmed store connection), the push and mail adapters the function's
//! `main` asks for, the function's own `build`, then the runtime loop. A `main` names what it
//! uses, so a binary links only those SDK clients:
//!
//! ```text
//! shared::runtime::lambda::wire("login").await.with_keys().await.with_push().with_mail()
//!     .serve_http(login::Login::build).await
//! ```
//!
//! Anything missing or malformed stops the function at init with a message naming the
//! variable; it never runs half-configured.

use std::convert::Infallible;
use std::fmt::Display;
use std::sync::Arc;

use aws_config::SdkConfig;
use lambda_http::lambda_runtime::{self, LambdaEvent};
use lambda_http::{Request, service_fn};

use super::{EventFunction, Wiring};
use crate::adapters::dynamodb::{DynamoStore, Tables};
use crate::config::ProcessEnv;
#[cfg(feature = "secrets")]
use crate::env::Source;
use crate::http::HttpFunction;
use crate::ports::Stores;

/// The AWS wiring of one Lambda, before its function is built.
pub struct Aws {
    #[cfg_attr(
        not(any(feature = "apigw", feature = "ses", feature = "secrets", feature = "s3")),
        allow(dead_code, reason = "read by the adapters behind features")
    )]
    sdk: SdkConfig,
    /// One Secrets Manager client for every secret read at init, so the reads after the first
    /// reuse its connection (one TLS handshake, not one per secret).
    #[cfg(feature = "secrets")]
    secrets: aws_sdk_secretsmanager::Client,
    wiring: Wiring,
    /// The store's first round trip, running while the rest of init (key secrets, the
    /// function's own build) goes on; awaited before the first request is taken.
    warming: tokio::task::JoinHandle<()>,
}

/// Telemetry first (so init errors are logged; `function` names this Lambda in the metrics),
/// then the settings, the SDK configuration and
/// the store, whose connection is opened now (in the background) rather than in the first
/// request.
pub async fn wire(function: &'static str) -> Aws {
    crate::telemetry::init();
    crate::telemetry::metrics::set_function(function);
    let tables = or_exit(Tables::from_source(&ProcessEnv));
    let sdk = crate::adapters::aws::lambda_sdk_config();
    let store = Arc::new(DynamoStore::from_sdk(&sdk, tables));
    let warming = tokio::spawn({
        let store = store.clone();
        async move { store.warm().await }
    });
    let wiring = Wiring::new(Arc::new(ProcessEnv), Stores::single(store), Arc::new(crate::SystemClock));
    Aws {
        #[cfg(feature = "secrets")]
        secrets: aws_sdk_secretsmanager::Client::new(&sdk),
        sdk,
        wiring,
        warming,
    }
}

impl Aws {
    /// With pushes through the API Gateway Management API (`WEBSOCKET_MANAGEMENT_ENDPOINT`, or
    /// derived from `WEBSOCKET_URL`).
    #[cfg(feature = "apigw")]
    #[must_use]
    pub fn with_push(mut self) -> Self {
        let endpoint = or_exit(crate::config::management_endpoint(&ProcessEnv));
        let push = crate::adapters::apigw::ApiGatewayPush::from_sdk(&self.sdk, &endpoint);
        self.wiring = self.wiring.with_push(Arc::new(push));
        self
    }

    /// With the token keys from Secrets Manager when `AUTH_PUBLIC_KEYS_SECRET` names a secret
    /// (and login's signing key when `AUTH_SIGNING_KEY_SECRET` does), read now and again after
    /// `KEYS_REFRESH_SECONDS`; without it, the keys are fixed, from the environment.
    #[cfg(feature = "secrets")]
    pub async fn with_keys(mut self) -> Self {
        let Some(secrets) = or_exit(crate::config::KeySecrets::from_source(&ProcessEnv)) else { return self };
        let source = crate::adapters::secrets::SecretsManagerKeys::new(
            self.secrets.clone(),
            &secrets.public_keys,
            secrets.signing_key.as_deref(),
        );
        let keys = crate::auth::KeyRing::fetch(
            or_exit(crate::config::token_settings(&ProcessEnv)),
            Arc::new(source),
            secrets.every,
            secrets.signing_key.is_some(),
            self.wiring.clock(),
        )
        .await;
        self.wiring = self.wiring.with_keys(Arc::new(or_exit(keys)));
        self
    }

    /// With `INBOUND_REPLY_KEY` read from the Secrets Manager secret `INBOUND_REPLY_KEY_SECRET`
    /// names, once, when `INBOUND_MAIL_DOMAIN` is set (ticket mails then carry signed reply
    /// addresses); otherwise nothing is read.
    #[cfg(feature = "secrets")]
    pub async fn with_reply_key(mut self) -> Self {
        if ProcessEnv.get("INBOUND_MAIL_DOMAIN").is_none() {
            return self;
        }
        let Some(id) = ProcessEnv.get("INBOUND_REPLY_KEY_SECRET") else { return self };
        let key = or_exit(crate::adapters::secrets::secret_string(&self.secrets, &id).await);
        self.wiring = self.wiring.with_setting("INBOUND_REPLY_KEY", key);
        self
    }

    /// With mail through SES.
    #[cfg(feature = "ses")]
    #[must_use]
    pub fn with_mail(mut self) -> Self {
        self.wiring = self.wiring.with_mail(Arc::new(crate::adapters::ses::Ses::from_sdk(&self.sdk)));
        self
    }

    /// With the messages SES receiving stores in S3 (`INBOUND_MAIL_BUCKET`, `INBOUND_MAIL_PREFIX`).
    #[cfg(feature = "s3")]
    #[must_use]
    pub fn with_received_mail(mut self) -> Self {
        let (bucket, prefix) = or_exit(crate::config::received_mail_location(&ProcessEnv));
        let received = crate::adapters::s3::S3ReceivedMail::from_sdk(&self.sdk, &bucket, &prefix);
        self.wiring = self.wiring.with_received_mail(Arc::new(received));
        self
    }

    /// Builds the HTTP function with `build` and serves it.
    pub async fn serve_http<F, E>(
        self,
        build: impl FnOnce(&Wiring) -> Result<F, E>,
    ) -> Result<(), lambda_http::Error>
    where
        F: HttpFunction + 'static,
        E: Display,
    {
        let function = Arc::new(or_exit(build(&self.wiring)));
        self.warming.await.ok();
        lambda_http::run(service_fn(move |req: Request| {
            let function = Arc::clone(&function);
            async move { Ok::<_, Infallible>(function.handle(req).await) }
        }))
        .await
    }

    /// Builds the event function with `build` and serves it.
    pub async fn serve_events<F, E>(
        self,
        build: impl FnOnce(&Wiring) -> Result<F, E>,
    ) -> Result<(), lambda_runtime::Error>
    where
        F: EventFunction,
        E: Display,
    {
        let function = Arc::new(or_exit(build(&self.wiring)));
        self.warming.await.ok();
        lambda_runtime::run(lambda_runtime::service_fn(move |event: LambdaEvent<F::Event>| {
            let function = Arc::clone(&function);
            async move { function.invoke(event.payload).await.map_err(Into::into) }
        }))
        .await
    }
}

/// The value, or the process stops with the message (Lambda shows it as an init error).
fn or_exit<T, E: Display>(result: Result<T, E>) -> T {
    result.unwrap_or_else(|e| {
        tracing::error!(error = %e, "refusing to start");
        eprintln!("refusing to start: {e}");
        std::process::exit(1)
    })
}
