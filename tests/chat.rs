//! Chat through the local gateway: conversations, order and pagination, ownership, validation,
//! and the live `assistant.started` / `assistant.completed` events.

use std::time::Duration;

use e2e::gateway::{Account, Socket, TestGateway};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

async fn say(
    gw: &TestGateway,
    who: &Account,
    conversation: Option<&str>,
    content: &str,
) -> reqwest::Response {
    let mut body = json!({ "content": content });
    if let Some(id) = conversation {
        body["conversation_id"] = id.into();
    }
    gw.post_as(who, "/api/chat/messages", &body).await
}

async fn code(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    (status, body["code"].as_str().unwrap_or("").to_owned())
}

async fn next_text(socket: &mut Socket) -> Value {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), socket.next()).await.expect("a frame within 5 s") {
            Some(Ok(Message::Text(text))) => return serde_json::from_str(&text).unwrap(),
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => panic!("socket closed"),
            Some(Ok(_)) => {}
        }
    }
}

#[tokio::test]
async fn a_conversation_keeps_its_order_across_pages_and_belongs_to_its_owner() {
    let gw = TestGateway::start().await;
    let ada = gw.register("ada-chat@example.com").await;
    let eve = gw.register("eve-chat@example.com").await;

    let first = say(&gw, &ada, None, "  How do I reset my password?  ").await;
    assert_eq!(first.status(), 201);
    assert_eq!(first.headers()["cache-control"], "no-store");
    let first: Value = first.json().await.unwrap();
    let conversation = first["conversation_id"].as_str().unwrap().to_owned();
    assert_eq!(first["message"]["role"], "user");
    assert_eq!(first["message"]["content"], "How do I reset my password?", "trimmed");
    assert_eq!(first["reply"]["role"], "assistant");
    assert_eq!(first["reply"]["sources"][0]["id"], "resetting-password");
    assert_eq!(first["reply"]["suggest_escalation"], false);

    let questions = ["Where are my invoices?", "My live updates keep dropping", "Can I talk to a human?"];
    for q in questions {
        assert_eq!(say(&gw, &ada, Some(&conversation), q).await.status(), 201);
    }

    // 8 messages, read 3 at a time: 3 + 3 + 2, in order, user and assistant alternating.
    let mut contents = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut path = format!("/api/chat/messages?conversation_id={conversation}&limit=3");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let page: Value = gw.get_json(&ada, &path).await;
        pages += 1;
        for m in page["messages"].as_array().unwrap() {
            contents
                .push((m["role"].as_str().unwrap().to_owned(), m["content"].as_str().unwrap().to_owned()));
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(contents.len(), 8);
    let users: Vec<&str> = contents.iter().filter(|(r, _)| r == "user").map(|(_, c)| c.as_str()).collect();
    assert_eq!(users, ["How do I reset my password?", questions[0], questions[1], questions[2]]);
    assert!(
        contents
            .iter()
            .enumerate()
            .all(|(i, (role, _))| role == if i % 2 == 0 { "user" } else { "assistant" })
    );

    // Someone else gets 404 for reading it and for writing to it, exactly as for a missing one.
    let foreign_read = gw.get_as(&eve, &format!("/api/chat/messages?conversation_id={conversation}")).await;
    assert_eq!(code(foreign_read).await, (404, "not_found".to_owned()));
    assert_eq!(
        code(say(&gw, &eve, Some(&conversation), "let me in").await).await,
        (404, "not_found".to_owned())
    );
    let missing = gw.get_as(&ada, "/api/chat/messages?conversation_id=conv_doesnotexist").await;
    assert_eq!(code(missing).await, (404, "not_found".to_owned()));
    let list: Value = gw.get_json(&eve, "/api/chat/conversations").await;
    assert_eq!(list["conversations"], json!([]), "not listed for anyone else");
    let page: Value = gw.get_json(&ada, &format!("/api/chat/messages?conversation_id={conversation}")).await;
    assert_eq!(page["messages"].as_array().unwrap().len(), 8, "the refused write added nothing");
}

#[tokio::test]
async fn conversations_are_listed_newest_first_with_titles_from_the_first_message() {
    let gw = TestGateway::start().await;
    let ada = gw.register("list-chat@example.com").await;
    let mut ids = Vec::new();
    for topic in ["Billing question", "Cookies question", "Two-factor question"] {
        let r: Value = say(&gw, &ada, None, topic).await.json().await.unwrap();
        ids.push(r["conversation_id"].as_str().unwrap().to_owned());
        // Timestamps are whole seconds; ties are ordered by id, so the test only needs distinct ids.
    }
    let all: Value = gw.get_json(&ada, "/api/chat/conversations?limit=100").await;
    let listed: Vec<&str> =
        all["conversations"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(listed.len(), 3);
    let mut expected = ids.clone();
    expected.sort_by(|a, b| {
        let at = |id: &str| {
            all["conversations"].as_array().unwrap().iter().find(|c| c["id"] == id).unwrap()["updated_at"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        at(b).cmp(&at(a)).then(b.cmp(a))
    });
    assert_eq!(listed, expected);
    let titles: Vec<&str> =
        all["conversations"].as_array().unwrap().iter().map(|c| c["title"].as_str().unwrap()).collect();
    assert!(titles.contains(&"Billing question"));
    assert_eq!(all["conversations"][0]["open_ticket"], Value::Null);

    let first: Value = gw.get_json(&ada, "/api/chat/conversations?limit=2").await;
    let next = first["next_cursor"].as_str().unwrap();
    let rest: Value = gw.get_json(&ada, &format!("/api/chat/conversations?limit=2&cursor={next}")).await;
    let paged: Vec<&str> = first["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .chain(rest["conversations"].as_array().unwrap())
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(paged, listed);
    assert_eq!(rest["next_cursor"], Value::Null);
}

#[tokio::test]
async fn bad_input_is_a_400_and_writes_nothing() {
    let gw = TestGateway::start().await;
    let ada = gw.register("bad-chat@example.com").await;
    assert_eq!(code(say(&gw, &ada, None, "   ").await).await, (400, "validation_failed".to_owned()));
    assert_eq!(
        code(say(&gw, &ada, None, &"x".repeat(4001)).await).await,
        (400, "validation_failed".to_owned())
    );
    let wrong_type = gw.post_as(&ada, "/api/chat/messages", &json!({"content": 5})).await;
    assert_eq!(code(wrong_type).await, (400, "validation_failed".to_owned()));
    for query in [
        "",
        "?conversation_id=",
        "?conversation_id=conv_x&limit=0",
        "?conversation_id=conv_x&limit=abc",
        "?conversation_id=conv_x&cursor=nope",
    ] {
        let r = gw.get_as(&ada, &format!("/api/chat/messages{query}")).await;
        assert_eq!(code(r).await, (400, "validation_failed".to_owned()), "{query}");
    }
    assert_eq!(
        code(gw.get_as(&ada, "/api/chat/conversations?cursor=nope").await).await,
        (400, "validation_failed".to_owned())
    );
    let list: Value = gw.get_json(&ada, "/api/chat/conversations").await;
    assert_eq!(list["conversations"], json!([]), "no conversation was created");
    assert!(say(&gw, &ada, None, &"x".repeat(4000)).await.status() == 201, "4000 characters are fine");

    let anonymous =
        gw.http.post(gw.at("/api/chat/messages")).json(&json!({"content": "hi"})).send().await.unwrap();
    assert_eq!(code(anonymous).await, (401, "unauthenticated".to_owned()));
    let wrong_method =
        gw.http.delete(gw.at("/api/chat/messages")).bearer_auth(&ada.access_token).send().await.unwrap();
    assert_eq!(wrong_method.status(), 405);
}

#[tokio::test]
async fn the_owners_sockets_hear_started_then_completed_and_nobody_else_does() {
    let gw = TestGateway::start().await;
    let ada = gw.register("live-chat@example.com").await;
    let eve = gw.register("other-live@example.com").await;
    let mut ada_socket = gw.connect_ticket(&gw.mint(&ada).await).await.unwrap();
    let mut eve_socket = gw.connect_ticket(&gw.mint(&eve).await).await.unwrap();

    let r: Value = say(&gw, &ada, None, "My invoices are missing").await.json().await.unwrap();
    let conversation = r["conversation_id"].as_str().unwrap();
    let started = next_text(&mut ada_socket).await;
    assert_eq!(started, json!({"type": "assistant.started", "conversation_id": conversation}));
    let completed = next_text(&mut ada_socket).await;
    assert_eq!(completed["type"], "assistant.completed");
    assert_eq!(completed["conversation_id"], conversation);
    assert_eq!(completed["reply"], r["reply"], "the same reply as the HTTP response");

    // Eve's first frame is the answer to her own ping: nothing was pushed to her before it.
    eve_socket.send(Message::Text(r#"{"action":"ping"}"#.into())).await.unwrap();
    assert_eq!(next_text(&mut eve_socket).await, json!({"type": "pong"}));
}

#[tokio::test]
async fn a_failed_push_never_fails_the_message() {
    use shared::domain::ConnectionRecord;
    let gw = TestGateway::start().await;
    let ada = gw.register("gone-chat@example.com").await;
    let store = gw.stores().connections;
    let now = chrono::Utc::now();
    let stale = ConnectionRecord {
        id: "StaleChat0000A=".into(),
        user_id: shared::domain::UserId::from_trusted(ada.user_id.clone()),
        session_id: shared::domain::SessionId::from_trusted("f".repeat(64)),
        connected_at: now,
        expires_at: now + chrono::Duration::hours(1),
    };
    let plant = shared::ports::ConnectGate { ticket: None, quota: None, max_per_user: 100 };
    assert_eq!(store.open(&stale, &plant, now).await.unwrap(), shared::ports::Opened::Stored);
    assert_eq!(say(&gw, &ada, None, "hello there").await.status(), 201);
    let left = store.for_user(&stale.user_id, chrono::Utc::now()).await.unwrap();
    assert!(left.is_empty(), "the gone connection was forgotten");
}
