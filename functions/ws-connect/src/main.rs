//! The `ws-connect` Lambda: the WebSocket API's events arrive whole through `lambda_runtime`
//! (keeping `routeKey` and `connectionId`, which `lambda_http` would drop).

use std::convert::Infallible;
use std::sync::Arc;

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use lambda_runtime::{LambdaEvent, service_fn};
use shared::adapters::dynamodb::DynamoStore;
use shared::config::{ConnectPolicy, HttpConfig, ProcessEnv, Tables, or_exit};
use shared::ports::Stores;
use ws_connect::WsConnect;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init();
    let http = or_exit(HttpConfig::from_source(&ProcessEnv, None));
    let policy = or_exit(ConnectPolicy::from_source(&ProcessEnv));
    let tables = or_exit(Tables::from_source(&ProcessEnv));
    let sdk = shared::adapters::aws::sdk_config().await;
    let store = Arc::new(DynamoStore::from_sdk(&sdk, tables));
    store.warm().await;
    let function =
        Arc::new(WsConnect::new(http, policy, &Stores::single(store), Arc::new(shared::SystemClock)));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<ApiGatewayWebsocketProxyRequest>| {
        let function = Arc::clone(&function);
        async move { Ok::<_, Infallible>(function.handle(event.payload).await) }
    }))
    .await
}
