//! The `chat` Lambda: configuration, clients and the knowledge-base index are built once, then
//! requests are served.

use std::convert::Infallible;
use std::sync::Arc;

use chat::Chat;
use lambda_http::{Request, service_fn};
use shared::adapters::apigw::ApiGatewayPush;
use shared::adapters::dynamodb::DynamoStore;
use shared::config::{HttpConfig, ProcessEnv, Tables, management_endpoint, or_exit};
use shared::http::HttpFunction;
use shared::ports::Stores;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let http = or_exit(HttpConfig::from_source(&ProcessEnv, None));
    let tables = or_exit(Tables::from_source(&ProcessEnv));
    let management = or_exit(management_endpoint(&ProcessEnv));
    let started = std::time::Instant::now();
    let knowledge_base = chat::knowledge_base().unwrap_or_else(|e| {
        eprintln!("refusing to start: {e}");
        std::process::exit(1)
    });
    let (articles, passages) = knowledge_base.size();
    tracing::info!(
        articles,
        passages,
        micros = started.elapsed().as_micros() as u64,
        "knowledge base indexed"
    );
    let sdk = shared::adapters::aws::sdk_config().await;
    let store = Arc::new(DynamoStore::from_sdk(&sdk, tables));
    store.warm().await;
    let push = Arc::new(ApiGatewayPush::from_sdk(&sdk, &management));
    let function = Arc::new(Chat::new(
        http,
        &Stores::single(store),
        Arc::new(knowledge_base),
        push,
        Arc::new(shared::SystemClock),
    ));
    lambda_http::run(service_fn(move |req: Request| {
        let function = Arc::clone(&function);
        async move { Ok::<_, Infallible>(function.handle(req).await) }
    }))
    .await
}
