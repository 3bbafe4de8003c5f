//! Users table: `pk = USER#<id>` holds the account; `pk = EMAIL#<email>` is the uniqueness claim
//! and carries the same attributes so login finds the account in one read.

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem, Update};

use super::item::{Item, get_n, get_opt_s, get_s, n, s};
use super::{DynamoStore, build_err, unavailable};
use crate::clock::{epoch, from_epoch};
use crate::domain::{DisplayName, Email, UserId, UserProfile};
use crate::ports::{SessionRecord, StoreError, StoreResult, UserRecord, UserStore};

fn user_key(id: &UserId) -> String {
    format!("USER#{}", id.as_str())
}

fn email_key(email: &Email) -> String {
    format!("EMAIL#{}", email.as_str())
}

fn to_item(pk: String, u: &UserRecord) -> Item {
    let mut item = Item::from([
        ("pk".to_owned(), s(pk)),
        ("id".to_owned(), s(u.profile.id.as_str())),
        ("email".to_owned(), s(u.profile.email.as_str())),
        ("password_hash".to_owned(), s(&u.password_hash)),
        ("created_at".to_owned(), n(epoch(u.profile.created_at))),
    ]);
    if let Some(name) = &u.profile.display_name {
        item.insert("display_name".to_owned(), s(name.as_str()));
    }
    item
}

fn from_item(item: &Item) -> StoreResult<UserRecord> {
    let email = get_s(item, "email")?;
    Ok(UserRecord {
        profile: UserProfile {
            id: UserId::from_trusted(get_s(item, "id")?),
            email: Email::parse(&email).map_err(|_| StoreError::Corrupt(format!("user email {email:?}")))?,
            display_name: get_opt_s(item, "display_name").map(DisplayName::from_trusted),
            created_at: from_epoch(get_n(item, "created_at")?),
        },
        password_hash: get_s(item, "password_hash")?,
    })
}

/// A transaction cancelled by a failed condition is a conflict; anything else is the store
/// failing (throttling, a conflicting transaction, the network).
fn transaction_error<R>(e: SdkError<TransactWriteItemsError, R>) -> StoreError
where
    R: std::fmt::Debug + Send + Sync + 'static,
{
    let condition_failed = match e.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(ex)) => {
            ex.cancellation_reasons().iter().any(|r| r.code() == Some("ConditionalCheckFailed"))
        }
        _ => false,
    };
    if condition_failed { StoreError::Conflict } else { unavailable(e) }
}

impl DynamoStore {
    async fn user_by_key(&self, pk: String) -> StoreResult<Option<UserRecord>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.users)
            .key("pk", s(pk))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        out.item.as_ref().map(from_item).transpose()
    }
}

#[async_trait]
impl UserStore for DynamoStore {
    async fn create(&self, user: &UserRecord, first_session: &SessionRecord) -> StoreResult<()> {
        let put = |table: &str, item: Item| -> StoreResult<TransactWriteItem> {
            Ok(TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name(table)
                        .set_item(Some(item))
                        .condition_expression("attribute_not_exists(pk)")
                        .build()
                        .map_err(build_err)?,
                )
                .build())
        };
        let users = &self.tables.users;
        let result = self
            .transaction()
            .transact_items(put(users, to_item(email_key(&user.profile.email), user))?)
            .transact_items(put(users, to_item(user_key(&user.profile.id), user))?)
            .transact_items(put(&self.tables.sessions, super::sessions::to_item(first_session))?)
            .send()
            .await;
        result.map(|_| ()).map_err(transaction_error)
    }

    async fn find_by_email(&self, email: &Email) -> StoreResult<Option<UserRecord>> {
        self.user_by_key(email_key(email)).await
    }

    async fn get(&self, id: &UserId) -> StoreResult<Option<UserRecord>> {
        self.user_by_key(user_key(id)).await
    }

    async fn set_password_hash(&self, user: &UserRecord, password_hash: &str) -> StoreResult<()> {
        let update = |pk: String| -> StoreResult<TransactWriteItem> {
            Ok(TransactWriteItem::builder()
                .update(
                    Update::builder()
                        .table_name(&self.tables.users)
                        .key("pk", s(pk))
                        .update_expression("SET password_hash = :h")
                        .condition_expression("attribute_exists(pk)")
                        .expression_attribute_values(":h", s(password_hash))
                        .build()
                        .map_err(build_err)?,
                )
                .build())
        };
        let result = self
            .transaction()
            .transact_items(update(user_key(&user.profile.id))?)
            .transact_items(update(email_key(&user.profile.email))?)
            .send()
            .await;
        result.map(|_| ()).map_err(transaction_error)
    }

    async fn delete(&self, user: &UserRecord) -> StoreResult<()> {
        let delete = |pk: String| -> StoreResult<TransactWriteItem> {
            Ok(TransactWriteItem::builder()
                .delete(
                    Delete::builder()
                        .table_name(&self.tables.users)
                        .key("pk", s(pk))
                        .build()
                        .map_err(build_err)?,
                )
                .build())
        };
        self.transaction()
            .transact_items(delete(user_key(&user.profile.id))?)
            .transact_items(delete(email_key(&user.profile.email))?)
            .send()
            .await
            .map(|_| ())
            .map_err(transaction_error)
    }
}
