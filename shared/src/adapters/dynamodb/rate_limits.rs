//! Rate-limits table: `pk = <key>`, `count`, `expires_at` (window end and TTL).

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};
use chrono::{DateTime, Duration, Utc};

use super::item::{Item, get_n, n, s};
use super::{DynamoStore, unavailable};
use crate::clock::{epoch, from_epoch};
use crate::ports::{Acquired, Counter, RateLimits, StoreError, StoreResult};

fn counter(item: &Item) -> StoreResult<Counter> {
    Ok(Counter {
        count: u32::try_from(get_n(item, "count")?).unwrap_or(u32::MAX),
        expires_at: from_epoch(get_n(item, "expires_at")?),
    })
}

#[async_trait]
impl RateLimits for DynamoStore {
    async fn acquire(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
        now: DateTime<Utc>,
    ) -> StoreResult<Acquired> {
        // Normally one conditional ADD. Its condition also fails when an ended window's item is
        // still there (TTL deletes late): then a conditional put restarts the window, and a
        // racing writer makes one of the two go round again.
        for _ in 0..4 {
            let add = self
                .client
                .update_item()
                .table_name(&self.tables.rate_limits)
                .key("pk", s(key))
                .update_expression("SET expires_at = if_not_exists(expires_at, :end) ADD #c :one")
                .condition_expression("attribute_not_exists(pk) OR (expires_at > :now AND #c < :limit)")
                .expression_attribute_names("#c", "count")
                .expression_attribute_values(":end", n(epoch(now + window)))
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":now", n(epoch(now)))
                .expression_attribute_values(":limit", n(i64::from(limit)))
                .return_values(ReturnValue::AllNew)
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                .send()
                .await;
            let old = match add {
                Ok(out) => {
                    let attrs = out
                        .attributes
                        .ok_or_else(|| StoreError::Corrupt("update returned nothing".into()))?;
                    return Ok(Acquired::Admitted(counter(&attrs)?));
                }
                Err(e) => match e.as_service_error() {
                    Some(UpdateItemError::ConditionalCheckFailedException(failed)) => failed.item.clone(),
                    _ => return Err(unavailable(e)),
                },
            };
            let old = match old {
                Some(item) => counter(&item)?,
                None => continue,
            };
            if old.expires_at > now {
                return Ok(Acquired::Refused { until: old.expires_at });
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
                Ok(_) => return Ok(Acquired::Admitted(Counter { count: 1, expires_at: now + window })),
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
