//! DynamoDB adapter. Items carry `expires_at` (epoch seconds) for TTL; every read checks it,
//! because TTL deletes late. Uniqueness is enforced with conditional writes.

pub mod connections;
pub mod conversations;
mod events;
mod item;
mod rate_limits;
pub mod schema;
pub mod sessions;
pub mod support_tickets;
mod tables;
mod users;
pub mod ws_tickets;

use std::fmt::Debug;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::transact_write_items::builders::TransactWriteItemsFluentBuilder;

use crate::domain::{Cursor, UserId};
use crate::ports::{StoreError, StoreResult};

pub use tables::Tables;

/// The DynamoDB store; implements every store port over the configured tables.
#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    tables: Tables,
}

impl DynamoStore {
    /// A store over these tables with an already-built client (built once, in `main`).
    pub fn new(client: Client, tables: Tables) -> Self {
        Self { client, tables }
    }

    /// A store with a client built from the shared SDK configuration.
    pub fn from_sdk(sdk: &aws_config::SdkConfig, tables: Tables) -> Self {
        Self::new(Client::new(sdk), tables)
    }

    /// The table names.
    pub fn tables(&self) -> &Tables {
        &self.tables
    }

    /// The SDK client (tests and table set-up use it directly).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Opens the connection (TLS handshake, credentials) during init instead of in the first
    /// request. A failure is logged, not fatal: the first request will retry and answer 503.
    pub async fn warm(&self) {
        let probe = self
            .client
            .get_item()
            .table_name(&self.tables.sessions)
            .key("pk", item::s("warm-up"))
            .send()
            .await;
        if let Err(e) = probe {
            tracing::warn!(error = %DisplayErrorContext(&e), "store warm-up failed");
        }
    }
}

impl DynamoStore {
    /// Every item of `table`'s index `index` whose `attribute` is `value` (all pages).
    async fn query_index(
        &self,
        table: &str,
        index: &str,
        attribute: &str,
        value: &str,
    ) -> StoreResult<Vec<item::Item>> {
        let mut found = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(table)
                .index_name(index)
                .key_condition_expression("#k = :k")
                .expression_attribute_names("#k", attribute)
                .expression_attribute_values(":k", item::s(value))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(unavailable)?;
            found.extend(page.items.unwrap_or_default());
            match page.last_evaluated_key {
                Some(next) if !next.is_empty() => start = Some(next),
                _ => break,
            }
        }
        Ok(found)
    }

    /// One page of a user's items of a newest-first list: the table's index `index` (partition
    /// `user_id`, sort key `sort` = [`position`]), descending, after `before`; every list port
    /// method is this query.
    async fn newest_first(
        &self,
        table: &str,
        index: &str,
        sort: &str,
        user: &UserId,
        before: Option<Cursor>,
        limit: u32,
    ) -> StoreResult<Vec<item::Item>> {
        let mut query = self
            .client
            .query()
            .table_name(table)
            .index_name(index)
            .expression_attribute_names("#sort", sort)
            .expression_attribute_values(":u", item::s(user.as_str()))
            .scan_index_forward(false)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX));
        query = match before {
            Some(Cursor { at, id }) => query
                .key_condition_expression("user_id = :u AND #sort < :before")
                .expression_attribute_values(":before", item::s(position(at, &id))),
            // The sort key is only named when it is compared.
            None => query.key_condition_expression("user_id = :u").set_expression_attribute_names(None),
        };
        let out = query.send().await.map_err(unavailable)?;
        Ok(out.items.unwrap_or_default())
    }

    /// Deletes one item by its key attributes.
    async fn delete_key(&self, table: &str, key: item::Item) -> StoreResult<()> {
        self.client.delete_item().table_name(table).set_key(Some(key)).send().await.map_err(unavailable)?;
        Ok(())
    }
}

/// An item's place in a newest-first index: its time (zero-padded epoch seconds, so text order
/// is time order) and its id.
pub(super) fn position(at: chrono::DateTime<chrono::Utc>, id: &str) -> String {
    format!("{:020}#{id}", crate::clock::epoch(at).max(0))
}

/// A request that could not be built: a bug in this adapter, never the caller's input.
fn build_err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("request build: {e}"))
}

/// Any SDK failure other than an expected condition: retryable, answered with 503.
impl DynamoStore {
    /// A `TransactWriteItems` call with its own idempotency token. The SDK resends the same token
    /// when it retries (e.g. after the 2 s attempt timeout), so a transaction that succeeded but
    /// whose answer was lost succeeds again instead of failing its own conditions (a spurious
    /// conflict); DynamoDB honours a token for 10 minutes.
    fn transaction(&self) -> TransactWriteItemsFluentBuilder {
        self.client.transact_write_items().client_request_token(uuid::Uuid::new_v4().to_string())
    }
}

/// Whether a transaction was cancelled because its first item's condition failed.
fn first_condition_failed<R>(e: &SdkError<TransactWriteItemsError, R>) -> bool {
    failed_condition(e) == Some(0)
}

/// The index of the first item whose condition cancelled a transaction, if that is why.
fn failed_condition<R>(e: &SdkError<TransactWriteItemsError, R>) -> Option<usize> {
    match e.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(ex)) => {
            ex.cancellation_reasons().iter().position(|r| r.code() == Some("ConditionalCheckFailed"))
        }
        _ => None,
    }
}

/// Whether a transaction lost to another write: a condition failed, or a concurrent
/// transaction held one of its items (`TransactionConflict`); either way, read again and retry.
fn lost_race<R>(e: &SdkError<TransactWriteItemsError, R>) -> bool {
    match e.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(ex)) => ex
            .cancellation_reasons()
            .iter()
            .any(|r| matches!(r.code(), Some("ConditionalCheckFailed" | "TransactionConflict"))),
        _ => false,
    }
}

fn unavailable<E, R>(e: SdkError<E, R>) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
    R: Debug + Send + Sync + 'static,
{
    StoreError::Unavailable(DisplayErrorContext(&e).to_string())
}
