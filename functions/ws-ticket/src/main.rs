//! The `ws-ticket` Lambda: configuration and clients are built once, then requests are served.

use std::convert::Infallible;
use std::sync::Arc;

use lambda_http::{Request, service_fn};
use shared::adapters::dynamodb::DynamoStore;
use shared::config::{HttpConfig, ProcessEnv, Tables, WsConfig, or_exit};
use shared::http::HttpFunction;
use shared::ports::Stores;
use ws_ticket::WsTicket;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let http = or_exit(HttpConfig::from_source(&ProcessEnv, None));
    let ws = or_exit(WsConfig::from_source(&ProcessEnv));
    let tables = or_exit(Tables::from_source(&ProcessEnv));
    let sdk = shared::adapters::aws::sdk_config().await;
    let store = Arc::new(DynamoStore::from_sdk(&sdk, tables));
    store.warm().await;
    let function = Arc::new(WsTicket::new(http, ws, &Stores::single(store), Arc::new(shared::SystemClock)));
    lambda_http::run(service_fn(move |req: Request| {
        let function = Arc::clone(&function);
        async move { Ok::<_, Infallible>(function.handle(req).await) }
    }))
    .await
}
