//! SQLite adapter: one file (`<data-dir>/app.db`, WAL) mirroring the DynamoDB access patterns.
//! Calls run on the blocking pool; one connection behind a mutex keeps writes serialized.

mod connections;
mod conversations;
mod events;
mod rate_limits;
mod sessions;
mod support_tickets;
mod users;
mod ws_tickets;

use std::path::Path;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use rusqlite::Connection;

use crate::clock::epoch;
use crate::domain::{Cursor, UserId};
use crate::ports::{StoreError, StoreResult};

const SCHEMA_VERSION: i64 = 8;

/// Column additions for databases made by older builds (new tables need none: `SCHEMA` creates
/// what is missing).
const MIGRATIONS: &[(i64, &str)] = &[
    (
        5,
        "ALTER TABLE sessions ADD COLUMN last_seen_at INTEGER NOT NULL DEFAULT 0;
         ALTER TABLE sessions ADD COLUMN user_agent TEXT;",
    ),
    // Addresses are verified; mailed tokens live on the account, one per purpose. Accounts
    // from before start unverified (nobody ever proved those addresses).
    (
        6,
        "ALTER TABLE users ADD COLUMN email_verified INTEGER NOT NULL DEFAULT 0;
         ALTER TABLE users ADD COLUMN verify_digest TEXT;
         ALTER TABLE users ADD COLUMN verify_expires_at INTEGER;
         ALTER TABLE users ADD COLUMN reset_digest TEXT;
         ALTER TABLE users ADD COLUMN reset_expires_at INTEGER;
         ALTER TABLE sessions ADD COLUMN email_verified INTEGER NOT NULL DEFAULT 0;
         DROP TABLE IF EXISTS reset_tokens;",
    ),
    // Tickets have a lifecycle and agents write in conversations; a ticket has any number of mails, named by `mail_id` (the two
    // of the escalation keep their recipient's name). The mails' key changes, so the table is
    // copied.
    (
        7,
        "ALTER TABLE tickets ADD COLUMN updated_at INTEGER NOT NULL DEFAULT 0;
         UPDATE tickets SET updated_at = created_at;
         ALTER TABLE tickets ADD COLUMN resolved_at INTEGER;
         ALTER TABLE tickets ADD COLUMN rating TEXT;
         ALTER TABLE tickets ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
         ALTER TABLE messages ADD COLUMN author TEXT;
         CREATE TABLE ticket_mails_7 (
             ticket_id TEXT NOT NULL,
             mail_id TEXT NOT NULL,
             recipient TEXT NOT NULL,
             to_address TEXT NOT NULL,
             raw BLOB NOT NULL,
             status TEXT NOT NULL,
             attempts INTEGER NOT NULL,
             last_error TEXT,
             next_attempt_at INTEGER NOT NULL,
             PRIMARY KEY (ticket_id, mail_id)
         ) STRICT;
         INSERT INTO ticket_mails_7 SELECT ticket_id, recipient, recipient, to_address, raw, status,
             attempts, last_error, next_attempt_at FROM ticket_mails;
         DROP TABLE ticket_mails;
         ALTER TABLE ticket_mails_7 RENAME TO ticket_mails;",
    ),
    // The Message-ID the mail service gave a sent mail (SES replaces ours), and on the ticket
    // those of its first two mails, which later mails thread under.
    (
        8,
        "ALTER TABLE ticket_mails ADD COLUMN sent_message_id TEXT;
         ALTER TABLE tickets ADD COLUMN message_id_support TEXT;
         ALTER TABLE tickets ADD COLUMN message_id_user TEXT;",
    ),
];

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    display_name TEXT,
    password_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    email_verified INTEGER NOT NULL DEFAULT 0,
    verify_digest TEXT,
    verify_expires_at INTEGER,
    reset_digest TEXT,
    reset_expires_at INTEGER
) STRICT;
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    email TEXT NOT NULL,
    display_name TEXT,
    user_created_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    absolute_expires_at INTEGER NOT NULL,
    idle_expires_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL DEFAULT 0,
    user_agent TEXT,
    email_verified INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions(user_id);
CREATE TABLE IF NOT EXISTS rate_limits (
    key TEXT PRIMARY KEY,
    count INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS ws_tickets (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS connections (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    connected_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS connections_by_user ON connections(user_id);
CREATE INDEX IF NOT EXISTS connections_by_session ON connections(session_id);
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    title TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    message_count INTEGER NOT NULL,
    open_ticket TEXT
) STRICT;
CREATE INDEX IF NOT EXISTS conversations_by_user ON conversations(user_id, updated_at DESC, id DESC);
CREATE TABLE IF NOT EXISTS messages (
    conversation_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    id TEXT NOT NULL,
    role TEXT NOT NULL,
    content TEXT NOT NULL,
    sources TEXT NOT NULL,
    suggest_escalation INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    author TEXT,
    PRIMARY KEY (conversation_id, seq)
) STRICT;
CREATE TABLE IF NOT EXISTS tickets (
    id TEXT PRIMARY KEY,
    number TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL,
    user_email TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    subject TEXT NOT NULL,
    description TEXT NOT NULL,
    priority TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    transcript TEXT NOT NULL,
    mail_support TEXT NOT NULL,
    mail_user TEXT NOT NULL,
    updated_at INTEGER NOT NULL DEFAULT 0,
    resolved_at INTEGER,
    rating TEXT,
    revision INTEGER NOT NULL DEFAULT 0,
    message_id_support TEXT,
    message_id_user TEXT
) STRICT;
CREATE INDEX IF NOT EXISTS tickets_resolved ON tickets(status, resolved_at);
CREATE INDEX IF NOT EXISTS tickets_by_user ON tickets(user_id, created_at DESC, id DESC);
CREATE TABLE IF NOT EXISTS ticket_mails (
    ticket_id TEXT NOT NULL,
    mail_id TEXT NOT NULL,
    recipient TEXT NOT NULL,
    to_address TEXT NOT NULL,
    raw BLOB NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    last_error TEXT,
    next_attempt_at INTEGER NOT NULL,
    sent_message_id TEXT,
    PRIMARY KEY (ticket_id, mail_id)
) STRICT;
CREATE INDEX IF NOT EXISTS ticket_mails_due ON ticket_mails(status, next_attempt_at);
CREATE TABLE IF NOT EXISTS ticket_counters (
    day TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS events (
    user_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    payload TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, seq)
) STRICT;
CREATE TABLE IF NOT EXISTS event_counters (
    user_id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS idempotency_keys (
    user_id TEXT NOT NULL,
    key TEXT NOT NULL,
    ticket_id TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, key)
) STRICT;
";

/// A newest-first list: its table, the columns its rows are read from, and its time column.
#[derive(Clone, Copy)]
struct NewestFirst {
    columns: &'static str,
    table: &'static str,
    time: &'static str,
}

/// The SQLite store; implements every store port.
#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

/// A uniqueness violation is a conflict; anything else is the store failing.
fn conflict_or_unavailable(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::ConstraintViolation) => StoreError::Conflict,
        _ => unavailable(e),
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and brings its schema up to date.
    pub fn open(path: &Path) -> StoreResult<Self> {
        let conn = Connection::open(path).map_err(unavailable)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(unavailable)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(unavailable)?;
        // Deleted rows are overwritten, so a deleted account leaves nothing readable in the file.
        conn.pragma_update(None, "secure_delete", "ON").map_err(unavailable)?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(unavailable)?;
        let version: i64 =
            conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(unavailable)?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::Unavailable(format!(
                "{} has schema version {version}, newer than this build's {SCHEMA_VERSION}",
                path.display()
            )));
        }
        if version > 0 {
            for (to, sql) in MIGRATIONS.iter().filter(|(to, _)| version < *to) {
                conn.execute_batch(sql)
                    .map_err(|e| StoreError::Unavailable(format!("migrating to {to}: {e}")))?;
            }
        }
        conn.execute_batch(SCHEMA).map_err(unavailable)?;
        conn.pragma_update(None, "user_version", SCHEMA_VERSION).map_err(unavailable)?;
        Ok(Self { conn: Arc::new(Mutex::new(conn)) })
    }

    /// Runs `work` with the connection on the blocking pool.
    async fn run<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().unwrap_or_else(|e| e.into_inner());
            work(&mut guard)
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("sqlite task failed: {e}")))?
    }

    /// One page of a user's rows of a newest-first list: `SELECT columns FROM table` ordered by
    /// `time` then id, both descending, after `before`; every list port method is this query.
    async fn newest_first<T: Send + 'static>(
        &self,
        list: NewestFirst,
        user: &UserId,
        before: Option<Cursor>,
        limit: u32,
        row: fn(&rusqlite::Row<'_>) -> rusqlite::Result<StoreResult<T>>,
    ) -> StoreResult<Vec<T>> {
        let user = user.as_str().to_owned();
        // Without a cursor, start after the largest possible position.
        let (at, id) = before.map_or((i64::MAX, String::new()), |c| (epoch(c.at), c.id));
        self.run(move |c| {
            let NewestFirst { columns, table, time } = list;
            let mut stmt = c
                .prepare_cached(&format!(
                    "SELECT {columns} FROM {table}
                     WHERE user_id = ?1 AND ({time} < ?2 OR ({time} = ?2 AND (?3 = '' OR id < ?3)))
                     ORDER BY {time} DESC, id DESC LIMIT ?4"
                ))
                .map_err(unavailable)?;
            let rows = stmt.query_map(rusqlite::params![user, at, id, limit], row).map_err(unavailable)?;
            rows.map(|r| r.map_err(unavailable)?).collect()
        })
        .await
    }

    /// Deletes every item past its expiry, as DynamoDB's TTL would (reads never depend on it).
    pub async fn sweep_expired(&self, now: DateTime<Utc>) -> StoreResult<usize> {
        let now = epoch(now);
        self.run(move |c| {
            let tx = c.transaction().map_err(unavailable)?;
            let mut n = tx
                .execute(
                    "DELETE FROM sessions WHERE absolute_expires_at <= ?1 OR idle_expires_at <= ?1",
                    [now],
                )
                .map_err(unavailable)?;
            for table in ["rate_limits", "ws_tickets", "connections", "idempotency_keys", "events"] {
                n += tx
                    .execute(&format!("DELETE FROM {table} WHERE expires_at <= ?1"), [now])
                    .map_err(unavailable)?;
            }
            tx.commit().map_err(unavailable)?;
            Ok(n)
        })
        .await
    }
}
