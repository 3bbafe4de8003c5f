//! Serving a function on Lambda: telemetry, the AWS wiring from the environment (tables, one
//! SDK configuration, a warmed store connection, push and mail where the binary links them),
//! the function's own `build`, then the runtime loop. Anything missing or malformed stops the
//! function at init with a message naming the variable; it never runs half-configured.

use std::convert::Infallible;
use std::fmt::Display;
use std::sync::Arc;

use lambda_http::lambda_runtime::{self, LambdaEvent};
use lambda_http::{Request, service_fn};

use super::{EventFunction, Wiring};
use crate::adapters::dynamodb::{DynamoStore, Tables};
use crate::config::ProcessEnv;
use crate::http::HttpFunction;
use crate::ports::Stores;

/// Wires from the environment, builds the HTTP function with `build`, and serves it.
pub async fn serve_http<F, E>(build: impl FnOnce(&Wiring) -> Result<F, E>) -> Result<(), lambda_http::Error>
where
    F: HttpFunction + 'static,
    E: Display,
{
    let function = Arc::new(or_exit(build(&wiring().await)));
    lambda_http::run(service_fn(move |req: Request| {
        let function = Arc::clone(&function);
        async move { Ok::<_, Infallible>(function.handle(req).await) }
    }))
    .await
}

/// Wires from the environment, builds the event function with `build`, and serves it.
pub async fn serve_events<F, E>(
    build: impl FnOnce(&Wiring) -> Result<F, E>,
) -> Result<(), lambda_runtime::Error>
where
    F: EventFunction,
    E: Display,
{
    let function = Arc::new(or_exit(build(&wiring().await)));
    lambda_runtime::run(lambda_runtime::service_fn(move |event: LambdaEvent<F::Event>| {
        let function = Arc::clone(&function);
        async move { function.invoke(event.payload).await.map_err(Into::into) }
    }))
    .await
}

/// The AWS wiring: telemetry first (so init errors are logged), then the adapters.
async fn wiring() -> Wiring {
    crate::telemetry::init();
    let tables = or_exit(Tables::from_source(&ProcessEnv));
    let sdk = crate::adapters::aws::sdk_config().await;
    let store = Arc::new(DynamoStore::from_sdk(&sdk, tables));
    store.warm().await;
    #[allow(unused_mut)]
    let mut wiring = Wiring::new(Arc::new(ProcessEnv), Stores::single(store), Arc::new(crate::SystemClock));
    #[cfg(feature = "apigw")]
    if let Ok(endpoint) = crate::config::management_endpoint(&ProcessEnv) {
        wiring =
            wiring.with_push(Arc::new(crate::adapters::apigw::ApiGatewayPush::from_sdk(&sdk, &endpoint)));
    }
    #[cfg(feature = "ses")]
    {
        wiring = wiring.with_mail(Arc::new(crate::adapters::ses::Ses::from_sdk(&sdk)));
    }
    wiring
}

/// The value, or the process stops with the message (Lambda shows it as an init error).
fn or_exit<T, E: Display>(result: Result<T, E>) -> T {
    result.unwrap_or_else(|e| {
        tracing::error!(error = %e, "refusing to start");
        eprintln!("refusing to start: {e}");
        std::process::exit(1)
    })
}
