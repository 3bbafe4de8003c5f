//! Replies by mail through the local gateway's inbox (SES receiving, locally): an agent's reply
//! lands in the conversation in the quoting styles of Gmail, Outlook and Apple Mail, an offline
//! user gets it by mail, commands move the ticket, the user can answer by mail, and every spoofed
//! or malformed message is refused with a reason and changes nothing. Both backends. And the
//! Lambda path: `mail-inbound` reads what SES receiving stored in S3 (moto) and trusts the
//! verdicts of SES's receipt.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use e2e::gateway::{Account, TestGateway, next_text};
use serde_json::{Value, json};

const PASS: &str =
    "mx.inbound.localhost; spf=pass smtp.mailfrom=example.com; dkim=pass header.d=example.com; dmarc=pass";

/// A ticket and its reply address (from the `Reply-To` of the mail support got).
struct Ticket {
    id: String,
    number: String,
    conversation: String,
    reply_to: String,
}

async fn ticket(gw: &TestGateway, who: &Account) -> Ticket {
    let conversation = gw.start_conversation(who, "My card was charged twice this month").await;
    let created: Value =
        gw.escalate(who, &json!({"conversation_id": conversation}), None).await.json().await.unwrap();
    let (id, number) =
        (created["ticket"]["id"].as_str().unwrap(), created["ticket"]["number"].as_str().unwrap());
    let support = gw
        .ticket_mails()
        .await
        .into_iter()
        .find(|m| m.to == "support@localhost" && m.raw.contains(number))
        .expect("the support mail");
    let reply_to =
        support.raw.lines().find_map(|l| l.strip_prefix("Reply-To: ")).expect("a Reply-To").trim().to_owned();
    assert!(
        reply_to.starts_with(&format!("reply+{id}.")) && reply_to.ends_with("@inbound.localhost"),
        "{reply_to}"
    );
    Ticket { id: id.into(), number: number.into(), conversation, reply_to }
}

/// A plain-text message as a mail client sends it.
fn eml(from: &str, to: &str, auth: &str, subject: &str, body: &str) -> String {
    format!(
        "Authentication-Results: {auth}\r\nFrom: {from}\r\nTo: {to}\r\nSubject: {subject}\r\n\
         Date: Fri, 9 Jan 2026 10:30:00 +0000\r\nMessage-ID: <{}@mail.example.com>\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{}",
        uuid::Uuid::new_v4().simple(),
        body.replace('\n', "\r\n")
    )
}

/// Drops a message into the inbox (written aside, then moved in); returns its file name.
fn drop_in(gw: &TestGateway, raw: &[u8]) -> String {
    let inbox = gw.data_dir().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let name = format!("{}.eml", uuid::Uuid::new_v4().simple());
    let aside = gw.data_dir().join(&name);
    std::fs::write(&aside, raw).unwrap();
    std::fs::rename(&aside, inbox.join(&name)).unwrap();
    name
}

/// Drops a message in and waits until it is filed.
async fn deliver(gw: &TestGateway, raw: &[u8]) -> Result<(), String> {
    let name = drop_in(gw, raw);
    filed(gw, &name).await
}

/// Waits until the gateway has filed a dropped message: `Ok(())` when taken, `Err(reason)`
/// when refused.
async fn filed(gw: &TestGateway, name: &str) -> Result<(), String> {
    let inbox = gw.data_dir().join("inbox");
    let (done, rejected): (PathBuf, PathBuf) =
        (inbox.join("done").join(name), inbox.join("rejected").join(name));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if done.exists() {
            return Ok(());
        }
        if rejected.exists() {
            let reason =
                std::fs::read_to_string(inbox.join("rejected").join(format!("{name}.reason"))).unwrap();
            return Err(reason.trim().to_owned());
        }
        assert!(Instant::now() < deadline, "{name} was not filed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The gateway's reply key, as `INBOUND_REPLY_KEY` holds it.
fn reply_key(gw: &TestGateway) -> String {
    std::fs::read_to_string(gw.data_dir().join("inbound-reply.key")).unwrap().trim().to_owned()
}

async fn messages(gw: &TestGateway, who: &Account, conversation: &str) -> Vec<Value> {
    let page: Value = gw.get_json(who, &format!("/api/chat/messages?conversation_id={conversation}")).await;
    page["messages"].as_array().unwrap().clone()
}

async fn status(gw: &TestGateway, who: &Account, id: &str) -> String {
    let t: Value = gw.get_json(who, &format!("/api/escalations/{id}")).await;
    t["ticket"]["status"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_agent_reply_lands_in_the_conversation_live_in_every_quoting_style() {
    let gw = TestGateway::start().await;
    let ada = gw.register_verified("inbound-live@example.com").await;
    let t = ticket(&gw, &ada).await;
    let mut socket = gw.connect_ticket(&gw.mint(&ada).await).await.unwrap();
    let subject = format!("Re: [{}] My card was charged twice this month", t.number);
    let replies = [
        // Gmail
        "I refunded the second charge; it shows within 5 days.\n\nOn Fri, Jan 9, 2026 at 10:00 AM Support <support@localhost> wrote:\n> New support ticket\n> Transcript\n",
        // Outlook
        "Hello Ada,\n\nThe refund is confirmed.\n\n________________________________\nFrom: Support <support@localhost>\nSent: Friday, January 9, 2026 10:00 AM\nTo: support@localhost\nSubject: [AB] x\n\nNew support ticket\n",
        // Apple Mail
        "Anything else I can do?\n\nSent from my iPhone\n\n> On 9 Jan 2026, at 10:00, Support <support@localhost> wrote:\n>\n> New support ticket\n",
    ];
    let expected = [
        "I refunded the second charge; it shows within 5 days.",
        "Hello Ada,\n\nThe refund is confirmed.",
        "Anything else I can do?",
    ];
    for (body, text) in replies.iter().zip(expected) {
        let raw = eml("Grace Hopper <support@localhost>", &t.reply_to, PASS, &subject, body);
        assert_eq!(deliver(&gw, raw.as_bytes()).await, Ok(()));
        let frame = loop {
            let f: Value = serde_json::from_str(&next_text(&mut socket).await.unwrap()).unwrap();
            if f["type"] == "agent.message" {
                break f;
            }
        };
        assert_eq!(frame["conversation_id"], t.conversation.as_str());
        assert_eq!(frame["message"]["role"], "agent");
        assert_eq!(frame["message"]["author"], "Grace Hopper");
        assert_eq!(frame["message"]["content"], text);
        assert!(frame["seq"].as_u64().is_some(), "durable: fetched again after a reconnect");
    }
    let stored = messages(&gw, &ada, &t.conversation).await;
    let agents: Vec<&str> =
        stored.iter().filter(|m| m["role"] == "agent").map(|m| m["content"].as_str().unwrap()).collect();
    assert_eq!(agents, expected);
    assert_eq!(status(&gw, &ada, &t.id).await, "waiting_on_user");
    let to_user = gw.ticket_mails().await.into_iter().filter(|m| m.to == "inbound-live@example.com").count();
    assert_eq!(to_user, 1, "only the ticket's own mail: the user saw the replies live");
}

#[tokio::test]
async fn an_offline_user_gets_the_reply_by_mail_commands_move_the_ticket_and_the_user_can_answer_by_mail() {
    let gw = TestGateway::start().await;
    let ada = gw.register_verified("inbound-offline@example.com").await;
    let t = ticket(&gw, &ada).await;
    let subject = format!("Re: [{}] charged twice", t.number);

    let body = "Refunded today.\n#resolve\n-- \nGrace Hopper\nBilling team\n";
    let raw = eml("\"Grace Hopper\" <support@localhost>", &t.reply_to, PASS, &subject, body);
    assert_eq!(deliver(&gw, raw.as_bytes()).await, Ok(()));
    assert_eq!(status(&gw, &ada, &t.id).await, "resolved", "#resolve after the text");
    let mail = gw
        .ticket_mails()
        .await
        .into_iter()
        .find(|m| m.to == "inbound-offline@example.com" && e2e::decoded(&m.raw).contains("Refunded today."))
        .expect("the reply mailed to the offline user");
    let text = e2e::decoded(&mail.raw);
    assert!(text.contains("Grace Hopper from the support team"), "{text}");
    assert!(text.contains(&gw.url), "a link back to the web client: {text}");
    assert!(mail.raw.contains(&format!("Reply-To: {}", t.reply_to)), "answerable by mail");
    assert!(!text.contains("Billing team"), "the signature is cut");

    // The user answers by mail: a user message, support's turn again, forwarded to support.
    let answer = eml(
        "Ada <inbound-offline@example.com>",
        &t.reply_to,
        PASS,
        &subject,
        "Thank you! It worked.\n\nOn Fri wrote:\n> Refunded today.\n",
    );
    assert_eq!(deliver(&gw, answer.as_bytes()).await, Ok(()));
    let last = messages(&gw, &ada, &t.conversation).await.pop().unwrap();
    assert_eq!(
        (last["role"].as_str(), last["content"].as_str()),
        (Some("user"), Some("Thank you! It worked."))
    );
    assert_eq!(status(&gw, &ada, &t.id).await, "waiting_on_support", "writing within the week reopens");
    let forwarded = gw
        .ticket_mails()
        .await
        .into_iter()
        .any(|m| m.to == "support@localhost" && e2e::decoded(&m.raw).contains("Thank you! It worked."));
    assert!(forwarded, "support hears of it in the thread");

    // An agent's #close alone ends it; then nothing more is taken.
    let close = eml("support@localhost", &t.reply_to, PASS, &subject, "#close\n");
    assert_eq!(deliver(&gw, close.as_bytes()).await, Ok(()));
    assert_eq!(status(&gw, &ada, &t.id).await, "closed");
    let late = eml("support@localhost", &t.reply_to, PASS, &subject, "One more thing.");
    assert_eq!(deliver(&gw, late.as_bytes()).await, Err("ticket closed".into()));
}

#[tokio::test]
async fn spoofed_or_malformed_mail_is_refused_with_a_reason_and_changes_nothing() {
    let gw = TestGateway::start().await;
    let ada = gw.register_verified("inbound-spoof@example.com").await;
    let t = ticket(&gw, &ada).await;
    let subject = format!("Re: [{}] x", t.number);
    let before = messages(&gw, &ada, &t.conversation).await.len();

    // A valid signature for a ticket that does not exist: made with the gateway's own key.
    let replies = shared::domain::ReplyAddresses::new(reply_key(&gw).as_bytes(), "inbound.localhost");
    let unknown = replies.for_ticket("tkt_00000000000000000000000000000000");
    let mac = t.reply_to.split('.').nth(1).unwrap().split('@').next().unwrap().to_owned();
    let tampered = t.reply_to.replace(&mac, "0000000000000000000a");
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "no SPF or DKIM",
            eml(
                "support@localhost",
                &t.reply_to,
                "mx; spf=fail; dkim=fail; dmarc=none",
                &subject,
                "Refunded.",
            ),
            "untrusted",
        ),
        (
            "DMARC failed",
            eml(
                "support@localhost",
                &t.reply_to,
                "mx; spf=pass; dkim=pass; dmarc=fail",
                &subject,
                "Refunded.",
            ),
            "untrusted",
        ),
        (
            "no verdicts at all",
            eml("support@localhost", &t.reply_to, "mx; none", &subject, "Refunded."),
            "untrusted",
        ),
        (
            "a tampered signature",
            eml("support@localhost", &tampered, PASS, &subject, "Refunded."),
            "no reply address",
        ),
        (
            "no reply address",
            eml("support@localhost", "support@localhost", PASS, &subject, "Refunded."),
            "no reply address",
        ),
        (
            "an unknown ticket",
            eml("support@localhost", &unknown, PASS, &subject, "Refunded."),
            "unknown ticket",
        ),
        ("a stranger", eml("mallory@example.com", &t.reply_to, PASS, &subject, "#close"), "unknown sender"),
        (
            "only quotes",
            eml("support@localhost", &t.reply_to, PASS, &subject, "On Fri wrote:\n> old\n"),
            "empty",
        ),
        (
            "no sender",
            format!("Authentication-Results: {PASS}\r\nTo: {}\r\n\r\n\u{0}garbage", t.reply_to),
            "unparseable",
        ),
    ];
    // All at once: the inbox is taken in one look.
    let dropped: Vec<_> =
        cases.iter().map(|(case, raw, reason)| (case, drop_in(&gw, raw.as_bytes()), reason)).collect();
    for (case, name, reason) in dropped {
        let refused = filed(&gw, &name).await.expect_err(case);
        assert!(refused.starts_with(*reason), "{case}: {refused}");
    }
    assert_eq!(messages(&gw, &ada, &t.conversation).await.len(), before, "nothing appended");
    assert_eq!(status(&gw, &ada, &t.id).await, "open", "nothing moved");
    let rejected = std::fs::read_dir(gw.data_dir().join("inbox").join("rejected")).unwrap().count();
    assert_eq!(rejected, 2 * 9, "each kept, with its reason");
}

/// An SES receipt event for `message_id` sent to `to`, with these SPF, DKIM and DMARC statuses
/// (the sample event's shape).
fn receipt(message_id: &str, to: &str, verdict: &str) -> aws_lambda_events::event::ses::SimpleEmailEvent {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../events/mail-inbound/reply-from-support.json");
    let text = std::fs::read_to_string(path).unwrap().replace("${REPLY_ADDRESS}", to);
    let mut event: Value = serde_json::from_str(&text).unwrap();
    let ses = &mut event["Records"][0]["ses"];
    ses["mail"]["messageId"] = json!(message_id);
    for check in ["spfVerdict", "dkimVerdict", "dmarcVerdict"] {
        ses["receipt"][check] = json!({ "status": verdict });
    }
    serde_json::from_value(event).unwrap()
}

#[tokio::test]
async fn mail_inbound_takes_what_ses_stored_in_s3_by_the_verdicts_of_ses_receipt() {
    use mail_inbound::{InboundRun, MailInbound, RefusedMail};
    use shared::adapters::s3::S3ReceivedMail;

    let gw = TestGateway::start().await;
    let ada = gw.register_verified("inbound-lambda@example.com").await;
    let t = ticket(&gw, &ada).await;

    // SES's S3 action: the message under `mail/<SES message id>` in the inbound bucket. Its own
    // Authentication-Results header claims a pass; only the receipt's verdicts count.
    let sdk = e2e::moto::sdk_config();
    let s3 =
        aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&sdk).force_path_style(true).build());
    let bucket = format!("inbound-{}", uuid::Uuid::new_v4().simple());
    s3.create_bucket().bucket(&bucket).send().await.expect("bucket on moto");
    let id = format!("{}", uuid::Uuid::new_v4().simple());
    let raw =
        eml("Dana <support@localhost>", &t.reply_to, PASS, &format!("Re: [{}] x", t.number), "Refunded.\n");
    s3.put_object()
        .bucket(&bucket)
        .key(format!("mail/{id}"))
        .body(raw.into_bytes().into())
        .send()
        .await
        .unwrap();

    // The function as its main wires it, over the gateway's stores.
    let key = reply_key(&gw);
    let settings = move |var: &str| match var {
        "MAIL_FROM" => Some("Support <support@localhost>".to_owned()),
        "SUPPORT_EMAIL" => Some("support@localhost".to_owned()),
        "INBOUND_MAIL_DOMAIN" => Some("inbound.localhost".to_owned()),
        "INBOUND_REPLY_KEY" => Some(key.clone()),
        _ => None,
    };
    let outbox = tempfile::tempdir().unwrap();
    let clock: std::sync::Arc<dyn shared::Clock> = std::sync::Arc::new(shared::SystemClock);
    let mail = std::sync::Arc::new(shared::adapters::outbox::Outbox::new(outbox.path().to_owned()));
    let wiring = e2e::wiring(settings, gw.stores(), mail, clock)
        .with_received_mail(std::sync::Arc::new(S3ReceivedMail::from_sdk(&sdk, &bucket, "mail/")));
    let function = MailInbound::build(&wiring).unwrap();
    let refused = |reason: &str, message_id: &str| InboundRun {
        taken: 0,
        refused: vec![RefusedMail {
            message_id: message_id.to_owned(),
            reason: reason.to_owned(),
            location: format!("s3://{bucket}/mail/{message_id}"),
        }],
    };

    let failed = function.handle(receipt(&id, &t.reply_to, "FAIL")).await.unwrap();
    assert_eq!(failed, refused("untrusted", &id), "SES's verdicts, not the header's");
    let gray = function.handle(receipt(&id, &t.reply_to, "GRAY")).await.unwrap();
    assert_eq!(gray, refused("untrusted", &id), "only PASS passes");
    let missing = function.handle(receipt("not-stored", &t.reply_to, "PASS")).await.unwrap();
    assert_eq!(missing, refused("not_stored", "not-stored"));
    assert_eq!(messages(&gw, &ada, &t.conversation).await.len(), 2, "nothing appended yet");

    let taken = function.handle(receipt(&id, &t.reply_to, "PASS")).await.unwrap();
    assert_eq!(taken, InboundRun { taken: 1, refused: Vec::new() });
    let all = messages(&gw, &ada, &t.conversation).await;
    let last = all.last().unwrap();
    assert_eq!((last["role"].as_str(), last["content"].as_str()), (Some("agent"), Some("Refunded.")));
    assert_eq!(last["author"], "Dana");
    assert_eq!(status(&gw, &ada, &t.id).await, "waiting_on_user");
}
