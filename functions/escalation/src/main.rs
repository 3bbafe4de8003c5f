//! The `escalation` Lambda: configuration and clients are built once, then requests are served.

use std::convert::Infallible;
use std::sync::Arc;

use escalation::Escalation;
use lambda_http::{Request, service_fn};
use shared::adapters::apigw::ApiGatewayPush;
use shared::adapters::dynamodb::DynamoStore;
use shared::adapters::ses::Ses;
use shared::config::{EscalationConfig, HttpConfig, ProcessEnv, Tables, management_endpoint, or_exit};
use shared::http::HttpFunction;
use shared::ports::Stores;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let http = or_exit(HttpConfig::from_source(&ProcessEnv, None));
    let config = or_exit(EscalationConfig::from_source(&ProcessEnv));
    let tables = or_exit(Tables::from_source(&ProcessEnv));
    let management = or_exit(management_endpoint(&ProcessEnv));
    let sdk = shared::adapters::aws::sdk_config().await;
    let store = Arc::new(DynamoStore::from_sdk(&sdk, tables));
    store.warm().await;
    let function = Arc::new(Escalation::new(
        http,
        config,
        &Stores::single(store),
        Arc::new(Ses::from_sdk(&sdk)),
        Arc::new(ApiGatewayPush::from_sdk(&sdk, &management)),
        Arc::new(shared::SystemClock),
    ));
    lambda_http::run(service_fn(move |req: Request| {
        let function = Arc::clone(&function);
        async move { Ok::<_, Infallible>(function.handle(req).await) }
    }))
    .await
}
