//! Support tickets table (`pk`/`sk`):
//! - ticket `TICKET#<id>` / `META` (transcript and rating as JSON; `user_id` + `created_key` for
//!   `by_user`; `idempotency_pk` names its key's item; while resolved, `queue = closing` and
//!   `due` = when its reopen window ends put it in the sparse index `by_due`),
//! - its mails `TICKET#<id>` / `MAIL#<mail id>` (raw MIME as binary; while queued, `queue` and
//!   `due` put it in the sparse index `by_due`),
//! - day counters `COUNTER#<yyyymmdd>` / `COUNTER`,
//! - idempotency keys `IDEM#<sha256(user, key)>` / `IDEM` (TTL `expires_at`).

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use chrono::{DateTime, NaiveDate, Utc};

use super::item::{Item, get_n, get_opt_n, get_opt_s, get_s, n, s};
use super::{DynamoStore, build_err, lost_race, position, unavailable};
use crate::clock::{epoch, from_epoch};
use crate::domain::{
    Cursor, DETACHED_OWNER, MailRecord, MailStatus, NewTicket, Priority, REOPEN_WINDOW, Recipient,
    SupportTicket, TicketStatus, TicketUpdate, UserId,
};
use crate::ports::{CreateConflict, StoreError, StoreResult, SupportTickets};

/// Index of a user's tickets, newest first.
pub(crate) const BY_USER: &str = "by_user";
/// Sparse index of queued mails by due time.
pub(crate) const BY_DUE: &str = "by_due";
const QUEUED: &str = "queued";
/// The `by_due` partition of resolved tickets, due when their reopen window ends.
const CLOSING: &str = "closing";

fn ticket_key(id: &str) -> String {
    format!("TICKET#{id}")
}

fn mail_key(mail_id: &str) -> String {
    format!("MAIL#{mail_id}")
}

/// Keys are per user; the item holds only a hash of both, so nothing in it names the user.
fn idem_key(user: &UserId, key: &str) -> String {
    let digest =
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, format!("{}\n{key}", user.as_str()).as_bytes());
    format!("IDEM#{}", hex::encode(digest))
}

fn due(m: &MailRecord) -> String {
    format!("{:020}#{}#{}", epoch(m.next_attempt_at).max(0), m.ticket_id, m.mail_id)
}

/// A resolved ticket's place in `by_due`: when its reopen window ends.
fn closing_due(t: &SupportTicket) -> Option<String> {
    let resolved = t.resolved_at.filter(|_| t.status == TicketStatus::Resolved)?;
    Some(format!("{:020}#{}", epoch(resolved + REOPEN_WINDOW).max(0), t.id))
}

fn rating_json(t: &SupportTicket) -> StoreResult<Option<String>> {
    t.rating
        .as_ref()
        .map(|r| serde_json::to_string(r).map_err(|e| StoreError::Corrupt(e.to_string())))
        .transpose()
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(what.to_owned())
}

fn ticket_item(t: &SupportTicket) -> StoreResult<Item> {
    let transcript = serde_json::to_string(&t.transcript).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let mut item = Item::from([
        ("pk".to_owned(), s(ticket_key(&t.id))),
        ("sk".to_owned(), s("META")),
        ("id".to_owned(), s(&t.id)),
        ("number".to_owned(), s(&t.number)),
        ("user_id".to_owned(), s(t.user_id.as_str())),
        ("user_email".to_owned(), s(&t.user_email)),
        ("conversation_id".to_owned(), s(&t.conversation_id)),
        ("subject".to_owned(), s(&t.subject)),
        ("description".to_owned(), s(&t.description)),
        ("priority".to_owned(), s(t.priority.as_str())),
        ("status".to_owned(), s(t.status.as_str())),
        ("created_at".to_owned(), n(epoch(t.created_at))),
        ("updated_at".to_owned(), n(epoch(t.updated_at))),
        ("revision".to_owned(), n(i64::from(t.revision))),
        ("created_key".to_owned(), s(position(t.created_at, &t.id))),
        ("transcript".to_owned(), s(transcript)),
        ("mail_support".to_owned(), s(t.mail_support.as_str())),
        ("mail_user".to_owned(), s(t.mail_user.as_str())),
    ]);
    if let Some(at) = t.resolved_at {
        item.insert("resolved_at".to_owned(), n(epoch(at)));
    }
    for (name, id) in [("message_id_support", &t.message_id_support), ("message_id_user", &t.message_id_user)]
    {
        if let Some(id) = id {
            item.insert(name.to_owned(), s(id));
        }
    }
    if let Some(rating) = rating_json(t)? {
        item.insert("rating".to_owned(), s(rating));
    }
    if let Some(due) = closing_due(t) {
        item.insert("queue".to_owned(), s(CLOSING));
        item.insert("due".to_owned(), s(due));
    }
    Ok(item)
}

fn ticket(item: &Item) -> StoreResult<SupportTicket> {
    let status =
        |name| get_s(item, name).and_then(|v| MailStatus::parse(&v).ok_or_else(|| corrupt("mail status")));
    Ok(SupportTicket {
        id: get_s(item, "id")?,
        number: get_s(item, "number")?,
        user_id: UserId::from_trusted(get_s(item, "user_id")?),
        user_email: get_s(item, "user_email")?,
        conversation_id: get_s(item, "conversation_id")?,
        subject: get_s(item, "subject")?,
        description: get_s(item, "description")?,
        priority: Priority::parse(&get_s(item, "priority")?).map_err(|_| corrupt("ticket priority"))?,
        status: TicketStatus::parse(&get_s(item, "status")?).ok_or_else(|| corrupt("ticket status"))?,
        created_at: from_epoch(get_n(item, "created_at")?),
        // Tickets from before the lifecycle: never changed since they were opened.
        updated_at: from_epoch(get_opt_n(item, "updated_at").map_or_else(|| get_n(item, "created_at"), Ok)?),
        resolved_at: get_opt_n(item, "resolved_at").map(from_epoch),
        rating: get_opt_s(item, "rating")
            .map(|json| serde_json::from_str(&json).map_err(|_| corrupt("ticket rating")))
            .transpose()?,
        revision: get_opt_n(item, "revision").map_or(0, |r| u32::try_from(r).unwrap_or(0)),
        transcript: serde_json::from_str(&get_s(item, "transcript")?)
            .map_err(|_| corrupt("ticket transcript"))?,
        mail_support: status("mail_support")?,
        mail_user: status("mail_user")?,
        message_id_support: get_opt_s(item, "message_id_support"),
        message_id_user: get_opt_s(item, "message_id_user"),
    })
}

fn mail_item(m: &MailRecord) -> Item {
    let mut item = Item::from([
        ("pk".to_owned(), s(ticket_key(&m.ticket_id))),
        ("sk".to_owned(), s(mail_key(&m.mail_id))),
        ("ticket_id".to_owned(), s(&m.ticket_id)),
        ("mail_id".to_owned(), s(&m.mail_id)),
        ("recipient".to_owned(), s(m.recipient.as_str())),
        ("to".to_owned(), s(&m.to)),
        ("raw".to_owned(), AttributeValue::B(Blob::new(m.raw.clone()))),
        ("status".to_owned(), s(m.status.as_str())),
        ("attempts".to_owned(), n(i64::from(m.attempts))),
        ("next_attempt_at".to_owned(), n(epoch(m.next_attempt_at))),
    ]);
    if let Some(error) = &m.last_error {
        item.insert("last_error".to_owned(), s(error));
    }
    if let Some(id) = &m.sent_message_id {
        item.insert("sent_message_id".to_owned(), s(id));
    }
    if m.status == MailStatus::Queued {
        item.insert("queue".to_owned(), s(QUEUED));
        item.insert("due".to_owned(), s(due(m)));
    }
    item
}

fn mail(item: &Item) -> StoreResult<MailRecord> {
    let recipient = Recipient::parse(&get_s(item, "recipient")?).ok_or_else(|| corrupt("mail recipient"))?;
    Ok(MailRecord {
        ticket_id: get_s(item, "ticket_id")?,
        // Mails from before `mail_id` are the escalation's two, named after their recipient.
        mail_id: get_opt_s(item, "mail_id").unwrap_or_else(|| recipient.as_str().to_owned()),
        recipient,
        to: get_s(item, "to")?,
        raw: item
            .get("raw")
            .and_then(|v| v.as_b().ok())
            .map(|b| b.as_ref().to_vec())
            .ok_or_else(|| corrupt("mail raw"))?,
        status: MailStatus::parse(&get_s(item, "status")?).ok_or_else(|| corrupt("mail status"))?,
        attempts: u32::try_from(get_n(item, "attempts")?).unwrap_or(0),
        last_error: get_opt_s(item, "last_error"),
        next_attempt_at: from_epoch(get_n(item, "next_attempt_at")?),
        sent_message_id: get_opt_s(item, "sent_message_id"),
    })
}

fn put(table: &str, item: Item, condition: &str) -> StoreResult<TransactWriteItem> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression(condition)
        .build()
        .map_err(build_err)?;
    Ok(TransactWriteItem::builder().put(put).build())
}

impl DynamoStore {
    /// Up to `limit` items of the `by_due` partition `queue` due at or before `at`, oldest first
    /// (every due key of that second or earlier sorts below "<at>#~").
    async fn due(&self, queue: &str, at: DateTime<Utc>, limit: u32) -> StoreResult<Vec<Item>> {
        let out = self
            .client
            .query()
            .table_name(&self.tables.support_tickets)
            .index_name(BY_DUE)
            .key_condition_expression("#q = :q AND #d < :until")
            .expression_attribute_names("#q", "queue")
            .expression_attribute_names("#d", "due")
            .expression_attribute_values(":q", s(queue))
            .expression_attribute_values(":until", s(format!("{:020}#~", epoch(at).max(0))))
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.items.unwrap_or_default())
    }

    async fn item(&self, pk: String, sk: &str) -> StoreResult<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tables.support_tickets)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable)?;
        Ok(out.item)
    }
}

#[async_trait]
impl SupportTickets for DynamoStore {
    async fn counter(&self, day: NaiveDate) -> StoreResult<u64> {
        let item = self.item(format!("COUNTER#{}", day.format("%Y%m%d")), "COUNTER").await?;
        Ok(item.map(|i| get_n(&i, "value")).transpose()?.map_or(0, |v| u64::try_from(v).unwrap_or(0)))
    }

    async fn create(&self, new: &NewTicket) -> StoreResult<Result<(), CreateConflict>> {
        let table = &self.tables.support_tickets;
        let t = &new.ticket;
        // Item order decides which conflict is reported: the key, then the conversation, then
        // the counter.
        let mut kinds = Vec::new();
        let mut request = self.transaction();
        if let Some(key) = &new.idempotency {
            let item = Item::from([
                ("pk".to_owned(), s(idem_key(&key.user_id, &key.key))),
                ("sk".to_owned(), s("IDEM")),
                ("ticket_id".to_owned(), s(&t.id)),
                ("expires_at".to_owned(), n(epoch(key.expires_at))),
            ]);
            let fresh = Put::builder()
                .table_name(table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk) OR expires_at <= :now")
                .expression_attribute_values(":now", n(epoch(t.created_at)))
                .build()
                .map_err(build_err)?;
            request = request.transact_items(TransactWriteItem::builder().put(fresh).build());
            kinds.push(CreateConflict::KeySeen);
        }
        let mark = Update::builder()
            .table_name(&self.tables.conversations)
            .key("pk", s(&t.conversation_id))
            .key("sk", s("META"))
            .update_expression("SET open_ticket = :t")
            .condition_expression(
                "attribute_exists(pk) AND user_id = :u AND attribute_not_exists(open_ticket)",
            )
            .expression_attribute_values(":t", s(&t.id))
            .expression_attribute_values(":u", s(t.user_id.as_str()))
            .build()
            .map_err(build_err)?;
        request = request.transact_items(TransactWriteItem::builder().update(mark).build());
        kinds.push(CreateConflict::ConversationHasTicket);
        let next = i64::try_from(new.counter_expected + 1).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let counter = Update::builder()
            .table_name(table)
            .key("pk", s(format!("COUNTER#{}", new.day.format("%Y%m%d"))))
            .key("sk", s("COUNTER"))
            .update_expression("SET #v = :next")
            .condition_expression(if new.counter_expected == 0 {
                "attribute_not_exists(pk)"
            } else {
                "#v = :expected"
            })
            .expression_attribute_names("#v", "value")
            .expression_attribute_values(":next", n(next));
        let counter = if new.counter_expected == 0 {
            counter
        } else {
            counter.expression_attribute_values(":expected", n(next - 1))
        };
        request = request
            .transact_items(TransactWriteItem::builder().update(counter.build().map_err(build_err)?).build());
        kinds.push(CreateConflict::Counter);
        let mut item = ticket_item(t)?;
        if let Some(key) = &new.idempotency {
            // So that detaching the ticket from a deleted account can find its key.
            item.insert("idempotency_pk".to_owned(), s(idem_key(&key.user_id, &key.key)));
        }
        request = request.transact_items(put(table, item, "attribute_not_exists(pk)")?);
        for m in &new.mails {
            request = request.transact_items(put(table, mail_item(m), "attribute_not_exists(pk)")?);
        }
        match request.send().await {
            Ok(_) => Ok(Ok(())),
            Err(e) => {
                let failed = match e.as_service_error() {
                    Some(TransactWriteItemsError::TransactionCanceledException(ex)) => ex
                        .cancellation_reasons()
                        .iter()
                        .position(|r| r.code() == Some("ConditionalCheckFailed"))
                        .and_then(|i| kinds.get(i).cloned()),
                    _ => None,
                };
                match failed {
                    Some(conflict) => Ok(Err(conflict)),
                    None => Err(unavailable(e)),
                }
            }
        }
    }

    async fn get(&self, id: &str) -> StoreResult<Option<SupportTicket>> {
        self.item(ticket_key(id), "META").await?.as_ref().map(ticket).transpose()
    }

    async fn by_key(&self, user: &UserId, key: &str, now: DateTime<Utc>) -> StoreResult<Option<String>> {
        let Some(item) = self.item(idem_key(user, key), "IDEM").await? else { return Ok(None) };
        if get_n(&item, "expires_at")? <= epoch(now) {
            return Ok(None);
        }
        get_s(&item, "ticket_id").map(Some)
    }

    async fn list(
        &self,
        user: &UserId,
        before: Option<Cursor>,
        limit: u32,
    ) -> StoreResult<Vec<SupportTicket>> {
        let items = self
            .newest_first(&self.tables.support_tickets, BY_USER, "created_key", user, before, limit)
            .await?;
        items.iter().map(ticket).collect()
    }

    async fn mail(&self, ticket_id: &str, mail_id: &str) -> StoreResult<Option<MailRecord>> {
        self.item(ticket_key(ticket_id), &mail_key(mail_id)).await?.as_ref().map(mail).transpose()
    }

    async fn update(&self, u: &TicketUpdate) -> StoreResult<()> {
        let table = &self.tables.support_tickets;
        let t = &u.ticket;
        let mut set = vec!["#s = :s", "updated_at = :u", "revision = :r"];
        let mut remove = Vec::new();
        let mut change = Update::builder()
            .table_name(table)
            .key("pk", s(ticket_key(&t.id)))
            .key("sk", s("META"))
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":s", s(t.status.as_str()))
            .expression_attribute_values(":u", n(epoch(t.updated_at)))
            .expression_attribute_values(":r", n(i64::from(t.revision)))
            .expression_attribute_values(":was", n(i64::from(t.revision.wrapping_sub(1))));
        // Tickets from before the lifecycle have no revision: they are at 0.
        change = change.condition_expression(if t.revision == 1 {
            "attribute_exists(pk) AND (attribute_not_exists(revision) OR revision = :was)"
        } else {
            "revision = :was"
        });
        match t.resolved_at {
            Some(at) => {
                set.push("resolved_at = :ra");
                change = change.expression_attribute_values(":ra", n(epoch(at)));
            }
            None => remove.push("resolved_at"),
        }
        if let Some(rating) = rating_json(t)? {
            set.push("rating = :rating");
            change = change.expression_attribute_values(":rating", s(rating));
        }
        match closing_due(t) {
            Some(due) => {
                set.extend(["#q = :q", "#d = :d"]);
                change = change
                    .expression_attribute_values(":q", s(CLOSING))
                    .expression_attribute_values(":d", s(due));
            }
            None => remove.extend(["#q", "#d"]),
        }
        change = change.expression_attribute_names("#q", "queue").expression_attribute_names("#d", "due");
        let expression = format!(
            "SET {}{}",
            set.join(", "),
            if remove.is_empty() { String::new() } else { format!(" REMOVE {}", remove.join(", ")) }
        );
        let change = change.update_expression(expression).build().map_err(build_err)?;
        let mut request =
            self.transaction().transact_items(TransactWriteItem::builder().update(change).build());
        for m in &u.mails {
            request = request.transact_items(put(table, mail_item(m), "attribute_not_exists(pk)")?);
        }
        if let Some(a) = &u.append {
            for item in self.append_items(&a.conversation, &a.messages, a.expected_count)? {
                request = request.transact_items(item);
            }
        }
        // A closed ticket frees its conversation for a new one (a detached ticket's is gone).
        if t.status == TicketStatus::Closed && t.user_id.as_str() != DETACHED_OWNER {
            let free = Update::builder()
                .table_name(&self.tables.conversations)
                .key("pk", s(&t.conversation_id))
                .key("sk", s("META"))
                .update_expression("REMOVE open_ticket")
                .condition_expression("attribute_exists(pk)")
                .build()
                .map_err(build_err)?;
            request = request.transact_items(TransactWriteItem::builder().update(free).build());
        }
        match request.send().await {
            Ok(_) => Ok(()),
            Err(e) if lost_race(&e) => Err(StoreError::Conflict),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn resolved_before(&self, cutoff: DateTime<Utc>, limit: u32) -> StoreResult<Vec<SupportTicket>> {
        // Due when the window ends: resolved at or before `cutoff` means due at `cutoff + window`.
        let items = self.due(CLOSING, cutoff + REOPEN_WINDOW, limit).await?;
        items.iter().map(ticket).collect()
    }

    async fn update_mail(&self, m: &MailRecord) -> StoreResult<()> {
        let table = &self.tables.support_tickets;
        let mut request =
            self.transaction().transact_items(put(table, mail_item(m), "attribute_exists(pk)")?);
        // The ticket carries the statuses of its two first mails, and the ids they were sent with.
        if m.is_first() {
            let mut copy = Update::builder()
                .table_name(table)
                .key("pk", s(ticket_key(&m.ticket_id)))
                .key("sk", s("META"))
                .update_expression(if m.sent_message_id.is_some() {
                    "SET #m = :s, #i = :i"
                } else {
                    "SET #m = :s"
                })
                .condition_expression("attribute_exists(pk)")
                .expression_attribute_names("#m", format!("mail_{}", m.recipient.as_str()))
                .expression_attribute_values(":s", s(m.status.as_str()));
            if let Some(id) = &m.sent_message_id {
                copy = copy
                    .expression_attribute_names("#i", format!("message_id_{}", m.recipient.as_str()))
                    .expression_attribute_values(":i", s(id));
            }
            let copy = copy.build().map_err(build_err)?;
            request = request.transact_items(TransactWriteItem::builder().update(copy).build());
        }
        match request.send().await {
            Ok(_) => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn due_mails(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<MailRecord>> {
        self.due(QUEUED, now, limit).await?.iter().map(mail).collect()
    }

    async fn detach_user(&self, user: &UserId) -> StoreResult<()> {
        let table = &self.tables.support_tickets;
        for head in self.query_index(table, BY_USER, "user_id", user.as_str()).await? {
            let pk = get_s(&head, "pk")?;
            if let Some(idem) = get_opt_s(&head, "idempotency_pk") {
                self.delete_key(
                    table,
                    Item::from([("pk".to_owned(), s(idem)), ("sk".to_owned(), s("IDEM"))]),
                )
                .await?;
            }
            // The mails hold the user's address; the ticket keeps their statuses.
            let mails = self
                .client
                .query()
                .table_name(table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :mail)")
                .expression_attribute_values(":pk", s(&pk))
                .expression_attribute_values(":mail", s("MAIL#"))
                .projection_expression("pk, sk")
                .consistent_read(true)
                .send()
                .await
                .map_err(unavailable)?;
            for key in mails.items() {
                self.delete_key(table, key.clone()).await?;
            }
            self.client
                .update_item()
                .table_name(table)
                .key("pk", s(&pk))
                .key("sk", s("META"))
                .update_expression("SET user_id = :owner, user_email = :none REMOVE idempotency_pk")
                .expression_attribute_values(":owner", s(DETACHED_OWNER))
                .expression_attribute_values(":none", s(""))
                .send()
                .await
                .map_err(unavailable)?;
        }
        Ok(())
    }

    async fn claim_mail(&self, m: &MailRecord, until: DateTime<Utc>) -> StoreResult<bool> {
        let claimed = MailRecord { next_attempt_at: until, ..m.clone() };
        let result = self
            .client
            .update_item()
            .table_name(&self.tables.support_tickets)
            .key("pk", s(ticket_key(&m.ticket_id)))
            .key("sk", s(mail_key(&m.mail_id)))
            .update_expression("SET next_attempt_at = :until, #d = :due")
            .condition_expression("#s = :queued AND next_attempt_at = :was")
            .expression_attribute_names("#d", "due")
            .expression_attribute_names("#s", "status")
            .expression_attribute_values(":until", n(epoch(until)))
            .expression_attribute_values(":due", s(due(&claimed)))
            .expression_attribute_values(":queued", s(QUEUED))
            .expression_attribute_values(":was", n(epoch(m.next_attempt_at)))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => {
                Ok(false)
            }
            Err(e) => Err(unavailable(e)),
        }
    }
}
