//! The `login` Lambda: configuration and clients are built once, then requests are served.

use std::convert::Infallible;
use std::sync::Arc;

use lambda_http::{Request, service_fn};
use login::Login;
use shared::adapters::dynamodb::DynamoStore;
use shared::config::{HttpConfig, LoginConfig, ProcessEnv, Tables, or_exit};
use shared::ports::Stores;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let config = or_exit(LoginConfig::from_source(&ProcessEnv));
    let http = or_exit(HttpConfig::from_source(
        &ProcessEnv,
        Some(config.issuer.key()),
    ));
    let store = Arc::new(DynamoStore::from_env(or_exit(Tables::from_source(&ProcessEnv))).await);
    store.warm().await;
    let login = Arc::new(Login::new(
        config,
        http,
        Stores::single(store),
        Arc::new(shared::SystemClock),
    ));
    lambda_http::run(service_fn(move |req: Request| {
        let login = Arc::clone(&login);
        async move { Ok::<_, Infallible>(login.handle(req).await) }
    }))
    .await
}
