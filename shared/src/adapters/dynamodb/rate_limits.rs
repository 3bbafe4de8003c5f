//! Rate-limits table: `pk = <key>`, `count`, `expires_at` (window end and TTL).

use async_trait::async_trait;
use aws_sdk_dynamodb::types::ReturnValue;
use chrono::{DateTime, Duration, Utc};

use super::item::{Item, get_n, n, s};
use super::{DynamoStore, unavailable};
use crate::clock::{epoch, from_epoch};
use crate::ports::{Counter, RateLimits, StoreError, StoreResult};

fn counter(item: &Item) -> StoreResult<Counter> {
    Ok(Counter {
        count: u32::try_from(get_n(item, "count")?).unwrap_or(u32::MAX),
        expires_at: from_epoch(get_n(item, "expires_at")?),
    })
}

#[async_trait]
impl RateLimits for DynamoStore {
    async fn current(&self, key: &str, now: DateTime<Utc>) -> StoreResult<Option<Counter>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.rate_limits)
            .key("pk", s(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.item.as_ref().map(counter).transpose()?.filter(|c| c.expires_at > now))
    }

    async fn hit(&self, key: &str, window: Duration, now: DateTime<Utc>) -> StoreResult<Counter> {
        // Normally one atomic ADD. If an ended window's item is still there (TTL is late), the
        // ADD's condition fails and a conditional put restarts the window; a racing writer makes
        // one of the two retry.
        for _ in 0..4 {
            let add = self
                .client
                .update_item()
                .table_name(&self.tables.rate_limits)
                .key("pk", s(key))
                .update_expression("SET expires_at = if_not_exists(expires_at, :end) ADD #c :one")
                .condition_expression("attribute_not_exists(pk) OR expires_at > :now")
                .expression_attribute_names("#c", "count")
                .expression_attribute_values(":end", n(epoch(now + window)))
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":now", n(epoch(now)))
                .return_values(ReturnValue::AllNew)
                .send()
                .await;
            match add {
                Ok(out) => {
                    let attrs = out
                        .attributes
                        .ok_or_else(|| StoreError::Corrupt("update returned nothing".into()))?;
                    return counter(&attrs);
                }
                Err(e)
                    if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => {}
                Err(e) => return Err(unavailable(e)),
            }
            let restart = self
                .client
                .put_item()
                .table_name(&self.tables.rate_limits)
                .item("pk", s(key))
                .item("count", n(1))
                .item("expires_at", n(epoch(now + window)))
                .condition_expression("attribute_not_exists(pk) OR expires_at <= :now")
                .expression_attribute_values(":now", n(epoch(now)))
                .send()
                .await;
            match restart {
                Ok(_) => {
                    return Ok(Counter { count: 1, expires_at: now + window });
                }
                Err(e)
                    if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => {}
                Err(e) => return Err(unavailable(e)),
            }
        }
        Err(StoreError::Unavailable(format!("rate limit {key}: too much contention")))
    }

    async fn clear(&self, key: &str) -> StoreResult<()> {
        self.client
            .delete_item()
            .table_name(&self.tables.rate_limits)
            .key("pk", s(key))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}
