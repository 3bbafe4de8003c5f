//! One user's whole journey, through the gateway, in whichever mode `E2E_BACKEND` selects
//! (on AWS mode: DynamoDB and SES on moto, pushes and closes through the Management API):
//! sign in → chat → mint → connect → live events → escalate → mail sent → logout closes the socket.

use std::time::Duration;

use e2e::gateway::{Socket, TestGateway};
use futures::StreamExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

async fn next_event(socket: &mut Socket) -> Option<Value> {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), socket.next()).await.expect("a frame within 5 s") {
            Some(Ok(Message::Text(text))) => return Some(serde_json::from_str(&text).unwrap()),
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
            Some(Ok(_)) => {}
        }
    }
}

#[tokio::test]
async fn sign_in_chat_connect_escalate_and_sign_out() {
    let gw = TestGateway::start().await;
    gw.register_verified("journey@example.com").await;
    let me = gw.login("journey@example.com").await;
    let mut socket = gw.connect_ticket(&gw.mint(&me).await).await.expect("socket");

    let conversation = gw.start_conversation(&me, "I was charged twice on my invoice").await;
    assert_eq!(next_event(&mut socket).await.unwrap()["type"], "assistant.started");
    let completed = next_event(&mut socket).await.unwrap();
    assert_eq!(completed["type"], "assistant.completed");
    assert_eq!(completed["reply"]["sources"][0]["id"], "billing-and-invoices");

    let response =
        gw.escalate(&me, &json!({"conversation_id": conversation, "priority": "urgent"}), None).await;
    assert_eq!(response.status(), 201);
    let ticket = response.json::<Value>().await.unwrap()["ticket"].clone();
    assert_eq!(ticket["mail"], json!({"support": "sent", "user": "sent"}));
    let created = next_event(&mut socket).await.unwrap();
    assert_eq!(created["type"], "ticket.created");
    assert_eq!(created["ticket"]["number"], ticket["number"]);
    let mails = gw.ticket_mails().await;
    assert_eq!(mails.len(), 2, "support and user");
    let number = ticket["number"].as_str().unwrap();
    assert!(mails.iter().all(|m| m.raw.contains(number)));
    assert!(mails.iter().any(|m| m.to == "journey@example.com"));

    let out = gw.http.post(gw.at("/api/auth/logout")).bearer_auth(&me.access_token).send().await.unwrap();
    assert_eq!(out.status(), 204);
    assert_eq!(next_event(&mut socket).await.unwrap(), json!({"type": "session.revoked"}));
    assert_eq!(next_event(&mut socket).await, None, "the socket is closed");
    assert_eq!(gw.me(&format!("Bearer {}", me.access_token)).await.status(), 401);
}
