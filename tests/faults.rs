//! Fault injection: the gateway on the AWS adapters with the production SDK settings (2 s per
//! attempt, 5 s per operation, 3 attempts), its DynamoDB calls going through a proxy that fails
//! chosen operations on chosen tables (`e2e::faults`). Each case starts from a real signed-in
//! user, fails one dependency, and checks the answer (503, `Retry-After`, problem+json) and that
//! the store is exactly as before the request; then heals the store and shows the same request
//! succeeding, so nothing (a ticket, a quota slot, a ticket number) was consumed by the failure.
//! A failing mail transport and a failing push are in `escalation.rs` and `chat.rs`.

use std::collections::BTreeMap;

use e2e::faults::{Fault, FaultProxy, WRITES};
use e2e::gateway::{Mode, TestGateway};
use serde_json::{Value, json};
use shared::config::Tables;

/// Every item of every table, attributes in a fixed order, sorted: equal snapshots mean the
/// store did not change.
async fn snapshot(gw: &TestGateway) -> Vec<String> {
    let Mode::Aws { tables, .. } = &gw.mode else { panic!("fault tests run on the AWS adapters") };
    let client = e2e::moto::client();
    let mut rows = Vec::new();
    for spec in shared::adapters::dynamodb::schema::specs(tables) {
        let items = client.scan().table_name(spec.name).consistent_read(true).send().await.expect("scan");
        for item in items.items() {
            let sorted: BTreeMap<_, _> = item.iter().map(|(k, v)| (k.clone(), format!("{v:?}"))).collect();
            rows.push(format!("{}: {sorted:?}", spec.name));
        }
    }
    rows.sort();
    rows
}

fn tables(gw: &TestGateway) -> Tables {
    match &gw.mode {
        Mode::Aws { tables, .. } => (**tables).clone(),
        Mode::Sqlite => panic!("fault tests run on the AWS adapters"),
    }
}

/// The answer a client gets when a dependency fails: 503, a `Retry-After`, problem+json.
async fn assert_unavailable(response: reqwest::Response) {
    assert_eq!(response.status(), 503);
    let retry: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry >= 1, "{retry}");
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], 503);
    assert_eq!(body["code"], "unavailable");
}

async fn start(settings: &[(&str, &str)]) -> (FaultProxy, TestGateway) {
    let proxy = FaultProxy::start().await;
    let gw = TestGateway::start_behind(&proxy.url, settings).await;
    (proxy, gw)
}

#[tokio::test]
async fn a_throttled_mint_spends_no_quota_and_stores_no_ticket() {
    // One ticket a minute: if the failed mint had used the slot, the healed one would get 429.
    let (proxy, gw) = start(&[("WS_TICKETS_PER_MINUTE", "1")]).await;
    let ada = gw.register("mint-fault@example.com").await;
    let before = snapshot(&gw).await;

    proxy.fail(WRITES, &tables(&gw).ws_tickets, Fault::Throttled);
    assert_unavailable(gw.mint_response(&ada).await).await;
    assert_eq!(proxy.faulted(), ["TransactWriteItems"; 3], "the SDK retried, then gave up");
    // Every attempt carried the same idempotency token, so a retry of a transaction that did
    // succeed (its answer lost) cannot fail on its own conditions in DynamoDB.
    let tokens = proxy.faulted_tokens();
    assert!(tokens[0].as_deref().is_some_and(|t| !t.is_empty()), "{tokens:?}");
    assert!(tokens.iter().all(|t| *t == tokens[0]), "{tokens:?}");
    assert_unavailable(gw.mint_response(&ada).await).await;
    assert_ne!(proxy.faulted_tokens()[3], tokens[0], "a new request, a new token");
    assert_eq!(snapshot(&gw).await, before, "no ticket, no quota counted");

    proxy.heal();
    let ticket = gw.mint(&ada).await;
    assert!(gw.connect_ticket(&ticket).await.is_ok());
}

#[tokio::test]
async fn a_failed_escalation_consumes_no_ticket_number() {
    let (proxy, gw) = start(&[]).await;
    let ada = gw.register_verified("escalate-fault@example.com").await;
    let conversation = gw.start_conversation(&ada, "My invoice is wrong").await;
    let body = json!({"conversation_id": conversation, "subject": "Wrong invoice"});
    let escalate = || gw.escalate(&ada, &body, Some("fault-1"));
    let before = snapshot(&gw).await;

    proxy.fail(WRITES, &tables(&gw).support_tickets, Fault::Unavailable);
    assert_unavailable(escalate().await).await;
    assert_eq!(snapshot(&gw).await, before, "no ticket, no number, no mail, no key");
    assert!(gw.ticket_mails().await.is_empty(), "no mail about a ticket that does not exist");

    proxy.heal();
    let created = escalate().await;
    assert_eq!(created.status(), 201);
    let ticket: Value = created.json().await.unwrap();
    let number = ticket["ticket"]["number"].as_str().unwrap();
    assert!(number.ends_with("-0001"), "the failed attempt used no number: {number}");
    let list: Value = gw.get_json(&ada, "/api/escalations").await;
    assert_eq!(list["tickets"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_timed_out_chat_message_leaves_no_half_conversation() {
    let (proxy, gw) = start(&[]).await;
    let ada = gw.register("chat-fault@example.com").await;
    let before = snapshot(&gw).await;

    proxy.fail(WRITES, &tables(&gw).conversations, Fault::Timeout);
    let started = std::time::Instant::now();
    let question = json!({"content": "How do I reset my password?"});
    assert_unavailable(gw.post_as(&ada, "/api/chat/messages", &question).await).await;
    eprintln!("gave up after {:?}", started.elapsed());
    assert_eq!(snapshot(&gw).await, before, "no conversation, no question without its answer");

    proxy.heal();
    let answered = gw.post_as(&ada, "/api/chat/messages", &question).await;
    assert_eq!(answered.status(), 201);
}

#[tokio::test]
async fn a_failed_connection_write_does_not_spend_the_ticket() {
    let (proxy, gw) = start(&[]).await;
    let ada = gw.register("connect-fault@example.com").await;
    let ticket = gw.mint(&ada).await;
    let before = snapshot(&gw).await;

    proxy.fail(WRITES, &tables(&gw).connections, Fault::Unavailable);
    assert_eq!(gw.connect_ticket(&ticket).await.err(), Some(503));
    assert_eq!(snapshot(&gw).await, before, "no connection stored and the ticket still there");

    proxy.heal();
    let mut socket = gw.connect_ticket(&ticket).await.expect("the same ticket works once healed");
    use futures::SinkExt;
    socket.send(tokio_tungstenite::tungstenite::Message::Text(r#"{"action":"ping"}"#.into())).await.unwrap();
    assert_eq!(e2e::gateway::next_text(&mut socket).await.as_deref(), Some(r#"{"type":"pong"}"#));
    assert_eq!(gw.connect_ticket(&ticket).await.err(), Some(401), "and then it is spent");
}

#[tokio::test]
async fn a_failed_session_write_at_login_creates_nothing() {
    let (proxy, gw) = start(&[]).await;
    gw.register("login-fault@example.com").await;
    let credentials = json!({"email": "login-fault@example.com", "password": e2e::gateway::PASSWORD});
    let login = || gw.post_json("/api/auth/login", &credentials);
    // The request is counted against its source address before any work, as every limit is;
    // apart from that counter nothing may change.
    let unchanged = |rows: Vec<String>| -> Vec<String> {
        let address = shared::auth::limits::counter_key("login-addr", "127.0.0.1");
        rows.into_iter().filter(|r| !r.contains(&address)).collect()
    };
    let before = unchanged(snapshot(&gw).await);

    proxy.fail(WRITES, &tables(&gw).sessions, Fault::Throttled);
    let refused = login().await;
    assert!(refused.headers().get("set-cookie").is_none(), "no cookie for a session that does not exist");
    assert_unavailable(refused).await;
    assert_eq!(unchanged(snapshot(&gw).await), before, "no session, and no failed attempt counted");

    proxy.heal();
    assert_eq!(login().await.status(), 200);
}
