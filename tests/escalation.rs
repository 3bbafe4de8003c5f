//! Escalation through the local gateway (outbox mail) and with transports that fail: dated
//! numbers, transcripts in mail, no duplicates, ownership, header safety, nothing lost.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use e2e::gateway::{Mode, TestGateway};
use serde_json::{Value, json};
use shared::ports::{MailError, MailTransport, OutgoingMail, Sent, Stores, SupportTickets};

/// The header block of a MIME message, unfolded.
fn headers(eml: &str) -> Vec<String> {
    let head = eml.split("\r\n\r\n").next().unwrap();
    head.replace("\r\n ", " ").replace("\r\n\t", " ").lines().map(str::to_owned).collect()
}

#[tokio::test]
async fn escalating_opens_a_dated_ticket_and_mails_support_and_the_user() {
    let gw = TestGateway::start().await;
    let ada = gw.register_verified("ada-esc@example.com").await;
    let conversation = gw.start_conversation(&ada, "My invoice shows the wrong amount").await;
    let mut socket = gw.connect_ticket(&gw.mint(&ada).await).await.unwrap();

    let response =
        gw.escalate(&ada, &json!({"conversation_id": conversation, "priority": "high"}), None).await;
    assert_eq!(response.status(), 201);
    let ticket: Value = response.json::<Value>().await.unwrap()["ticket"].clone();
    let today = chrono::Utc::now().format("%Y%m%d").to_string();
    assert_eq!(ticket["number"], format!("AB-{today}-0001"));
    assert_eq!(ticket["status"], "open");
    assert_eq!(ticket["priority"], "high");
    assert_eq!(
        ticket["subject"], "My invoice shows the wrong amount",
        "defaults to the conversation's title"
    );
    assert_eq!(ticket["conversation_id"], conversation.as_str());
    assert_eq!(ticket["mail"], json!({"support": "sent", "user": "sent"}));

    let number = ticket["number"].as_str().unwrap();
    let mails = gw.ticket_mails().await;
    assert_eq!(mails.len(), 2);
    let support = mails.iter().find(|m| m.to == "support@localhost").expect("a mail to support");
    let user = mails.iter().find(|m| m.to == "ada-esc@example.com").expect("a mail to the user");
    assert!(user.raw.contains("Our support team"), "the user is told what happens next");
    assert!(!user.raw.contains("priority"), "and it does not depend on the priority they picked");
    assert!(support.raw.contains("ada-esc@example.com asks for help"), "support's mail leads with who asks");
    for mail in &mails {
        assert!(
            headers(&mail.raw).iter().any(|h| h.starts_with("Subject:") && h.contains(number)),
            "{}",
            mail.raw
        );
    }
    if let Mode::Sqlite = gw.mode {
        for name in [format!("{number}-support.eml"), format!("{number}-user.eml")] {
            assert!(gw.data_dir().join("outbox").join(&name).exists(), "{name} in the outbox");
        }
    }
    assert!(
        support.raw.contains("My invoice shows the wrong amount"),
        "the support mail carries the transcript"
    );
    assert!(
        support.raw.contains("billing") || support.raw.contains("Billing"),
        "including the assistant's reply"
    );

    // The ticket, with its transcript, for its owner; the event on the owner's socket.
    let id = ticket["id"].as_str().unwrap();
    let full: Value = gw.get_json(&ada, &format!("/api/escalations/{id}")).await;
    assert_eq!(full["ticket"]["transcript"].as_array().unwrap().len(), 2);
    assert_eq!(full["ticket"]["transcript"][0]["role"], "user");
    let list: Value = gw.get_json(&ada, "/api/escalations").await;
    assert_eq!(list["tickets"][0]["id"], id);
    let conversations: Value = gw.get_json(&ada, "/api/chat/conversations").await;
    assert_eq!(conversations["conversations"][0]["open_ticket"], id);
    use futures::StreamExt;
    let frame = tokio::time::timeout(std::time::Duration::from_secs(5), socket.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let event: Value = serde_json::from_str(frame.to_text().unwrap()).unwrap();
    assert_eq!(event["type"], "ticket.created");
    assert_eq!(event["ticket"]["number"], number);
}

#[tokio::test]
async fn no_duplicates_by_key_or_by_conversation() {
    let gw = TestGateway::start().await;
    let ada = gw.register_verified("dup-esc@example.com").await;
    let first = gw.start_conversation(&ada, "Where are my invoices?").await;
    let second = gw.start_conversation(&ada, "Cookies keep disappearing").await;

    let a = gw.escalate(&ada, &json!({"conversation_id": first}), Some("retry-1")).await;
    assert_eq!(a.status(), 201);
    let a: Value = a.json().await.unwrap();
    // The same key again (even naming another conversation) is the same ticket.
    let again = gw.escalate(&ada, &json!({"conversation_id": second}), Some("retry-1")).await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.json::<Value>().await.unwrap()["ticket"]["id"], a["ticket"]["id"]);
    // A second escalation of the same conversation, without a key, is the same ticket.
    let double = gw.escalate(&ada, &json!({"conversation_id": first}), None).await;
    assert_eq!(double.status(), 200);
    assert_eq!(double.json::<Value>().await.unwrap()["ticket"]["id"], a["ticket"]["id"]);
    assert_eq!(gw.ticket_mails().await.len(), 2, "no mail for the repeats");

    let b = gw.escalate(&ada, &json!({"conversation_id": second}), Some("retry-2")).await;
    assert_eq!(b.status(), 201);
    let today = chrono::Utc::now().format("%Y%m%d").to_string();
    assert_eq!(b.json::<Value>().await.unwrap()["ticket"]["number"], format!("AB-{today}-0002"));

    // Concurrent double escalation of one conversation: one ticket.
    let third = gw.start_conversation(&ada, "Two factor codes").await;
    let body = json!({"conversation_id": third});
    let (x, y) = tokio::join!(gw.escalate(&ada, &body, None), gw.escalate(&ada, &body, None));
    let mut statuses = [x.status().as_u16(), y.status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 201]);
    let (x, y): (Value, Value) = (x.json().await.unwrap(), y.json().await.unwrap());
    assert_eq!(x["ticket"]["id"], y["ticket"]["id"]);
}

#[tokio::test]
async fn twenty_users_escalating_at_once_get_twenty_numbers() {
    let gw = Arc::new(TestGateway::start().await);
    let mut users = Vec::new();
    for i in 0..20 {
        let who = gw.register_verified(&format!("many{i}@example.com")).await;
        let conversation = gw.start_conversation(&who, "Please help").await;
        users.push((who, conversation));
    }
    let escalations = users.into_iter().map(|(who, conversation)| {
        let gw = Arc::clone(&gw);
        tokio::spawn(async move {
            let r = gw.escalate(&who, &json!({"conversation_id": conversation}), None).await;
            assert_eq!(r.status(), 201);
            r.json::<Value>().await.unwrap()["ticket"]["number"].as_str().unwrap().to_owned()
        })
    });
    let mut numbers: Vec<String> =
        futures::future::join_all(escalations).await.into_iter().map(Result::unwrap).collect();
    numbers.sort();
    numbers.dedup();
    assert_eq!(numbers.len(), 20);
    assert!(numbers.last().unwrap().ends_with("-0020"), "{numbers:?}");
}

#[tokio::test]
async fn other_users_get_404_and_bad_input_gets_400() {
    let gw = TestGateway::start().await;
    let ada = gw.register_verified("own-esc@example.com").await;
    let eve = gw.register_verified("eve-esc@example.com").await;
    let conversation = gw.start_conversation(&ada, "Help with billing").await;
    let code = |r: reqwest::Response| async move {
        let status = r.status().as_u16();
        (status, r.json::<Value>().await.unwrap()["code"].as_str().unwrap_or("").to_owned())
    };
    assert_eq!(
        code(gw.escalate(&eve, &json!({"conversation_id": conversation}), None).await).await,
        (404, "not_found".into())
    );
    let ticket: Value =
        gw.escalate(&ada, &json!({"conversation_id": conversation}), None).await.json().await.unwrap();
    let id = ticket["ticket"]["id"].as_str().unwrap();
    let foreign = gw.get_as(&eve, &format!("/api/escalations/{id}")).await;
    assert_eq!(code(foreign).await, (404, "not_found".into()));
    let listed: Value = gw.get_json(&eve, "/api/escalations").await;
    assert_eq!(listed["tickets"], json!([]));
    let missing = gw.get_as(&ada, "/api/escalations/tkt_nothing").await;
    assert_eq!(code(missing).await, (404, "not_found".into()));

    let other = gw.start_conversation(&ada, "Another question").await;
    for body in [
        json!({}),
        json!({"conversation_id": other, "priority": "whenever"}),
        json!({"conversation_id": other, "subject": "x".repeat(201)}),
        json!({"conversation_id": other, "description": "d".repeat(4001)}),
        json!({"conversation_id": 12}),
    ] {
        assert_eq!(
            code(gw.escalate(&ada, &body, None).await).await,
            (400, "validation_failed".into()),
            "{body}"
        );
    }
    assert_eq!(
        code(gw.escalate(&ada, &json!({"conversation_id": other}), Some("has space")).await).await,
        (400, "validation_failed".into())
    );
    let anonymous = gw
        .http
        .post(gw.at("/api/escalations"))
        .json(&json!({"conversation_id": other}))
        .send()
        .await
        .unwrap();
    assert_eq!(code(anonymous).await, (401, "unauthenticated".into()));
    assert_eq!(gw.ticket_mails().await.len(), 2, "only the one real ticket mailed");
}

#[tokio::test]
async fn a_subject_with_crlf_adds_no_header_to_any_mail() {
    let gw = TestGateway::start().await;
    let ada = gw.register_verified("inject-esc@example.com").await;
    let conversation = gw.start_conversation(&ada, "Hello\r\nBcc: y@evil.example").await;
    let body = json!({
        "conversation_id": conversation,
        "subject": "Help\r\nBcc: x@evil.example\r\nX-Injected: yes",
        "description": "line one\r\nBcc: z@evil.example\n<script>alert(1)</script>",
    });
    assert_eq!(gw.escalate(&ada, &body, None).await.status(), 201);
    let mails = gw.ticket_mails().await;
    assert_eq!(mails.len(), 2);
    for mail in &mails {
        let name = &mail.to;
        for header in headers(&mail.raw) {
            let lower = header.to_ascii_lowercase();
            assert!(!lower.starts_with("bcc:") && !lower.starts_with("x-injected:"), "{name}: {header}");
        }
        if let Some(html) = mail.raw.split("text/html").nth(1) {
            assert!(!html.contains("<script>"), "{name}: HTML is escaped");
        }
    }
}

/// A transport that fails until it is switched on, counting attempts.
#[derive(Default)]
struct Flaky {
    working: AtomicBool,
    sent: std::sync::Mutex<Vec<String>>,
}

#[async_trait]
impl MailTransport for Flaky {
    async fn send(&self, mail: &OutgoingMail<'_>) -> Result<Sent, MailError> {
        if self.working.load(Ordering::SeqCst) {
            self.sent.lock().unwrap().push(mail.name.to_owned());
            Ok(Sent::default())
        } else {
            Err(MailError("mail service down".into()))
        }
    }
}

mod failing_transport {
    use super::*;
    use chrono::Duration;
    use e2e::world::{World, body, post};
    use shared::adapters::sqlite::SqliteStore;
    use shared::clock::ManualClock;
    use shared::domain::MailStatus;
    use shared::http::HttpFunction;

    struct Setup {
        world: World,
        flaky: Arc<Flaky>,
        clock: Arc<ManualClock>,
        store: Arc<SqliteStore>,
        dir: tempfile::TempDir,
    }

    fn setup() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(&dir.path().join("app.db")).unwrap());
        let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
        let flaky = Arc::new(Flaky::default());
        let world =
            World::new(&Stores::single(store.clone()), flaky.clone(), clock.clone(), "support@example.com");
        Setup { world, flaky, clock, store, dir }
    }

    async fn ticket_while_mail_is_down(w: &Setup) -> String {
        let (token, conversation) = w.world.user_with_conversation("down@example.com", "help").await;
        let r = w
            .world
            .escalation
            .handle(post("/api/escalations", Some(&token), json!({"conversation_id": conversation})))
            .await;
        assert_eq!(r.status(), 201, "the ticket exists although no mail went out");
        let ticket = body(&r)["ticket"].clone();
        assert_eq!(ticket["mail"], json!({"support": "queued", "user": "queued"}));
        ticket["id"].as_str().unwrap().to_owned()
    }

    #[tokio::test]
    async fn a_mail_that_fails_is_queued_then_delivered_by_the_retry_worker() {
        let w = setup();
        let id = ticket_while_mail_is_down(&w).await;
        let mail = w.store.mail(&id, "support").await.unwrap().unwrap();
        assert_eq!((mail.status, mail.attempts), (MailStatus::Queued, 1));
        assert_eq!(mail.last_error.as_deref(), Some("mail service down"));

        // Not due yet: the worker leaves it alone.
        assert_eq!(w.world.retry.handle(Value::Null).await.unwrap().due, 0);
        w.flaky.working.store(true, Ordering::SeqCst);
        w.clock.advance(Duration::seconds(61));
        let run = w.world.retry.handle(Value::Null).await.unwrap();
        assert_eq!((run.due, run.sent), (2, 2));
        let ticket = w.store.get(&id).await.unwrap().unwrap();
        assert_eq!((ticket.mail_support, ticket.mail_user), (MailStatus::Sent, MailStatus::Sent));
        assert_eq!(w.flaky.sent.lock().unwrap().len(), 2, "each mail sent once");
        assert_eq!(w.world.retry.handle(Value::Null).await.unwrap().due, 0, "nothing left");
    }

    #[tokio::test]
    async fn a_mail_that_keeps_failing_is_marked_failed_after_the_last_attempt() {
        let w = setup();
        let id = ticket_while_mail_is_down(&w).await;
        // Attempt 1 was at escalation; backoff 60 s, then 120 s; 3 attempts in all.
        w.clock.advance(Duration::seconds(61));
        assert_eq!(w.world.retry.handle(Value::Null).await.unwrap().requeued, 2);
        w.clock.advance(Duration::seconds(61));
        assert_eq!(w.world.retry.handle(Value::Null).await.unwrap().due, 0, "backoff doubled");
        w.clock.advance(Duration::seconds(61));
        let run = w.world.retry.handle(Value::Null).await.unwrap();
        assert_eq!(run.failed, 2, "{run:?}");
        let ticket = w.store.get(&id).await.unwrap().unwrap();
        assert_eq!((ticket.mail_support, ticket.mail_user), (MailStatus::Failed, MailStatus::Failed));
        let mail = w.store.mail(&id, "user").await.unwrap().unwrap();
        assert_eq!(mail.attempts, 3);
        assert!(mail.last_error.is_some(), "the error is kept");
        w.clock.advance(Duration::hours(2));
        assert_eq!(w.world.retry.handle(Value::Null).await.unwrap().due, 0, "failed mails are not retried");
    }

    #[tokio::test]
    async fn a_reset_mail_that_fails_is_a_503_and_leaves_no_usable_token() {
        let w = setup();
        w.world.user_with_conversation("reset@example.com", "help").await;
        let forgot = || post("/api/auth/password/forgot", None, json!({"email": "reset@example.com"}));
        let r = w.world.login.handle(forgot()).await;
        assert_eq!(r.status(), 503, "the failure is reported, not swallowed");
        assert!(r.headers().contains_key("retry-after"));
        let live: i64 = rusqlite::Connection::open(w.dir.path().join("app.db"))
            .unwrap()
            .query_row(
                "SELECT count(*) FROM users WHERE reset_digest != '' AND reset_expires_at > unixepoch()",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(live, 0, "the token nobody received is withdrawn");

        w.flaky.working.store(true, Ordering::SeqCst);
        assert_eq!(w.world.login.handle(forgot()).await.status(), 202, "asking again works");
        assert_eq!(w.flaky.sent.lock().unwrap().len(), 1);
    }
}

#[tokio::test]
async fn twenty_concurrent_escalations_on_dynamodb_get_twenty_numbers() {
    use e2e::world::{World, body, post};
    use shared::http::HttpFunction;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(e2e::moto::fresh_store().await);
    let world = Arc::new(World::new(
        &shared::ports::Stores::single(store),
        Arc::new(shared::adapters::outbox::Outbox::new(dir.path())),
        Arc::new(shared::SystemClock),
        "support@example.com",
    ));
    let mut users = Vec::new();
    for i in 0..20 {
        users.push(world.user_with_conversation(&format!("ddb{i}@example.com"), "Please help").await);
    }
    let escalations = users.into_iter().map(|(token, conversation)| {
        let world = Arc::clone(&world);
        tokio::spawn(async move {
            let r = world
                .escalation
                .handle(post("/api/escalations", Some(&token), json!({"conversation_id": conversation})))
                .await;
            assert_eq!(r.status(), 201);
            body(&r)["ticket"]["number"].as_str().unwrap().to_owned()
        })
    });
    let mut numbers: Vec<String> =
        futures::future::join_all(escalations).await.into_iter().map(Result::unwrap).collect();
    numbers.sort();
    numbers.dedup();
    assert_eq!(numbers.len(), 20, "{numbers:?}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 40, "two mails per ticket");
}

/// The ticket mails that mention `needle` (decoded), as they are sent; waits for the retry
/// worker (every second in these tests) up to ten seconds.
async fn mail_with(gw: &TestGateway, needle: &str) -> e2e::gateway::SentMail {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if let Some(found) =
            gw.ticket_mails().await.into_iter().find(|m| e2e::decoded(&m.raw).contains(needle))
        {
            return found;
        }
        assert!(std::time::Instant::now() < deadline, "no mail with {needle:?}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// The next frame of this `type` on the socket.
async fn next_event(socket: &mut e2e::gateway::Socket, kind: &str) -> Value {
    loop {
        let text = e2e::gateway::next_text(socket).await.unwrap_or_else(|| panic!("no {kind}"));
        let frame: Value = serde_json::from_str(&text).unwrap();
        if frame["type"] == kind {
            return frame;
        }
    }
}

#[tokio::test]
async fn while_a_person_handles_it_the_assistant_is_quiet_and_the_user_writes_to_support() {
    let gw = TestGateway::start_with(&[("MAIL_RETRY_INTERVAL_SECONDS", "1")]).await;
    let ada = gw.register_verified("handoff@example.com").await;
    let conversation = gw.start_conversation(&ada, "My card was charged twice this month").await;
    let created: Value =
        gw.escalate(&ada, &json!({"conversation_id": conversation}), None).await.json().await.unwrap();
    let (id, number) =
        (created["ticket"]["id"].as_str().unwrap(), created["ticket"]["number"].as_str().unwrap());
    let mut socket = gw.connect_ticket(&gw.mint(&ada).await).await.unwrap();

    // A message now goes to support, not to the assistant.
    let said = "Any news?\nThe second charge is still there";
    let body = json!({"conversation_id": conversation, "content": said});
    let response = gw.post_as(&ada, "/api/chat/messages", &body).await;
    assert_eq!(response.status(), 201);
    let posted: Value = response.json().await.unwrap();
    assert_eq!(posted["reply"], Value::Null, "{posted}");
    assert_eq!(posted["forwarded_to"], "support");
    assert_eq!(posted["ticket"]["status"], "waiting_on_support");
    assert_eq!(posted["message"]["content"], said);
    let page: Value = gw.get_json(&ada, &format!("/api/chat/messages?conversation_id={conversation}")).await;
    let roles: Vec<&str> =
        page["messages"].as_array().unwrap().iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["user", "assistant", "user"], "stored, and no assistant reply");
    let updated = next_event(&mut socket, "ticket.updated").await;
    assert_eq!(
        (updated["ticket"]["id"].as_str(), updated["ticket"]["status"].as_str()),
        (Some(id), Some("waiting_on_support"))
    );
    assert!(updated["seq"].as_u64().is_some(), "a durable event");

    // The retry worker sends it to support, in the ticket's thread.
    let forwarded = mail_with(&gw, "The second charge is still there").await;
    assert_eq!(forwarded.to, "support@localhost");
    let head = headers(&forwarded.raw);
    assert!(head.iter().any(|h| h.starts_with("Subject: Re: [") && h.contains(number)), "{head:?}");
    if let Mode::Sqlite = gw.mode {
        // SES replaces Message-IDs; the outbox keeps ours, so the thread is visible here.
        assert!(
            head.iter().any(|h| h == &format!("In-Reply-To: <{id}.support@support-backend>")),
            "{head:?}"
        );
    }

    // Rating waits for resolution; resolving twice is resolving once.
    let rate = |score: &str| json!({"score": score, "comment": "Quick and kind"});
    let early = gw.post_as(&ada, &format!("/api/escalations/{id}/rating"), &rate("good")).await;
    assert_eq!(early.status(), 409);
    assert_eq!(early.json::<Value>().await.unwrap()["code"], "ticket_not_resolved");
    for _ in 0..2 {
        let resolved = gw.post_as(&ada, &format!("/api/escalations/{id}/resolve"), &json!({})).await;
        assert_eq!(resolved.status(), 200);
        let resolved: Value = resolved.json().await.unwrap();
        assert_eq!(resolved["ticket"]["status"], "resolved");
        assert!(resolved["ticket"]["resolved_at"].as_str().is_some());
    }
    mail_with(&gw, "marked ticket").await;
    let bad = gw.post_as(&ada, &format!("/api/escalations/{id}/rating"), &rate("meh")).await;
    assert_eq!(bad.status(), 400);
    let rated = gw.post_as(&ada, &format!("/api/escalations/{id}/rating"), &rate("good")).await;
    assert_eq!(rated.status(), 200);
    let rated: Value = rated.json().await.unwrap();
    assert_eq!(rated["ticket"]["rating"]["score"], "good");
    assert_eq!(rated["ticket"]["rating"]["comment"], "Quick and kind");
    let again = gw.post_as(&ada, &format!("/api/escalations/{id}/rating"), &rate("bad")).await;
    assert_eq!(again.status(), 409);
    assert_eq!(again.json::<Value>().await.unwrap()["code"], "already_rated");
    mail_with(&gw, "Quick and kind").await;

    // Writing within the week reopens it.
    let body = json!({"conversation_id": conversation, "content": "Sorry, it came back"});
    let reopened: Value = gw.post_as(&ada, "/api/chat/messages", &body).await.json().await.unwrap();
    assert_eq!(reopened["forwarded_to"], "support");
    assert_eq!(reopened["ticket"]["status"], "waiting_on_support");
    assert_eq!(reopened["ticket"]["resolved_at"], Value::Null);
    assert_eq!(reopened["ticket"]["rating"]["score"], "good", "the rating stays");

    // Nobody else can move it.
    let bob = gw.register_verified("handoff-other@example.com").await;
    let foreign = gw.post_as(&bob, &format!("/api/escalations/{id}/resolve"), &json!({})).await;
    assert_eq!(foreign.status(), 404);
}

#[tokio::test]
async fn a_resolved_ticket_closes_after_a_week_and_the_assistant_answers_again() {
    let gw = TestGateway::start().await;
    let ada = gw.register_verified("closing@example.com").await;
    let conversation = gw.start_conversation(&ada, "How do I export my invoices?").await;
    let created: Value =
        gw.escalate(&ada, &json!({"conversation_id": conversation}), None).await.json().await.unwrap();
    let id = created["ticket"]["id"].as_str().unwrap();
    assert_eq!(gw.post_as(&ada, &format!("/api/escalations/{id}/resolve"), &json!({})).await.status(), 200);

    // The scheduled worker, its clock a week and a minute on.
    let clock = Arc::new(shared::clock::ManualClock::new(chrono::Utc::now()));
    let settings = |var: &str| match var {
        "MAIL_FROM" => Some("support@localhost".to_owned()),
        "SUPPORT_EMAIL" => Some("support@localhost".to_owned()),
        _ => None,
    };
    let outbox = Arc::new(shared::adapters::outbox::Outbox::new(gw.data_dir().join("later")));
    let worker =
        mail_retry::MailRetry::build(&e2e::wiring(settings, gw.stores(), outbox.clone(), clock.clone()))
            .unwrap();
    assert_eq!(worker.handle(json!({})).await.unwrap().closed, 0, "not within the week");
    clock.advance(chrono::Duration::days(7) + chrono::Duration::minutes(1));
    assert_eq!(worker.handle(json!({})).await.unwrap().closed, 1);
    assert_eq!(worker.handle(json!({})).await.unwrap().closed, 0, "closed once");

    let ticket: Value = gw.get_json(&ada, &format!("/api/escalations/{id}")).await;
    assert_eq!(ticket["ticket"]["status"], "closed");
    let resolve = gw.post_as(&ada, &format!("/api/escalations/{id}/resolve"), &json!({})).await;
    assert_eq!(resolve.status(), 409);
    assert_eq!(resolve.json::<Value>().await.unwrap()["code"], "ticket_closed");
    let conversations: Value = gw.get_json(&ada, "/api/chat/conversations").await;
    assert_eq!(conversations["conversations"][0]["open_ticket"], Value::Null, "the conversation is free");
    let body = json!({"conversation_id": conversation, "content": "How do I export invoices as PDF?"});
    let answered: Value = gw.post_as(&ada, "/api/chat/messages", &body).await.json().await.unwrap();
    assert_eq!(answered["reply"]["role"], "assistant", "{answered}");
    let second = gw.escalate(&ada, &json!({"conversation_id": conversation}), None).await;
    assert_eq!(second.status(), 201, "a new ticket for the same conversation");
}
