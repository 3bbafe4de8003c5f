//! Users table: `pk = USER#<id>` holds the account; `pk = EMAIL#<email>` is the uniqueness claim
//! and carries the same attributes so login finds the account in one read.

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};
use chrono::{DateTime, Utc};

use super::item::{Item, b, get_flag, get_n, get_opt_n, get_opt_s, get_s, n, s};
use super::{DynamoStore, build_err, unavailable};
use crate::clock::{epoch, from_epoch};
use crate::domain::{
    DisplayName, Email, SessionRecord, StoredToken, TokenPurpose, UserId, UserProfile, UserRecord,
};
use crate::ports::{StoreError, StoreResult, UserStore};

fn user_key(id: &UserId) -> String {
    format!("USER#{}", id.as_str())
}

fn email_key(email: &Email) -> String {
    format!("EMAIL#{}", email.as_str())
}

/// The attributes a purpose's token lives in.
fn token_attributes(purpose: TokenPurpose) -> (&'static str, &'static str) {
    match purpose {
        TokenPurpose::VerifyEmail => ("verify_digest", "verify_expires_at"),
        TokenPurpose::ResetPassword => ("reset_digest", "reset_expires_at"),
    }
}

/// Removes every mailed token.
const NO_TOKENS: &str = "verify_digest, verify_expires_at, reset_digest, reset_expires_at";

fn to_item(pk: String, u: &UserRecord) -> Item {
    let mut item = Item::from([
        ("pk".to_owned(), s(pk)),
        ("id".to_owned(), s(u.profile.id.as_str())),
        ("email".to_owned(), s(u.profile.email.as_str())),
        ("password_hash".to_owned(), s(&u.password_hash)),
        ("created_at".to_owned(), n(epoch(u.profile.created_at))),
        ("email_verified".to_owned(), b(u.profile.email_verified)),
    ]);
    if let Some(name) = &u.profile.display_name {
        item.insert("display_name".to_owned(), s(name.as_str()));
    }
    for (purpose, token) in
        [(TokenPurpose::VerifyEmail, &u.verify_token), (TokenPurpose::ResetPassword, &u.reset_token)]
    {
        if let Some(token) = token {
            let (digest, expires) = token_attributes(purpose);
            item.insert(digest.to_owned(), s(&token.digest));
            item.insert(expires.to_owned(), n(epoch(token.expires_at)));
        }
    }
    item
}

fn token(item: &Item, purpose: TokenPurpose) -> Option<StoredToken> {
    let (digest, expires) = token_attributes(purpose);
    Some(StoredToken { digest: get_opt_s(item, digest)?, expires_at: from_epoch(get_opt_n(item, expires)?) })
}

fn from_item(item: &Item) -> StoreResult<UserRecord> {
    let email = get_s(item, "email")?;
    Ok(UserRecord {
        profile: UserProfile {
            id: UserId::from_trusted(get_s(item, "id")?),
            email: Email::from_trusted(email),
            display_name: get_opt_s(item, "display_name").map(DisplayName::from_trusted),
            created_at: from_epoch(get_n(item, "created_at")?),
            email_verified: get_flag(item, "email_verified"),
        },
        password_hash: get_s(item, "password_hash")?,
        verify_token: token(item, TokenPurpose::VerifyEmail),
        reset_token: token(item, TokenPurpose::ResetPassword),
    })
}

/// One update of an account: the same expression and condition on both of its items (the
/// account and the email claim carry the same attributes).
struct AccountUpdate<'a> {
    update: String,
    condition: &'a str,
    names: Vec<(&'a str, &'a str)>,
    values: Vec<(&'a str, AttributeValue)>,
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

    async fn set_token(
        &self,
        user: &UserRecord,
        purpose: TokenPurpose,
        token: &StoredToken,
    ) -> StoreResult<()> {
        let (digest, expires) = token_attributes(purpose);
        let update = AccountUpdate {
            update: "SET #d = :d, #e = :e".into(),
            condition: "attribute_exists(pk)",
            names: vec![("#d", digest), ("#e", expires)],
            values: vec![(":d", s(&token.digest)), (":e", n(epoch(token.expires_at)))],
        };
        if self.update_account(user, update).await? { Ok(()) } else { Err(StoreError::Conflict) }
    }

    async fn verify_email(&self, user: &UserRecord, digest: &str, now: DateTime<Utc>) -> StoreResult<bool> {
        self.update_account(
            user,
            AccountUpdate {
                update: "SET email_verified = :t REMOVE verify_digest, verify_expires_at".into(),
                condition: "verify_digest = :d AND verify_expires_at > :now",
                names: Vec::new(),
                values: vec![(":t", b(true)), (":d", s(digest)), (":now", n(epoch(now)))],
            },
        )
        .await
    }

    async fn reset_password(
        &self,
        user: &UserRecord,
        digest: &str,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        self.update_account(
            user,
            AccountUpdate {
                update: format!("SET password_hash = :h, email_verified = :t REMOVE {NO_TOKENS}"),
                condition: "reset_digest = :d AND reset_expires_at > :now",
                names: Vec::new(),
                values: vec![
                    (":h", s(password_hash)),
                    (":t", b(true)),
                    (":d", s(digest)),
                    (":now", n(epoch(now))),
                ],
            },
        )
        .await
    }

    async fn change_password(&self, user: &UserRecord, password_hash: &str) -> StoreResult<()> {
        let update = AccountUpdate {
            update: format!("SET password_hash = :h REMOVE {NO_TOKENS}"),
            condition: "attribute_exists(pk)",
            names: Vec::new(),
            values: vec![(":h", s(password_hash))],
        };
        if self.update_account(user, update).await? { Ok(()) } else { Err(StoreError::Conflict) }
    }

    async fn rehash(&self, user: &UserRecord, password_hash: &str) -> StoreResult<bool> {
        self.update_account(
            user,
            AccountUpdate {
                update: "SET password_hash = :h".into(),
                condition: "password_hash = :old",
                names: Vec::new(),
                values: vec![(":h", s(password_hash)), (":old", s(&user.password_hash))],
            },
        )
        .await
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

impl DynamoStore {
    /// Applies `change` to both items of the account in one transaction; `false` when its
    /// condition failed (nothing written).
    async fn update_account(&self, user: &UserRecord, change: AccountUpdate<'_>) -> StoreResult<bool> {
        let update = |pk: String| -> StoreResult<TransactWriteItem> {
            let mut u = Update::builder()
                .table_name(&self.tables.users)
                .key("pk", s(pk))
                .update_expression(&change.update)
                .condition_expression(change.condition);
            for (name, attribute) in &change.names {
                u = u.expression_attribute_names(*name, *attribute);
            }
            for (name, value) in &change.values {
                u = u.expression_attribute_values(*name, value.clone());
            }
            Ok(TransactWriteItem::builder().update(u.build().map_err(build_err)?).build())
        };
        let result = self
            .transaction()
            .transact_items(update(user_key(&user.profile.id))?)
            .transact_items(update(email_key(&user.profile.email))?)
            .send()
            .await;
        match result.map_err(transaction_error) {
            Ok(_) => Ok(true),
            Err(StoreError::Conflict) => Ok(false),
            Err(e) => Err(e),
        }
    }
}
