//! Sessions table: `pk = <sid>`; `expires_at` (TTL) is the absolute limit, the idle limit is
//! checked on every read and moved by refresh.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::ReturnValue;
use chrono::{DateTime, Utc};

use super::item::{Item, get_n, get_opt_s, get_s, n, s};
use super::{DynamoStore, unavailable};
use crate::auth::SessionId;
use crate::clock::{epoch, from_epoch};
use crate::domain::{DisplayName, Email, UserId, UserProfile};
use crate::ports::{SessionRecord, SessionStore, StoreError, StoreResult};

pub(super) fn to_item(r: &SessionRecord) -> Item {
    let mut item = Item::from([
        ("pk".to_owned(), s(r.id.as_str())),
        ("user_id".to_owned(), s(r.user.id.as_str())),
        ("email".to_owned(), s(r.user.email.as_str())),
        ("user_created_at".to_owned(), n(epoch(r.user.created_at))),
        ("created_at".to_owned(), n(epoch(r.created_at))),
        ("absolute_expires_at".to_owned(), n(epoch(r.absolute_expires_at))),
        ("idle_expires_at".to_owned(), n(epoch(r.idle_expires_at))),
        ("expires_at".to_owned(), n(epoch(r.absolute_expires_at))),
    ]);
    if let Some(name) = &r.user.display_name {
        item.insert("display_name".to_owned(), s(name.as_str()));
    }
    item
}

fn from_item(item: &Item) -> StoreResult<SessionRecord> {
    let email = get_s(item, "email")?;
    Ok(SessionRecord {
        id: SessionId::from_trusted(get_s(item, "pk")?),
        user: UserProfile {
            id: UserId::from_trusted(get_s(item, "user_id")?),
            email: Email::parse(&email)
                .map_err(|_| StoreError::Corrupt(format!("session email {email:?}")))?,
            display_name: get_opt_s(item, "display_name").map(DisplayName::from_trusted),
            created_at: from_epoch(get_n(item, "user_created_at")?),
        },
        created_at: from_epoch(get_n(item, "created_at")?),
        absolute_expires_at: from_epoch(get_n(item, "absolute_expires_at")?),
        idle_expires_at: from_epoch(get_n(item, "idle_expires_at")?),
    })
}

/// The record if present and live at `now`.
fn live(item: Option<&Item>, now: DateTime<Utc>) -> StoreResult<Option<SessionRecord>> {
    Ok(item.map(from_item).transpose()?.filter(|r| r.is_live(now)))
}

#[async_trait]
impl SessionStore for DynamoStore {
    async fn create(&self, session: &SessionRecord) -> StoreResult<()> {
        let result = self
            .client
            .put_item()
            .table_name(&self.tables.sessions)
            .set_item(Some(to_item(session)))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => {
                Err(StoreError::Conflict)
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn get(&self, id: &SessionId, now: DateTime<Utc>) -> StoreResult<Option<SessionRecord>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.sessions)
            .key("pk", s(id.as_str()))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        live(out.item.as_ref(), now)
    }

    async fn touch(
        &self,
        id: &SessionId,
        idle_expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<SessionRecord>> {
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.sessions)
            .key("pk", s(id.as_str()))
            .update_expression("SET idle_expires_at = :idle")
            .condition_expression(
                "attribute_exists(pk) AND absolute_expires_at > :now AND idle_expires_at > :now",
            )
            .expression_attribute_values(":idle", n(epoch(idle_expires_at)))
            .expression_attribute_values(":now", n(epoch(now)))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(out) => live(out.attributes.as_ref(), now),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => {
                Ok(None)
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn delete(&self, id: &SessionId, now: DateTime<Utc>) -> StoreResult<bool> {
        let out = self
            .client
            .delete_item()
            .table_name(&self.tables.sessions)
            .key("pk", s(id.as_str()))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(live(out.attributes.as_ref(), now)?.is_some())
    }
}
