use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{OptionalExtension, Row, params};

use super::{SqliteStore, conflict_or_unavailable, unavailable};
use crate::clock::{epoch, from_epoch};
use crate::domain::{
    DisplayName, Email, SessionRecord, StoredToken, TokenPurpose, UserId, UserProfile, UserRecord,
};
use crate::ports::{StoreError, StoreResult, UserStore};

const COLUMNS: &str = "id, email, display_name, password_hash, created_at, email_verified, \
                       verify_digest, verify_expires_at, reset_digest, reset_expires_at";

fn token(digest: Option<String>, expires_at: Option<i64>) -> Option<StoredToken> {
    Some(StoredToken { digest: digest?, expires_at: from_epoch(expires_at?) })
}

fn user_from_row(row: &Row<'_>) -> rusqlite::Result<UserRecord> {
    let email = Email::from_trusted(row.get::<_, String>(1)?);
    Ok(UserRecord {
        profile: UserProfile {
            id: UserId::from_trusted(row.get::<_, String>(0)?),
            email,
            display_name: row.get::<_, Option<String>>(2)?.map(DisplayName::from_trusted),
            created_at: from_epoch(row.get(4)?),
            email_verified: row.get(5)?,
        },
        password_hash: row.get(3)?,
        verify_token: token(row.get(6)?, row.get(7)?),
        reset_token: token(row.get(8)?, row.get(9)?),
    })
}

/// The columns a purpose's token lives in.
fn token_columns(purpose: TokenPurpose) -> (&'static str, &'static str) {
    match purpose {
        TokenPurpose::VerifyEmail => ("verify_digest", "verify_expires_at"),
        TokenPurpose::ResetPassword => ("reset_digest", "reset_expires_at"),
    }
}

impl SqliteStore {
    async fn user_where(&self, clause: &'static str, key: String) -> StoreResult<Option<UserRecord>> {
        self.run(move |c| {
            c.query_row(&format!("SELECT {COLUMNS} FROM users WHERE {clause} = ?1"), [key], user_from_row)
                .optional()
                .map_err(unavailable)
        })
        .await
    }

    /// Runs one `UPDATE users SET … WHERE id = ?1 AND …` and reports whether it matched.
    async fn update_user(&self, sql: String, values: Vec<rusqlite::types::Value>) -> StoreResult<bool> {
        self.run(move |c| {
            c.execute(&sql, rusqlite::params_from_iter(values)).map(|n| n == 1).map_err(unavailable)
        })
        .await
    }
}

fn text(v: &str) -> rusqlite::types::Value {
    rusqlite::types::Value::Text(v.to_owned())
}

fn int(v: i64) -> rusqlite::types::Value {
    rusqlite::types::Value::Integer(v)
}

/// Clears every mailed token.
const NO_TOKENS: &str =
    "verify_digest = NULL, verify_expires_at = NULL, reset_digest = NULL, reset_expires_at = NULL";

#[async_trait]
impl UserStore for SqliteStore {
    async fn create(&self, user: &UserRecord, first_session: &SessionRecord) -> StoreResult<()> {
        let (u, session) = (user.clone(), first_session.clone());
        self.run(move |c| {
            let tx = c.transaction().map_err(unavailable)?;
            let p = &u.profile;
            let (verify, reset) = (u.verify_token.as_ref(), u.reset_token.as_ref());
            tx.execute(
                &format!("INSERT INTO users ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"),
                params![
                    p.id.as_str(),
                    p.email.as_str(),
                    p.display_name.as_ref().map(DisplayName::as_str),
                    u.password_hash,
                    epoch(p.created_at),
                    p.email_verified,
                    verify.map(|t| &t.digest),
                    verify.map(|t| epoch(t.expires_at)),
                    reset.map(|t| &t.digest),
                    reset.map(|t| epoch(t.expires_at)),
                ],
            )
            .map_err(conflict_or_unavailable)?;
            super::sessions::insert(&tx, &session).map_err(conflict_or_unavailable)?;
            tx.commit().map_err(unavailable)
        })
        .await
    }

    async fn find_by_email(&self, email: &Email) -> StoreResult<Option<UserRecord>> {
        self.user_where("email", email.as_str().to_owned()).await
    }

    async fn get(&self, id: &UserId) -> StoreResult<Option<UserRecord>> {
        self.user_where("id", id.as_str().to_owned()).await
    }

    async fn set_token(
        &self,
        user: &UserRecord,
        purpose: TokenPurpose,
        token: &StoredToken,
    ) -> StoreResult<()> {
        let (digest, expires) = token_columns(purpose);
        let sql = format!("UPDATE users SET {digest} = ?2, {expires} = ?3 WHERE id = ?1");
        let values = vec![text(user.profile.id.as_str()), text(&token.digest), int(epoch(token.expires_at))];
        if self.update_user(sql, values).await? { Ok(()) } else { Err(StoreError::Conflict) }
    }

    async fn verify_email(&self, user: &UserRecord, digest: &str, now: DateTime<Utc>) -> StoreResult<bool> {
        let sql = "UPDATE users SET email_verified = 1, verify_digest = NULL, verify_expires_at = NULL \
                   WHERE id = ?1 AND verify_digest = ?2 AND verify_expires_at > ?3";
        self.update_user(sql.into(), vec![text(user.profile.id.as_str()), text(digest), int(epoch(now))])
            .await
    }

    async fn reset_password(
        &self,
        user: &UserRecord,
        digest: &str,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let sql = format!(
            "UPDATE users SET password_hash = ?4, email_verified = 1, {NO_TOKENS} \
             WHERE id = ?1 AND reset_digest = ?2 AND reset_expires_at > ?3"
        );
        let values = vec![text(user.profile.id.as_str()), text(digest), int(epoch(now)), text(password_hash)];
        self.update_user(sql, values).await
    }

    async fn change_password(&self, user: &UserRecord, password_hash: &str) -> StoreResult<()> {
        let sql = format!("UPDATE users SET password_hash = ?2, {NO_TOKENS} WHERE id = ?1");
        let values = vec![text(user.profile.id.as_str()), text(password_hash)];
        if self.update_user(sql, values).await? { Ok(()) } else { Err(StoreError::Conflict) }
    }

    async fn rehash(&self, user: &UserRecord, password_hash: &str) -> StoreResult<bool> {
        let sql = "UPDATE users SET password_hash = ?3 WHERE id = ?1 AND password_hash = ?2";
        let values = vec![text(user.profile.id.as_str()), text(&user.password_hash), text(password_hash)];
        self.update_user(sql.into(), values).await
    }

    async fn delete(&self, user: &UserRecord) -> StoreResult<()> {
        let id = user.profile.id.as_str().to_owned();
        self.run(move |c| c.execute("DELETE FROM users WHERE id = ?1", [id]).map(|_| ()).map_err(unavailable))
            .await
    }
}
