//! DynamoDB on moto, started by the test command (`scripts/test`). Each call makes fresh tables,
//! so tests never share state.

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use shared::adapters::dynamodb::{DynamoStore, schema};
use shared::config::Tables;

/// moto's endpoint; the test command exports it. Missing means the tests were not started by
/// the test command: that is a failure, never a skip.
pub fn endpoint() -> String {
    std::env::var("MOTO_ENDPOINT")
        .expect("MOTO_ENDPOINT is not set: run the tests with scripts/test, which starts moto and exports it")
}

/// The shared SDK configuration pointed at moto (what the gateway's AWS backend is given).
pub fn sdk_config() -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint())
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(Credentials::new(
            "test", "test", None, None, "moto",
        )))
        .build()
}

/// The SDK configuration the functions use in production (timeouts, retries), at `endpoint`.
pub async fn production_sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    shared::adapters::aws::loader()
        .endpoint_url(endpoint)
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "moto"))
        .load()
        .await
}

/// A DynamoDB client pointed at moto.
pub fn client() -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "moto"))
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

/// A store over three brand-new tables.
pub async fn fresh_store() -> DynamoStore {
    let tables = Tables::with_prefix(&format!("t{}", uuid::Uuid::new_v4().simple()));
    let client = client();
    schema::create_tables(&client, &tables).await.expect("create tables on moto");
    DynamoStore::new(client, tables)
}

/// An SES v2 client pointed at moto.
pub fn ses() -> aws_sdk_sesv2::Client {
    let config = aws_sdk_sesv2::Config::builder()
        .behavior_version(aws_sdk_sesv2::config::BehaviorVersion::latest())
        .endpoint_url(endpoint())
        .region(aws_sdk_sesv2::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_sesv2::config::Credentials::new("test", "test", None, None, "moto"))
        .build();
    aws_sdk_sesv2::Client::from_conf(config)
}

/// Everything SES on moto accepted, as moto reports it (`ses.RawMessage[]` and more).
pub async fn sent_mail() -> serde_json::Value {
    reqwest::get(format!("{}/moto-api/data.json", endpoint()))
        .await
        .expect("moto reachable")
        .json::<serde_json::Value>()
        .await
        .expect("moto data")["ses"]
        .clone()
}

/// The raw messages SES on moto accepted from senders containing `source`, oldest first
/// (`scripts/moto_server.py` serves this list; moto's own dump of all its state is slow).
pub async fn sent_raw_mail(source: &str) -> Vec<serde_json::Value> {
    let source: String =
        percent_encoding::utf8_percent_encode(source, percent_encoding::NON_ALPHANUMERIC).collect();
    reqwest::get(format!("{}/_test/sent-mail?source={source}", endpoint()))
        .await
        .expect("moto reachable")
        .json::<Vec<serde_json::Value>>()
        .await
        .expect("sent mail")
}
