//! Table definitions, for tests and the local gateway's `--create-tables`. The deployed tables
//! come from `template.yaml`, which must declare the same keys.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    TimeToLiveSpecification,
};

use super::unavailable;
use crate::config::Tables;
use crate::ports::{StoreError, StoreResult};

/// Creates the three tables (partition key `pk`, on-demand), with TTL on `expires_at` where
/// items expire. Tables that already exist are left alone.
pub async fn create_tables(client: &Client, tables: &Tables) -> StoreResult<()> {
    for (name, ttl) in [
        (&tables.users, false),
        (&tables.sessions, true),
        (&tables.rate_limits, true),
    ] {
        create_table(client, name, ttl).await?;
    }
    Ok(())
}

async fn create_table(client: &Client, name: &str, ttl: bool) -> StoreResult<()> {
    let build = |e: aws_sdk_dynamodb::error::BuildError| StoreError::Corrupt(e.to_string());
    let created = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(build)?,
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .map_err(build)?,
        )
        .send()
        .await;
    match created {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|se| se.is_resource_in_use_exception()) =>
        {
            return Ok(());
        }
        Err(e) => return Err(unavailable(e)),
    }
    if ttl {
        client
            .update_time_to_live()
            .table_name(name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name("expires_at")
                    .enabled(true)
                    .build()
                    .map_err(build)?,
            )
            .send()
            .await
            .map_err(unavailable)?;
    }
    Ok(())
}
