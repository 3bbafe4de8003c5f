//! Table definitions, for tests and local tables. The deployed tables come from
//! `template.yaml`, which must declare the same keys, indexes and TTL attributes.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};

use super::connections::{BY_SESSION, BY_USER};
use super::{build_err, unavailable};
use crate::config::Tables;
use crate::ports::StoreResult;

/// One table: partition key `pk` (string), on-demand, optional TTL on `expires_at`, and global
/// indexes (name, string partition key attribute) projecting everything.
pub struct TableSpec<'a> {
    /// Table name.
    pub name: &'a str,
    /// Whether items expire through TTL on `expires_at`.
    pub ttl: bool,
    /// Global secondary indexes: (index name, key attribute).
    pub indexes: &'static [(&'static str, &'static str)],
}

/// The tables the store uses.
pub fn specs(tables: &Tables) -> [TableSpec<'_>; 5] {
    [
        TableSpec { name: &tables.users, ttl: false, indexes: &[] },
        TableSpec { name: &tables.sessions, ttl: true, indexes: &[] },
        TableSpec { name: &tables.rate_limits, ttl: true, indexes: &[] },
        TableSpec { name: &tables.ws_tickets, ttl: true, indexes: &[] },
        TableSpec {
            name: &tables.connections,
            ttl: true,
            indexes: &[(BY_USER, "user_id"), (BY_SESSION, "session_id")],
        },
    ]
}

/// Creates every table that does not exist yet.
pub async fn create_tables(client: &Client, tables: &Tables) -> StoreResult<()> {
    for spec in specs(tables) {
        create_table(client, &spec).await?;
    }
    Ok(())
}

fn string_attribute(name: &str) -> StoreResult<AttributeDefinition> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(build_err)
}

fn hash_key(name: &str) -> StoreResult<KeySchemaElement> {
    KeySchemaElement::builder().attribute_name(name).key_type(KeyType::Hash).build().map_err(build_err)
}

async fn create_table(client: &Client, spec: &TableSpec<'_>) -> StoreResult<()> {
    let mut request = client
        .create_table()
        .table_name(spec.name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(string_attribute("pk")?)
        .key_schema(hash_key("pk")?);
    for (index, attribute) in spec.indexes {
        request = request.attribute_definitions(string_attribute(attribute)?).global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(*index)
                .key_schema(hash_key(attribute)?)
                .projection(Projection::builder().projection_type(ProjectionType::All).build())
                .build()
                .map_err(build_err)?,
        );
    }
    match request.send().await {
        Ok(_) => {}
        Err(e) if e.as_service_error().is_some_and(|se| se.is_resource_in_use_exception()) => return Ok(()),
        Err(e) => return Err(unavailable(e)),
    }
    if spec.ttl {
        client
            .update_time_to_live()
            .table_name(spec.name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name("expires_at")
                    .enabled(true)
                    .build()
                    .map_err(build_err)?,
            )
            .send()
            .await
            .map_err(unavailable)?;
    }
    Ok(())
}
