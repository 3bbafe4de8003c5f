use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{OptionalExtension, Row, Transaction, params};

use super::{NewestFirst, SqliteStore, conversations, unavailable};
use crate::clock::{epoch, from_epoch};
use crate::domain::{
    Cursor, DETACHED_OWNER, MailRecord, MailStatus, NewTicket, Priority, Recipient, SupportTicket,
    TicketStatus, TicketUpdate, UserId,
};
use crate::ports::{CreateConflict, StoreError, StoreResult, SupportTickets};

const TICKET: &str = "id, number, user_id, user_email, conversation_id, subject, description, priority, status, \
                      created_at, transcript, mail_support, mail_user, updated_at, resolved_at, rating, revision, \
                      message_id_support, message_id_user";
const MAIL: &str = "ticket_id, recipient, to_address, raw, status, attempts, last_error, next_attempt_at, mail_id, sent_message_id";

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(what.to_owned())
}

fn ticket(r: &Row<'_>) -> rusqlite::Result<StoreResult<SupportTicket>> {
    let (priority, status, transcript, support, user): (String, String, String, String, String) =
        (r.get(7)?, r.get(8)?, r.get(10)?, r.get(11)?, r.get(12)?);
    let rating: Option<String> = r.get(15)?;
    let parsed = (|| {
        Ok(SupportTicket {
            id: r.get(0)?,
            number: r.get(1)?,
            user_id: UserId::from_trusted(r.get::<_, String>(2)?),
            user_email: r.get(3)?,
            conversation_id: r.get(4)?,
            subject: r.get(5)?,
            description: r.get(6)?,
            priority: Priority::parse(&priority).map_err(|_| corrupt("ticket priority"))?,
            status: TicketStatus::parse(&status).ok_or_else(|| corrupt("ticket status"))?,
            created_at: from_epoch(r.get(9)?),
            updated_at: from_epoch(r.get(13)?),
            resolved_at: r.get::<_, Option<i64>>(14)?.map(from_epoch),
            rating: rating
                .map(|json| serde_json::from_str(&json).map_err(|_| corrupt("ticket rating")))
                .transpose()?,
            revision: r.get(16)?,
            transcript: serde_json::from_str(&transcript).map_err(|_| corrupt("ticket transcript"))?,
            mail_support: MailStatus::parse(&support).ok_or_else(|| corrupt("mail status"))?,
            mail_user: MailStatus::parse(&user).ok_or_else(|| corrupt("mail status"))?,
            message_id_support: r.get(17)?,
            message_id_user: r.get(18)?,
        })
    })();
    Ok(parsed.map_err(|e: StoreErrorOrSql| e.into_store()))
}

/// Row decoding fails either in SQLite or in our own parsing.
enum StoreErrorOrSql {
    Store(StoreError),
    Sql(rusqlite::Error),
}

impl StoreErrorOrSql {
    fn into_store(self) -> StoreError {
        match self {
            Self::Store(e) => e,
            Self::Sql(e) => unavailable(e),
        }
    }
}

impl From<StoreError> for StoreErrorOrSql {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

impl From<rusqlite::Error> for StoreErrorOrSql {
    fn from(e: rusqlite::Error) -> Self {
        Self::Sql(e)
    }
}

fn mail(r: &Row<'_>) -> rusqlite::Result<StoreResult<MailRecord>> {
    let (recipient, status): (String, String) = (r.get(1)?, r.get(4)?);
    let (Some(recipient), Some(status)) = (Recipient::parse(&recipient), MailStatus::parse(&status)) else {
        return Ok(Err(corrupt("mail recipient or status")));
    };
    Ok(Ok(MailRecord {
        ticket_id: r.get(0)?,
        mail_id: r.get(8)?,
        recipient,
        to: r.get(2)?,
        raw: r.get(3)?,
        status,
        attempts: r.get(5)?,
        last_error: r.get(6)?,
        next_attempt_at: from_epoch(r.get(7)?),
        sent_message_id: r.get(9)?,
    }))
}

/// The ticket columns that copy this mail's status and sent Message-ID: only the escalation's
/// two mails have them.
fn ticket_copy(m: &MailRecord) -> Option<(&'static str, &'static str)> {
    m.is_first().then_some(match m.recipient {
        Recipient::Support => ("mail_support", "message_id_support"),
        Recipient::User => ("mail_user", "message_id_user"),
    })
}

fn insert_mail(tx: &Transaction<'_>, m: &MailRecord) -> rusqlite::Result<usize> {
    tx.execute(
        &format!("INSERT INTO ticket_mails ({MAIL}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"),
        params![
            m.ticket_id,
            m.recipient.as_str(),
            m.to,
            m.raw,
            m.status.as_str(),
            m.attempts,
            m.last_error,
            epoch(m.next_attempt_at),
            m.mail_id,
            m.sent_message_id
        ],
    )
}

fn rating_json(t: &SupportTicket) -> StoreResult<Option<String>> {
    t.rating
        .as_ref()
        .map(|r| serde_json::to_string(r).map_err(|e| StoreError::Corrupt(e.to_string())))
        .transpose()
}

/// Writes a ticket change inside `tx`, or reports a conflict (the caller rolls back).
fn update(tx: &Transaction<'_>, u: &TicketUpdate) -> StoreResult<()> {
    let t = &u.ticket;
    let changed = tx
        .execute(
            "UPDATE tickets SET status = ?2, updated_at = ?3, resolved_at = ?4, rating = ?5, revision = ?6
             WHERE id = ?1 AND revision = ?7",
            params![
                t.id,
                t.status.as_str(),
                epoch(t.updated_at),
                t.resolved_at.map(epoch),
                rating_json(t)?,
                t.revision,
                t.revision.wrapping_sub(1)
            ],
        )
        .map_err(unavailable)?;
    if changed != 1 {
        return Err(StoreError::Conflict);
    }
    for m in &u.mails {
        insert_mail(tx, m).map_err(super::conflict_or_unavailable)?;
    }
    if let Some(a) = &u.append {
        conversations::append(tx, &a.conversation, &a.messages, a.expected_count)?;
    }
    if t.status == TicketStatus::Closed {
        tx.execute(
            "UPDATE conversations SET open_ticket = NULL WHERE id = ?1 AND open_ticket = ?2",
            params![t.conversation_id, t.id],
        )
        .map_err(unavailable)?;
    }
    Ok(())
}

/// Writes everything of `new`, or reports which condition failed (the caller rolls back).
fn create(tx: &Transaction<'_>, new: &NewTicket) -> StoreResult<Result<(), CreateConflict>> {
    let t = &new.ticket;
    let now = epoch(t.created_at);
    if let Some(key) = &new.idempotency {
        tx.execute(
            "DELETE FROM idempotency_keys WHERE user_id = ?1 AND key = ?2 AND expires_at <= ?3",
            params![key.user_id.as_str(), key.key, now],
        )
        .map_err(unavailable)?;
        let fresh = tx
            .execute(
                "INSERT OR IGNORE INTO idempotency_keys (user_id, key, ticket_id, expires_at) VALUES (?1, ?2, ?3, ?4)",
                params![key.user_id.as_str(), key.key, t.id, epoch(key.expires_at)],
            )
            .map_err(unavailable)?;
        if fresh == 0 {
            return Ok(Err(CreateConflict::KeySeen));
        }
    }
    let marked = tx
        .execute(
            "UPDATE conversations SET open_ticket = ?2 WHERE id = ?1 AND user_id = ?3 AND open_ticket IS NULL",
            params![t.conversation_id, t.id, t.user_id.as_str()],
        )
        .map_err(unavailable)?;
    if marked == 0 {
        return Ok(Err(CreateConflict::ConversationHasTicket));
    }
    let counted: Option<i64> = tx
        .query_row(
            "INSERT INTO ticket_counters (day, value) VALUES (?1, 1)
             ON CONFLICT(day) DO UPDATE SET value = value + 1 WHERE value = ?2
             RETURNING value",
            params![new.day.to_string(), new.counter_expected as i64],
            |r| r.get(0),
        )
        .optional()
        .map_err(unavailable)?;
    if counted != Some(new.counter_expected as i64 + 1) {
        return Ok(Err(CreateConflict::Counter));
    }
    let transcript = serde_json::to_string(&t.transcript).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    tx.execute(
        &format!(
            "INSERT INTO tickets ({TICKET}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, \
             ?15, ?16, ?17, ?18, ?19)"
        ),
        params![
            t.id,
            t.number,
            t.user_id.as_str(),
            t.user_email,
            t.conversation_id,
            t.subject,
            t.description,
            t.priority.as_str(),
            t.status.as_str(),
            now,
            transcript,
            t.mail_support.as_str(),
            t.mail_user.as_str(),
            epoch(t.updated_at),
            t.resolved_at.map(epoch),
            rating_json(t)?,
            t.revision,
            t.message_id_support,
            t.message_id_user
        ],
    )
    .map_err(unavailable)?;
    for m in &new.mails {
        insert_mail(tx, m).map_err(unavailable)?;
    }
    Ok(Ok(()))
}

#[async_trait]
impl SupportTickets for SqliteStore {
    async fn counter(&self, day: NaiveDate) -> StoreResult<u64> {
        self.run(move |c| {
            let value: Option<i64> = c
                .query_row("SELECT value FROM ticket_counters WHERE day = ?1", [day.to_string()], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(unavailable)?;
            Ok(value.map_or(0, |v| u64::try_from(v).unwrap_or(0)))
        })
        .await
    }

    async fn create(&self, new: &NewTicket) -> StoreResult<Result<(), CreateConflict>> {
        let new = new.clone();
        self.run(move |c| {
            let tx = c.transaction().map_err(unavailable)?;
            let outcome = create(&tx, &new)?;
            if outcome.is_ok() {
                tx.commit().map_err(unavailable)?;
            }
            Ok(outcome)
        })
        .await
    }

    async fn get(&self, id: &str) -> StoreResult<Option<SupportTicket>> {
        let id = id.to_owned();
        self.run(move |c| {
            c.query_row(&format!("SELECT {TICKET} FROM tickets WHERE id = ?1"), [id], ticket)
                .optional()
                .map_err(unavailable)?
                .transpose()
        })
        .await
    }

    async fn by_key(&self, user: &UserId, key: &str, now: DateTime<Utc>) -> StoreResult<Option<String>> {
        let (user, key, now) = (user.as_str().to_owned(), key.to_owned(), epoch(now));
        self.run(move |c| {
            c.query_row(
                "SELECT ticket_id FROM idempotency_keys WHERE user_id = ?1 AND key = ?2 AND expires_at > ?3",
                params![user, key, now],
                |r| r.get(0),
            )
            .optional()
            .map_err(unavailable)
        })
        .await
    }

    async fn list(
        &self,
        user: &UserId,
        before: Option<Cursor>,
        limit: u32,
    ) -> StoreResult<Vec<SupportTicket>> {
        let list = NewestFirst { columns: TICKET, table: "tickets", time: "created_at" };
        self.newest_first(list, user, before, limit, ticket).await
    }

    async fn update(&self, u: &TicketUpdate) -> StoreResult<()> {
        let u = u.clone();
        self.run(move |c| {
            let tx = c.transaction().map_err(unavailable)?;
            update(&tx, &u)?;
            tx.commit().map_err(unavailable)
        })
        .await
    }

    async fn resolved_before(&self, cutoff: DateTime<Utc>, limit: u32) -> StoreResult<Vec<SupportTicket>> {
        let cutoff = epoch(cutoff);
        self.run(move |c| {
            let mut stmt = c
                .prepare_cached(&format!(
                    "SELECT {TICKET} FROM tickets WHERE status = 'resolved' AND resolved_at <= ?1
                     ORDER BY resolved_at, id LIMIT ?2"
                ))
                .map_err(unavailable)?;
            let rows = stmt.query_map(params![cutoff, limit], ticket).map_err(unavailable)?;
            rows.map(|r| r.map_err(unavailable)?).collect()
        })
        .await
    }

    async fn mail(&self, ticket_id: &str, mail_id: &str) -> StoreResult<Option<MailRecord>> {
        let (ticket_id, mail_id) = (ticket_id.to_owned(), mail_id.to_owned());
        self.run(move |c| {
            c.query_row(
                &format!("SELECT {MAIL} FROM ticket_mails WHERE ticket_id = ?1 AND mail_id = ?2"),
                params![ticket_id, mail_id],
                mail,
            )
            .optional()
            .map_err(unavailable)?
            .transpose()
        })
        .await
    }

    async fn update_mail(&self, m: &MailRecord) -> StoreResult<()> {
        let m = m.clone();
        self.run(move |c| {
            let tx = c.transaction().map_err(unavailable)?;
            let n = tx
                .execute(
                    "UPDATE ticket_mails SET status = ?3, attempts = ?4, last_error = ?5, next_attempt_at = ?6,
                     sent_message_id = ?7 WHERE ticket_id = ?1 AND mail_id = ?2",
                    params![
                        m.ticket_id,
                        m.mail_id,
                        m.status.as_str(),
                        m.attempts,
                        m.last_error,
                        epoch(m.next_attempt_at),
                        m.sent_message_id
                    ],
                )
                .map_err(unavailable)?;
            if n != 1 {
                return Err(StoreError::Conflict);
            }
            // The ticket carries the statuses of its two first mails.
            if let Some((status, sent_id)) = ticket_copy(&m) {
                tx.execute(
                    &format!("UPDATE tickets SET {status} = ?2, {sent_id} = ?3 WHERE id = ?1"),
                    params![m.ticket_id, m.status.as_str(), m.sent_message_id],
                )
                .map_err(unavailable)?;
            }
            tx.commit().map_err(unavailable)
        })
        .await
    }

    async fn due_mails(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<MailRecord>> {
        let now = epoch(now);
        self.run(move |c| {
            let mut stmt = c
                .prepare_cached(&format!(
                    "SELECT {MAIL} FROM ticket_mails WHERE status = 'queued' AND next_attempt_at <= ?1
                     ORDER BY next_attempt_at, ticket_id, mail_id LIMIT ?2"
                ))
                .map_err(unavailable)?;
            let rows = stmt.query_map(params![now, limit], mail).map_err(unavailable)?;
            rows.map(|r| r.map_err(unavailable)?).collect()
        })
        .await
    }

    async fn detach_user(&self, user: &UserId) -> StoreResult<()> {
        let user = user.as_str().to_owned();
        self.run(move |c| {
            let tx = c.transaction().map_err(unavailable)?;
            // The mails hold the user's address; the ticket keeps their statuses.
            tx.execute(
                "DELETE FROM ticket_mails WHERE ticket_id IN (SELECT id FROM tickets WHERE user_id = ?1)",
                [&user],
            )
            .map_err(unavailable)?;
            tx.execute(
                "UPDATE tickets SET user_id = ?2, user_email = '' WHERE user_id = ?1",
                params![user, DETACHED_OWNER],
            )
            .map_err(unavailable)?;
            tx.execute("DELETE FROM idempotency_keys WHERE user_id = ?1", [&user]).map_err(unavailable)?;
            tx.commit().map_err(unavailable)
        })
        .await
    }

    async fn claim_mail(&self, m: &MailRecord, until: DateTime<Utc>) -> StoreResult<bool> {
        let (ticket_id, mail_id, due, until) =
            (m.ticket_id.clone(), m.mail_id.clone(), epoch(m.next_attempt_at), epoch(until));
        self.run(move |c| {
            let n = c
                .execute(
                    "UPDATE ticket_mails SET next_attempt_at = ?4
                     WHERE ticket_id = ?1 AND mail_id = ?2 AND status = 'queued' AND next_attempt_at = ?3",
                    params![ticket_id, mail_id, due, until],
                )
                .map_err(unavailable)?;
            Ok(n == 1)
        })
        .await
    }
}
