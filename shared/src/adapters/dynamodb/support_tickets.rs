//! Support tickets table (`pk`/`sk`):
//! - ticket `TICKET#<id>` / `META` (transcript as JSON; `user_id` + `created_key` for `by_user`;
//!   `idempotency_pk` names its key's item),
//! - its mails `TICKET#<id>` / `MAIL#<recipient>` (raw MIME as binary; while queued, `queue` and
//!   `due` put it in the sparse index `by_due`),
//! - day counters `COUNTER#<yyyymmdd>` / `COUNTER`,
//! - idempotency keys `IDEM#<sha256(user, key)>` / `IDEM` (TTL `expires_at`).

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use chrono::{DateTime, NaiveDate, Utc};

use super::item::{Item, get_n, get_opt_s, get_s, n, s};
use super::{DynamoStore, build_err, position, unavailable};
use crate::clock::{epoch, from_epoch};
use crate::domain::{
    Cursor, DETACHED_OWNER, MailRecord, MailStatus, NewTicket, Priority, Recipient, SupportTicket, UserId,
};
use crate::ports::{CreateConflict, StoreError, StoreResult, SupportTickets};

/// Index of a user's tickets, newest first.
pub(crate) const BY_USER: &str = "by_user";
/// Sparse index of queued mails by due time.
pub(crate) const BY_DUE: &str = "by_due";
const QUEUED: &str = "queued";

fn ticket_key(id: &str) -> String {
    format!("TICKET#{id}")
}

fn mail_key(recipient: Recipient) -> String {
    format!("MAIL#{}", recipient.as_str())
}

/// Keys are per user; the item holds only a hash of both, so nothing in it names the user.
fn idem_key(user: &UserId, key: &str) -> String {
    let digest =
        aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, format!("{}\n{key}", user.as_str()).as_bytes());
    format!("IDEM#{}", hex::encode(digest))
}

fn due(m: &MailRecord) -> String {
    format!("{:020}#{}#{}", epoch(m.next_attempt_at).max(0), m.ticket_id, m.recipient.as_str())
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(what.to_owned())
}

fn ticket_item(t: &SupportTicket) -> StoreResult<Item> {
    let transcript = serde_json::to_string(&t.transcript).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(Item::from([
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
        ("status".to_owned(), s(&t.status)),
        ("created_at".to_owned(), n(epoch(t.created_at))),
        ("created_key".to_owned(), s(position(t.created_at, &t.id))),
        ("transcript".to_owned(), s(transcript)),
        ("mail_support".to_owned(), s(t.mail_support.as_str())),
        ("mail_user".to_owned(), s(t.mail_user.as_str())),
    ]))
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
        status: get_s(item, "status")?,
        created_at: from_epoch(get_n(item, "created_at")?),
        transcript: serde_json::from_str(&get_s(item, "transcript")?)
            .map_err(|_| corrupt("ticket transcript"))?,
        mail_support: status("mail_support")?,
        mail_user: status("mail_user")?,
    })
}

fn mail_item(m: &MailRecord) -> Item {
    let mut item = Item::from([
        ("pk".to_owned(), s(ticket_key(&m.ticket_id))),
        ("sk".to_owned(), s(mail_key(m.recipient))),
        ("ticket_id".to_owned(), s(&m.ticket_id)),
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
    if m.status == MailStatus::Queued {
        item.insert("queue".to_owned(), s(QUEUED));
        item.insert("due".to_owned(), s(due(m)));
    }
    item
}

fn mail(item: &Item) -> StoreResult<MailRecord> {
    Ok(MailRecord {
        ticket_id: get_s(item, "ticket_id")?,
        recipient: Recipient::parse(&get_s(item, "recipient")?).ok_or_else(|| corrupt("mail recipient"))?,
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

    async fn mail(&self, ticket_id: &str, recipient: Recipient) -> StoreResult<Option<MailRecord>> {
        self.item(ticket_key(ticket_id), &mail_key(recipient)).await?.as_ref().map(mail).transpose()
    }

    async fn update_mail(&self, m: &MailRecord) -> StoreResult<()> {
        let table = &self.tables.support_tickets;
        let copy = Update::builder()
            .table_name(table)
            .key("pk", s(ticket_key(&m.ticket_id)))
            .key("sk", s("META"))
            .update_expression("SET #m = :s")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#m", format!("mail_{}", m.recipient.as_str()))
            .expression_attribute_values(":s", s(m.status.as_str()))
            .build()
            .map_err(build_err)?;
        let result = self
            .transaction()
            .transact_items(put(table, mail_item(m), "attribute_exists(pk)")?)
            .transact_items(TransactWriteItem::builder().update(copy).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn due_mails(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<MailRecord>> {
        // Every due key of this second or earlier sorts below "<now>#~".
        let out = self
            .client
            .query()
            .table_name(&self.tables.support_tickets)
            .index_name(BY_DUE)
            .key_condition_expression("#q = :q AND #d < :until")
            .expression_attribute_names("#q", "queue")
            .expression_attribute_names("#d", "due")
            .expression_attribute_values(":q", s(QUEUED))
            .expression_attribute_values(":until", s(format!("{:020}#~", epoch(now).max(0))))
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(unavailable)?;
        out.items().iter().map(mail).collect()
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
            for recipient in [Recipient::Support, Recipient::User] {
                self.delete_key(
                    table,
                    Item::from([("pk".to_owned(), s(&pk)), ("sk".to_owned(), s(mail_key(recipient)))]),
                )
                .await?;
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
            .key("sk", s(mail_key(m.recipient)))
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
