//! The SES adapter against moto, the whole escalation on the AWS adapters (DynamoDB and SES on
//! moto): a sender that is not verified makes SES refuse, the ticket is still created with its
//! mails queued, and once the identity exists the retry worker delivers them.

use std::sync::Arc;

use chrono::Duration;
use e2e::world::{World, body, post};
use serde_json::{Value, json};
use shared::adapters::ses::Ses;
use shared::clock::ManualClock;
use shared::domain::MailStatus;
use shared::http::HttpFunction;
use shared::ports::{MailTransport, OutgoingMail, Stores, SupportTickets};

fn unique_domain() -> String {
    format!("t{}.example", uuid::Uuid::new_v4().simple())
}

async fn verify(domain: &str) {
    e2e::moto::ses().create_email_identity().email_identity(domain).send().await.expect("identity created");
}

/// The raw messages moto holds that mention `needle`.
/// Messages moto's SES accepted from `domain` (each test sends from its own) containing `needle`:
/// ticket numbers repeat across tests, which all share moto.
async fn raw_messages_with(domain: &str, needle: &str) -> Vec<String> {
    let ses = e2e::moto::sent_mail().await;
    ses["RawMessage"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["raw_data"].as_str())
        .filter(|raw| raw.contains(domain) && raw.contains(needle))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn the_ses_adapter_sends_raw_mime_that_can_be_read_back() {
    let domain = unique_domain();
    verify(&domain).await;
    let from = format!("support@{domain}");
    let marker = uuid::Uuid::new_v4().to_string();
    let raw = format!(
        "From: {from}\r\nTo: someone@example.com\r\nSubject: check {marker}\r\n\r\nbody {marker}\r\n"
    );
    let ses = Ses::new(e2e::moto::ses());
    let mail = OutgoingMail { from: &from, to: "someone@example.com", raw: raw.as_bytes(), name: "check" };
    let sent = ses.send(&mail).await.expect("sent");
    let found = raw_messages_with(&domain, &marker).await;
    assert_eq!(found.len(), 1);
    // SES gives the message an id of its own, and says which: the header form it sends.
    let id = sent.message_id.expect("the id SES sent it with");
    assert!(id.starts_with('<') && id.ends_with("@email.amazonses.com>") && id.len() > 24, "{id}");

    let unverified = format!("support@{}", unique_domain());
    let refused =
        OutgoingMail { from: &unverified, to: "someone@example.com", raw: raw.as_bytes(), name: "no" };
    let error = ses.send(&refused).await.unwrap_err();
    assert!(
        error.0.contains("MessageRejected") || error.0.to_lowercase().contains("not verified"),
        "{error}"
    );
}

#[tokio::test]
async fn ses_failing_keeps_the_ticket_and_the_retry_worker_delivers_later() {
    let domain = unique_domain();
    let from = format!("support@{domain}");
    let store = Arc::new(e2e::moto::fresh_store().await);
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let world = World::new(
        &Stores::single(store.clone()),
        Arc::new(Ses::new(e2e::moto::ses())),
        clock.clone(),
        &from,
    );

    let (token, conversation) =
        world.user_with_conversation("ses-user@example.com", "my invoices are wrong").await;
    let r = world
        .escalation
        .handle(post("/api/escalations", Some(&token), json!({"conversation_id": conversation})))
        .await;
    assert_eq!(r.status(), 201, "the ticket is created although SES refuses the sender");
    let ticket: Value = body(&r)["ticket"].clone();
    assert_eq!(ticket["mail"], json!({"support": "queued", "user": "queued"}));
    let number = ticket["number"].as_str().unwrap().to_owned();
    assert!(raw_messages_with(&domain, &number).await.is_empty(), "nothing sent yet");

    verify(&domain).await;
    clock.advance(Duration::seconds(61));
    let run = world.retry.handle(Value::Null).await.unwrap();
    assert_eq!((run.sent, run.requeued, run.failed), (2, 0, 0), "{run:?}");
    let stored = store.get(ticket["id"].as_str().unwrap()).await.unwrap().unwrap();
    assert_eq!((stored.mail_support, stored.mail_user), (MailStatus::Sent, MailStatus::Sent));
    let delivered = raw_messages_with(&domain, &number).await;
    assert_eq!(delivered.len(), 2, "support and user, each once");
    assert!(
        delivered.iter().any(|m| m.contains("my invoices are wrong")),
        "the support mail carries the transcript"
    );

    // SES replaced the support mail's Message-ID: the ticket keeps SES's, and the next mail in
    // the thread (the user resolving) replies to it, so support's mail client threads them.
    let ses_id = stored.message_id_support.clone().expect("the id SES sent the support mail with");
    assert!(ses_id.ends_with("@email.amazonses.com>"), "{ses_id}");
    let id = ticket["id"].as_str().unwrap();
    let r = world
        .escalation
        .handle(post(&format!("/api/escalations/{id}/resolve"), Some(&token), json!({})))
        .await;
    assert_eq!(r.status(), 200);
    clock.advance(Duration::seconds(61));
    world.retry.handle(Value::Null).await.unwrap();
    let resolved = raw_messages_with(&domain, "marked ticket").await;
    assert_eq!(resolved.len(), 1, "the resolution, mailed to support once");
    assert!(resolved[0].contains(&format!("In-Reply-To: {ses_id}")), "{}", resolved[0]);
}
