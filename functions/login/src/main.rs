//! The `login` Lambda: configuration and clients are built once, then requests are served.

use std::convert::Infallible;
use std::sync::Arc;

use lambda_http::{Request, service_fn};
use login::Login;
use shared::adapters::apigw::ApiGatewayPush;
use shared::adapters::dynamodb::DynamoStore;
use shared::adapters::ses::Ses;
use shared::config::{HttpConfig, LoginConfig, ProcessEnv, Tables, management_endpoint, or_exit};
use shared::http::HttpFunction;
use shared::ports::Stores;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let config = or_exit(LoginConfig::from_source(&ProcessEnv));
    let http = or_exit(HttpConfig::from_source(&ProcessEnv, Some(config.issuer.key())));
    let tables = or_exit(Tables::from_source(&ProcessEnv));
    let management = or_exit(management_endpoint(&ProcessEnv));
    let sdk = shared::adapters::aws::sdk_config().await;
    let store = Arc::new(DynamoStore::from_sdk(&sdk, tables));
    store.warm().await;
    let push = Arc::new(ApiGatewayPush::from_sdk(&sdk, &management));
    let mail = Arc::new(Ses::from_sdk(&sdk));
    let login =
        Arc::new(Login::new(config, http, &Stores::single(store), push, mail, Arc::new(shared::SystemClock)));
    lambda_http::run(service_fn(move |req: Request| {
        let login = Arc::clone(&login);
        async move { Ok::<_, Infallible>(login.handle(req).await) }
    }))
    .await
}
