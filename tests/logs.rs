//! Secrets never reach the logs: run every auth flow through the gateway with logs captured,
//! including WebSocket tickets and connects, then scan them for passwords, tokens, cookies and
//! tickets. Also checks each line is JSON with a request id.

use e2e::gateway::{PASSWORD, TestGateway};
use serde_json::{Value, json};

#[tokio::test]
async fn no_secret_is_ever_logged() {
    let capture = e2e::Capture::install();

    let gw = TestGateway::start().await;
    let account = gw.register_verified("logs@example.com").await;
    let again = gw.login("logs@example.com").await;
    gw.post_json("/api/auth/login", &json!({"email": "logs@example.com", "password": "a wrong password"}))
        .await;
    gw.me(&format!("Bearer {}", account.access_token)).await;
    gw.me(&format!("Bearer {}x", account.access_token)).await;
    let refreshed: Value = gw.post_cookie("/api/auth/refresh", &again.cookie).await.json().await.unwrap();
    let ticket = gw.mint(&again).await;
    let mut socket = gw.connect_ticket(&ticket).await.expect("ticket connects");
    futures::SinkExt::send(
        &mut socket,
        tokio_tungstenite::tungstenite::Message::Text("{\"action\":\"ping\"}".into()),
    )
    .await
    .unwrap();
    futures::StreamExt::next(&mut socket).await.unwrap().unwrap();
    // A connection id is enough to push to a socket through the local `@connections`.
    let user = shared::domain::UserId::from_trusted(account.user_id.clone());
    let connection_ids: Vec<String> = gw
        .stores()
        .connections
        .for_user(&user, chrono::Utc::now())
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert!(!connection_ids.is_empty());
    assert_eq!(gw.connect_ticket(&ticket).await.err(), Some(401));
    // A path far over the limit is answered 414 and logged cut short.
    let long_path = format!("/api/auth/{}", "p".repeat(3000));
    assert_eq!(gw.http.get(gw.at(&long_path)).send().await.unwrap().status(), 414);
    let bearer = format!("Bearer {}", again.access_token);
    drop(gw.connect("", &[("authorization", &bearer)]).await.expect("bearer connects"));
    gw.post_cookie("/api/auth/logout", &again.cookie).await;
    // A 401 that the handler returns as its response (it clears the cookie) is logged with its code.
    let stale = gw.post_cookie("/api/auth/refresh", &again.cookie).await;
    assert_eq!(stale.status(), 401);

    // The account lifecycle: a reset by mail (used twice), a change, a deletion.
    gw.post_json("/api/auth/password/forgot", &json!({"email": "logs@example.com"})).await;
    let mail =
        gw.mails().await.into_iter().find(|m| m.raw.contains("Reset your password")).expect("reset mail");
    let reset_token = e2e::reset_token(&mail.raw);
    for _ in 0..2 {
        gw.post_json(
            "/api/auth/password/reset",
            &json!({"token": reset_token, "new_password": "a reset password"}),
        )
        .await;
    }
    let reset = gw
        .post_json("/api/auth/login", &json!({"email": "logs@example.com", "password": "a reset password"}))
        .await;
    let after_reset: Value = reset.json().await.unwrap();
    let after_reset = after_reset["access_token"].as_str().unwrap().to_owned();
    // Chat and escalation, with their live events and mails.
    let minted: Value = gw
        .http
        .post(gw.at("/api/websocket/ticket"))
        .bearer_auth(&after_reset)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let live_ticket = minted["ticket"].as_str().unwrap().to_owned();
    let mut live = gw.connect_ticket(&live_ticket).await.expect("connects");
    let chat = gw
        .http
        .post(gw.at("/api/chat/messages"))
        .bearer_auth(&after_reset)
        .json(&json!({"content": "I was charged twice"}))
        .send()
        .await
        .unwrap();
    assert_eq!(chat.status(), 201);
    let chat: Value = chat.json().await.unwrap();
    let escalated = gw
        .http
        .post(gw.at("/api/escalations"))
        .bearer_auth(&after_reset)
        .json(&json!({"conversation_id": chat["conversation_id"], "subject": "Charged twice"}))
        .send()
        .await
        .unwrap();
    assert_eq!(escalated.status(), 201);
    while e2e::gateway::next_text(&mut live).await.is_some_and(|f| !f.contains("ticket.created")) {}
    let change = json!({"current_password": "a reset password", "new_password": "a changed password"});
    let changed =
        gw.http.post(gw.at("/api/auth/password/change")).bearer_auth(&after_reset).json(&change).send().await;
    assert_eq!(changed.unwrap().status(), 204);
    let deleted = gw
        .http
        .delete(gw.at("/api/auth/account"))
        .bearer_auth(&after_reset)
        .json(&json!({"password": "a changed password"}))
        .send()
        .await;
    assert_eq!(deleted.unwrap().status(), 204);

    let logs = capture.text();
    let session_value = |c: &str| c.split_once('=').unwrap().1.to_owned();
    // A mailed token is `<user id>.<secret>`: the user id is logged on purpose, the secret never.
    let mailed_secret = |t: &str| t.split_once('.').unwrap().1.to_owned();
    let verify_token = gw.mailed_token("logs@example.com", "verify-email").await;
    let secrets = [
        PASSWORD.to_owned(),
        "a wrong password".to_owned(),
        account.access_token.clone(),
        again.access_token.clone(),
        refreshed["access_token"].as_str().unwrap().to_owned(),
        session_value(&account.cookie),
        session_value(&again.cookie),
        ticket.clone(),
        mailed_secret(&reset_token),
        mailed_secret(&verify_token),
        "a reset password".to_owned(),
        "a changed password".to_owned(),
        after_reset.clone(),
        live_ticket.clone(),
    ];
    for secret in &secrets {
        assert!(!logs.contains(secret.as_str()), "a secret was logged");
        // Token parts (a signature alone is as sensitive as the token).
        for part in secret.split('.').filter(|p| p.len() > 20) {
            assert!(!logs.contains(part), "part of a secret was logged");
        }
    }
    assert!(!logs.to_ascii_lowercase().contains("bearer "), "an Authorization value was logged");
    for id in &connection_ids {
        assert!(!logs.contains(id.as_str()), "a connection id was logged");
    }
    assert!(!logs.contains(&"p".repeat(300)), "a long path was logged whole");
    assert!(logs.contains("request path too long"));

    let lines: Vec<Value> =
        logs.lines().map(|l| serde_json::from_str(l).expect("every line is JSON")).collect();
    let request_lines: Vec<&Value> =
        lines.iter().filter(|l| l["fields"]["message"] == "request done").collect();
    assert!(request_lines.len() >= 7, "one line per request: {}", request_lines.len());
    for line in &request_lines {
        // The fields the template's saved Logs Insights queries read.
        assert!(line["fields"]["micros"].is_u64(), "{line}");
        for field in ["request_id", "method", "path"] {
            assert!(line["span"][field].is_string(), "span.{field}: {line}");
        }
        if line["fields"]["status"].as_u64().is_some_and(|s| s >= 400) {
            assert!(
                line["fields"]["code"].as_str().is_some_and(|c| !c.is_empty()),
                "an error without its code: {line}"
            );
        }
    }
    assert!(
        request_lines.iter().any(|l| l["fields"]["code"] == "session_invalid"),
        "the stale refresh is logged as session_invalid"
    );
    // Every line the functions write, in any module, carries the request id of the API Gateway
    // request or WebSocket event it belongs to; only the gateway's own lines (start-up, the
    // schedule) and a function's start-up line (Lambda's init) stand outside a request. Metric
    // lines (EMF, `_aws`) are data points, not log lines: tests/metrics.rs checks them.
    for line in &lines {
        if line["target"].as_str().is_some_and(|t| t.starts_with("local_gateway"))
            || line["fields"]["message"] == "knowledge base indexed"
            || line.get("_aws").is_some()
        {
            continue;
        }
        assert!(line["span"]["request_id"].as_str().is_some_and(|id| !id.is_empty()), "{line}");
    }
}
