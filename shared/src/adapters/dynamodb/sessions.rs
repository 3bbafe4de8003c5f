//! Sessions table: `pk = <sid>`; `expires_at` (TTL) is the absolute limit, the idle limit is
//! checked on every read and moved by refresh.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::ReturnValue;
use chrono::{DateTime, Utc};

use super::item::{Item, b, get_flag, get_n, get_opt_s, get_s, n, s};
use super::{DynamoStore, unavailable};
use crate::clock::{epoch, from_epoch};
use crate::domain::{DisplayName, Email, SessionId, SessionRecord, UserId, UserProfile};
use crate::ports::{SessionStore, StoreError, StoreResult};

/// Index of a user's sessions (eventually consistent).
pub(crate) const BY_USER: &str = "by_user";

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
        ("last_seen_at".to_owned(), n(epoch(r.last_seen_at))),
        ("email_verified".to_owned(), b(r.user.email_verified)),
    ]);
    if let Some(name) = &r.user.display_name {
        item.insert("display_name".to_owned(), s(name.as_str()));
    }
    if let Some(agent) = &r.user_agent {
        item.insert("user_agent".to_owned(), s(agent));
    }
    item
}

fn from_item(item: &Item) -> StoreResult<SessionRecord> {
    let email = get_s(item, "email")?;
    Ok(SessionRecord {
        id: SessionId::from_trusted(get_s(item, "pk")?),
        user: UserProfile {
            id: UserId::from_trusted(get_s(item, "user_id")?),
            email: Email::from_trusted(email),
            display_name: get_opt_s(item, "display_name").map(DisplayName::from_trusted),
            created_at: from_epoch(get_n(item, "user_created_at")?),
            email_verified: get_flag(item, "email_verified"),
        },
        created_at: from_epoch(get_n(item, "created_at")?),
        absolute_expires_at: from_epoch(get_n(item, "absolute_expires_at")?),
        idle_expires_at: from_epoch(get_n(item, "idle_expires_at")?),
        last_seen_at: from_epoch(get_n(item, "last_seen_at").unwrap_or(0)),
        user_agent: get_opt_s(item, "user_agent"),
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
            .update_expression("SET idle_expires_at = :idle, last_seen_at = :now")
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

    async fn for_user(&self, user: &UserId, now: DateTime<Utc>) -> StoreResult<Vec<SessionRecord>> {
        let items = self.query_index(&self.tables.sessions, BY_USER, "user_id", user.as_str()).await?;
        let mut sessions: Vec<SessionRecord> = items
            .iter()
            .map(from_item)
            .collect::<StoreResult<Vec<_>>>()?
            .into_iter()
            .filter(|r| r.is_live(now))
            .collect();
        sessions.sort_by(|a, b| (a.created_at, a.id.as_str()).cmp(&(b.created_at, b.id.as_str())));
        Ok(sessions)
    }

    async fn mark_email_verified(&self, user: &UserId, now: DateTime<Utc>) -> StoreResult<()> {
        for session in SessionStore::for_user(self, user, now).await? {
            let result = self
                .client
                .update_item()
                .table_name(&self.tables.sessions)
                .key("pk", s(session.id.as_str()))
                .update_expression("SET email_verified = :t")
                .condition_expression("attribute_exists(pk)")
                .expression_attribute_values(":t", b(true))
                .send()
                .await;
            match result {
                Ok(_) => {}
                // Revoked in the meantime: nothing to mark.
                Err(e)
                    if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => {}
                Err(e) => return Err(unavailable(e)),
            }
        }
        Ok(())
    }
}
