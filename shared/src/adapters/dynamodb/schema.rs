//! Table definitions, for tests and local tables. The deployed tables come from
//! `template.yaml`, which must declare the same keys, indexes and TTL attributes.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};

use super::Tables;
use super::connections::{BY_SESSION, BY_USER};
use super::{build_err, unavailable};
use super::{conversations, sessions, support_tickets, ws_tickets};
use crate::ports::StoreResult;

/// One table: partition key `pk` and optional sort key `sk` (strings), on-demand, optional TTL on
/// `expires_at`, and global indexes projecting everything.
pub struct TableSpec<'a> {
    /// Table name.
    pub name: &'a str,
    /// Whether items have the sort key `sk`.
    pub sorted: bool,
    /// Whether items expire through TTL on `expires_at`.
    pub ttl: bool,
    /// Global secondary indexes: (index name, partition key, optional sort key), all strings.
    pub indexes: &'static [(&'static str, &'static str, Option<&'static str>)],
}

/// The tables the store uses.
pub fn specs(tables: &Tables) -> [TableSpec<'_>; 8] {
    let plain = |name, ttl| TableSpec { name, sorted: false, ttl, indexes: &[] };
    [
        plain(&tables.users, false),
        TableSpec {
            name: &tables.sessions,
            sorted: false,
            ttl: true,
            indexes: &[(sessions::BY_USER, "user_id", None)],
        },
        plain(&tables.rate_limits, true),
        TableSpec {
            name: &tables.ws_tickets,
            sorted: false,
            ttl: true,
            indexes: &[(ws_tickets::BY_USER, "user_id", None)],
        },
        TableSpec {
            name: &tables.connections,
            sorted: false,
            ttl: true,
            indexes: &[(BY_USER, "user_id", None), (BY_SESSION, "session_id", None)],
        },
        TableSpec {
            name: &tables.conversations,
            sorted: true,
            ttl: false,
            indexes: &[(conversations::BY_USER, "user_id", Some("activity"))],
        },
        TableSpec {
            name: &tables.support_tickets,
            sorted: true,
            ttl: true,
            indexes: &[
                (support_tickets::BY_USER, "user_id", Some("created_key")),
                (support_tickets::BY_DUE, "queue", Some("due")),
            ],
        },
        TableSpec { name: &tables.events, sorted: true, ttl: true, indexes: &[] },
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

fn key(name: &str, key_type: KeyType) -> StoreResult<KeySchemaElement> {
    KeySchemaElement::builder().attribute_name(name).key_type(key_type).build().map_err(build_err)
}

async fn create_table(client: &Client, spec: &TableSpec<'_>) -> StoreResult<()> {
    let mut request = client
        .create_table()
        .table_name(spec.name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(string_attribute("pk")?)
        .key_schema(key("pk", KeyType::Hash)?);
    if spec.sorted {
        request =
            request.attribute_definitions(string_attribute("sk")?).key_schema(key("sk", KeyType::Range)?);
    }
    let mut defined = Vec::new();
    for (index, hash, range) in spec.indexes {
        let mut keys = vec![key(hash, KeyType::Hash)?];
        for attribute in std::iter::once(*hash).chain(*range) {
            if !defined.contains(&attribute) {
                defined.push(attribute);
                request = request.attribute_definitions(string_attribute(attribute)?);
            }
        }
        if let Some(range) = range {
            keys.push(key(range, KeyType::Range)?);
        }
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(*index)
                .set_key_schema(Some(keys))
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
