use async_trait::async_trait;
use rusqlite::{OptionalExtension, Row, params};

use super::{SqliteStore, conflict_or_unavailable, unavailable};
use crate::clock::{epoch, from_epoch};
use crate::domain::{DisplayName, Email, UserId, UserProfile};
use crate::ports::{SessionRecord, StoreError, StoreResult, UserRecord, UserStore};

const COLUMNS: &str = "id, email, display_name, password_hash, created_at";

fn user_from_row(row: &Row<'_>) -> rusqlite::Result<StoreResult<UserRecord>> {
    let email: String = row.get(1)?;
    let Ok(email) = Email::parse(&email) else {
        return Ok(Err(StoreError::Corrupt(format!("user email {email:?}"))));
    };
    Ok(Ok(UserRecord {
        profile: UserProfile {
            id: UserId::from_trusted(row.get::<_, String>(0)?),
            email,
            display_name: row.get::<_, Option<String>>(2)?.map(DisplayName::from_trusted),
            created_at: from_epoch(row.get(4)?),
        },
        password_hash: row.get(3)?,
    }))
}

impl SqliteStore {
    async fn user_where(&self, clause: &'static str, key: String) -> StoreResult<Option<UserRecord>> {
        self.run(move |c| {
            c.query_row(&format!("SELECT {COLUMNS} FROM users WHERE {clause} = ?1"), [key], user_from_row)
                .optional()
                .map_err(unavailable)?
                .transpose()
        })
        .await
    }
}

#[async_trait]
impl UserStore for SqliteStore {
    async fn create(&self, user: &UserRecord, first_session: &SessionRecord) -> StoreResult<()> {
        let (u, session) = (user.clone(), first_session.clone());
        self.run(move |c| {
            let tx = c.transaction().map_err(unavailable)?;
            let p = &u.profile;
            tx.execute(
                &format!("INSERT INTO users ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5)"),
                params![
                    p.id.as_str(),
                    p.email.as_str(),
                    p.display_name.as_ref().map(DisplayName::as_str),
                    u.password_hash,
                    epoch(p.created_at)
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

    async fn set_password_hash(&self, user: &UserRecord, password_hash: &str) -> StoreResult<()> {
        let (id, hash) = (user.profile.id.as_str().to_owned(), password_hash.to_owned());
        self.run(move |c| {
            let n = c
                .execute("UPDATE users SET password_hash = ?2 WHERE id = ?1", params![id, hash])
                .map_err(unavailable)?;
            if n == 1 { Ok(()) } else { Err(StoreError::Conflict) }
        })
        .await
    }

    async fn delete(&self, user: &UserRecord) -> StoreResult<()> {
        let id = user.profile.id.as_str().to_owned();
        self.run(move |c| c.execute("DELETE FROM users WHERE id = ?1", [id]).map(|_| ()).map_err(unavailable))
            .await
    }
}
