use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{SqliteStore, conflict_or_unavailable, unavailable};
use crate::clock::{epoch, from_epoch};
use crate::domain::{DisplayName, Email, SessionId, SessionRecord, UserId, UserProfile};
use crate::ports::{SessionStore, StoreResult};

const COLUMNS: &str = "id, user_id, email, display_name, user_created_at, created_at, absolute_expires_at, \
                       idle_expires_at, last_seen_at, user_agent, email_verified";

fn session_from_row(row: &Row<'_>) -> rusqlite::Result<SessionRecord> {
    let email = Email::from_trusted(row.get::<_, String>(2)?);
    Ok(SessionRecord {
        id: SessionId::from_trusted(row.get::<_, String>(0)?),
        user: UserProfile {
            id: UserId::from_trusted(row.get::<_, String>(1)?),
            email,
            display_name: row.get::<_, Option<String>>(3)?.map(DisplayName::from_trusted),
            created_at: from_epoch(row.get(4)?),
            email_verified: row.get(10)?,
        },
        created_at: from_epoch(row.get(5)?),
        absolute_expires_at: from_epoch(row.get(6)?),
        idle_expires_at: from_epoch(row.get(7)?),
        last_seen_at: from_epoch(row.get(8)?),
        user_agent: row.get(9)?,
    })
}

/// Inserts a session row (also inside the registration transaction).
pub(super) fn insert(c: &Connection, s: &SessionRecord) -> rusqlite::Result<()> {
    c.execute(
        &format!("INSERT INTO sessions ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"),
        params![
            s.id.as_str(),
            s.user.id.as_str(),
            s.user.email.as_str(),
            s.user.display_name.as_ref().map(DisplayName::as_str),
            epoch(s.user.created_at),
            epoch(s.created_at),
            epoch(s.absolute_expires_at),
            epoch(s.idle_expires_at),
            epoch(s.last_seen_at),
            s.user_agent,
            s.user.email_verified
        ],
    )
    .map(|_| ())
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn create(&self, session: &SessionRecord) -> StoreResult<()> {
        let s = session.clone();
        self.run(move |c| insert(c, &s).map_err(conflict_or_unavailable)).await
    }

    async fn get(&self, id: &SessionId, now: DateTime<Utc>) -> StoreResult<Option<SessionRecord>> {
        let (id, now_s) = (id.as_str().to_owned(), epoch(now));
        self.run(move |c| {
            c.query_row(
                &format!(
                    "SELECT {COLUMNS} FROM sessions WHERE id = ?1 AND absolute_expires_at > ?2 AND idle_expires_at > ?2"
                ),
                params![id, now_s],
                session_from_row,
            )
            .optional()
            .map_err(unavailable)
        })
        .await
    }

    async fn touch(
        &self,
        id: &SessionId,
        idle_expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<SessionRecord>> {
        let (id, idle, now_s) = (id.as_str().to_owned(), epoch(idle_expires_at), epoch(now));
        self.run(move |c| {
            c.query_row(
                &format!(
                    "UPDATE sessions SET idle_expires_at = ?2, last_seen_at = ?3 \
                     WHERE id = ?1 AND absolute_expires_at > ?3 AND idle_expires_at > ?3 RETURNING {COLUMNS}"
                ),
                params![id, idle, now_s],
                session_from_row,
            )
            .optional()
            .map_err(unavailable)
        })
        .await
    }

    async fn delete(&self, id: &SessionId, now: DateTime<Utc>) -> StoreResult<bool> {
        let (id, now_s) = (id.as_str().to_owned(), epoch(now));
        self.run(move |c| {
            let old: Option<(i64, i64)> = c
                .query_row(
                    "DELETE FROM sessions WHERE id = ?1 RETURNING absolute_expires_at, idle_expires_at",
                    [id],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .map_err(unavailable)?;
            Ok(old.is_some_and(|(abs, idle)| abs > now_s && idle > now_s))
        })
        .await
    }

    async fn for_user(&self, user: &UserId, now: DateTime<Utc>) -> StoreResult<Vec<SessionRecord>> {
        let (user, now_s) = (user.as_str().to_owned(), epoch(now));
        self.run(move |c| {
            let mut stmt = c
                .prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM sessions
                     WHERE user_id = ?1 AND absolute_expires_at > ?2 AND idle_expires_at > ?2
                     ORDER BY created_at, id"
                ))
                .map_err(unavailable)?;
            let rows = stmt.query_map(params![user, now_s], session_from_row).map_err(unavailable)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(unavailable)
        })
        .await
    }

    async fn mark_email_verified(&self, user: &UserId, now: DateTime<Utc>) -> StoreResult<()> {
        let (user, now_s) = (user.as_str().to_owned(), epoch(now));
        self.run(move |c| {
            c.execute(
                "UPDATE sessions SET email_verified = 1
                 WHERE user_id = ?1 AND absolute_expires_at > ?2 AND idle_expires_at > ?2",
                params![user, now_s],
            )
            .map(|_| ())
            .map_err(unavailable)
        })
        .await
    }
}
