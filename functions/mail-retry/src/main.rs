//! The `mail-retry` Lambda, invoked by a schedule.

use std::sync::Arc;

use lambda_runtime::{LambdaEvent, service_fn};
use mail_retry::MailRetry;
use shared::adapters::apigw::ApiGatewayPush;
use shared::adapters::dynamodb::DynamoStore;
use shared::adapters::ses::Ses;
use shared::config::{EscalationConfig, ProcessEnv, Tables, management_endpoint, or_exit};
use shared::ports::Stores;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init();
    let config = or_exit(EscalationConfig::from_source(&ProcessEnv));
    let tables = or_exit(Tables::from_source(&ProcessEnv));
    let management = or_exit(management_endpoint(&ProcessEnv));
    let sdk = shared::adapters::aws::sdk_config().await;
    let store = Arc::new(DynamoStore::from_sdk(&sdk, tables));
    let worker = Arc::new(MailRetry::new(
        &config,
        &Stores::single(store),
        Arc::new(Ses::from_sdk(&sdk)),
        Arc::new(ApiGatewayPush::from_sdk(&sdk, &management)),
        Arc::new(shared::SystemClock),
    ));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let worker = Arc::clone(&worker);
        async move { worker.handle(event.payload).await.map_err(lambda_runtime::Error::from) }
    }))
    .await
}
