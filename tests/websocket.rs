//! WebSocket through the local gateway on loopback with real clients: ticket minting, the
//! `$connect` rules, ping/pong, logout closing a session's sockets, and gone connections.

use std::sync::Arc;
use std::time::Duration;

use e2e::gateway::{Account, Socket, TestGateway, next_text};
use e2e::tokens;
use futures::{SinkExt, StreamExt};
use serde_json::Value;
use shared::adapters::apigw::ApiGatewayPush;
use shared::domain::{ConnectionRecord, ServerEvent, SessionId, UserId};
use shared::ports::{ConnectGate, Connections, Opened, Push, Stores, UserStore};
use shared::services::{Delivery, Notifier};
use tokio_tungstenite::tungstenite::Message;

async fn ping(socket: &mut Socket) -> Option<String> {
    socket.send(Message::Text(r#"{"action":"ping"}"#.into())).await.ok()?;
    next_text(socket).await
}

const PONG: &str = r#"{"type":"pong"}"#;

#[tokio::test]
async fn minting_follows_the_contract() {
    let gw = TestGateway::start().await;
    let account = gw.register("mint@example.com").await;
    let response = gw.mint_response(&account).await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["ticket"].as_str().unwrap().len(), 43, "256 bits, base64url");
    assert_eq!(body["expires_in"], 300);
    assert_eq!(body["url"], gw.ws_url(""));
    assert!(body["expires_at"].as_str().unwrap().ends_with('Z'));

    let anonymous = gw.http.post(gw.at("/api/websocket/ticket")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let wrong_method = gw.get_as(&account, "/api/websocket/ticket").await;
    assert_eq!(wrong_method.status(), 405);
}

#[tokio::test]
async fn minting_is_rate_limited_per_user() {
    let gw = TestGateway::start_with(&[("WS_TICKETS_PER_MINUTE", "3")]).await;
    let busy = gw.register("busy@example.com").await;
    let calm = gw.register("calm@example.com").await;
    // Windows are clock minutes: allow for one boundary between the calls.
    let mut refused = None;
    for attempt in 1..=7 {
        let response = gw.mint_response(&busy).await;
        if response.status() == 429 {
            refused = Some((attempt, response));
            break;
        }
        assert_eq!(response.status(), 201);
    }
    let (attempt, response) = refused.expect("a 429 within 7 mints at 3 per minute");
    assert!(attempt >= 4, "the first 3 of a window are allowed");
    let retry_after: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited");
    assert_eq!(gw.mint_response(&calm).await.status(), 201, "other users are unaffected");
}

#[tokio::test]
async fn ping_pong_over_a_ticket_and_bad_frames_keep_the_socket() {
    let gw = TestGateway::start().await;
    let account = gw.register("ping@example.com").await;
    let ticket = gw.mint(&account).await;
    let mut socket = gw.connect_ticket(&ticket).await.expect("connects");
    assert_eq!(ping(&mut socket).await.as_deref(), Some(PONG));
    socket.send(Message::Text("not json".into())).await.unwrap();
    assert_eq!(next_text(&mut socket).await.as_deref(), Some(r#"{"type":"error","code":"bad_frame"}"#));
    socket.send(Message::Text(r#"{"action":"dance"}"#.into())).await.unwrap();
    assert_eq!(next_text(&mut socket).await.as_deref(), Some(r#"{"type":"error","code":"unknown_action"}"#));
    socket.send(Message::Binary(vec![1, 2, 3].into())).await.unwrap();
    assert_eq!(next_text(&mut socket).await.as_deref(), Some(r#"{"type":"error","code":"bad_frame"}"#));
    assert_eq!(ping(&mut socket).await.as_deref(), Some(PONG), "still open");
    assert_eq!(gw.gateway().sockets().len(), 1);

    // A clean close: the gateway answers our close frame before the connection ends.
    socket.close(None).await.unwrap();
    let answer = tokio::time::timeout(Duration::from_secs(5), socket.next()).await.expect("an answer");
    assert!(matches!(answer, Some(Ok(Message::Close(_)))), "{answer:?}");
    assert!(socket.next().await.is_none(), "then the connection ends");
}

#[tokio::test]
async fn a_ticket_works_once_only_while_its_session_lives() {
    let gw = TestGateway::start().await;
    let account = gw.register("once@example.com").await;
    let ticket = gw.mint(&account).await;
    let socket = gw.connect_ticket(&ticket).await.expect("first use connects");
    assert_eq!(gw.connect_ticket(&ticket).await.err(), Some(401), "reused");
    drop(socket);

    assert_eq!(gw.connect_ticket(&"A".repeat(43)).await.err(), Some(401), "bogus");
    assert_eq!(gw.connect_ticket("short").await.err(), Some(401), "malformed");
    assert_eq!(gw.connect("", &[]).await.err(), Some(401), "missing");
    assert_eq!(gw.connect("?ticket=", &[]).await.err(), Some(401), "empty");

    let other = gw.login("once@example.com").await;
    let orphan = gw.mint(&other).await;
    let out = gw.http.post(gw.at("/api/auth/logout")).bearer_auth(&other.access_token).send().await.unwrap();
    assert_eq!(out.status(), 204);
    assert_eq!(gw.connect_ticket(&orphan).await.err(), Some(401), "its session logged out after minting");

    let plain = gw.http.get(gw.at("/ws")).send().await.unwrap();
    assert_eq!(plain.status(), 400, "a plain GET is not an upgrade and spends nothing");
}

#[tokio::test]
async fn an_expired_ticket_is_refused_though_still_stored() {
    // Expiry is stored in whole seconds, so a ticket lives between TTL - 1 and TTL seconds: a TTL
    // of 2 leaves the fresh ticket below at least a second for its three store calls (on moto
    // too), where a TTL of 1 could leave it none.
    let gw = TestGateway::start_with(&[("WS_TICKET_TTL_SECONDS", "2")]).await;
    let account = gw.register("late@example.com").await;
    let ticket = gw.mint(&account).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(gw.connect_ticket(&ticket).await.err(), Some(401));
    let fresh = gw.mint(&account).await;
    assert!(gw.connect_ticket(&fresh).await.is_ok(), "a fresh ticket still works");
}

#[tokio::test]
async fn fifty_concurrent_connects_with_one_ticket_admit_exactly_one() {
    let gw = Arc::new(TestGateway::start().await);
    let account = gw.register("race@example.com").await;
    let ticket = gw.mint(&account).await;
    let attempts = (0..50).map(|_| {
        let (gw, ticket) = (Arc::clone(&gw), ticket.clone());
        tokio::spawn(async move { gw.connect_ticket(&ticket).await.map(|_| ()) })
    });
    let results: Vec<Result<(), u16>> =
        futures::future::join_all(attempts).await.into_iter().map(Result::unwrap).collect();
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
    assert!(results.iter().all(|r| matches!(r, Ok(()) | Err(401))));
}

#[tokio::test]
async fn a_foreign_origin_is_refused_before_the_ticket_is_spent() {
    let gw = TestGateway::start().await;
    let account = gw.register("origin@example.com").await;
    let ticket = gw.mint(&account).await;
    let foreign = gw.connect(&format!("?ticket={ticket}"), &[("origin", "https://evil.example")]).await;
    assert_eq!(foreign.err(), Some(403));
    let own = gw.url.clone();
    let mut socket =
        gw.connect(&format!("?ticket={ticket}"), &[("origin", &own)]).await.expect("allowed origin");
    assert_eq!(ping(&mut socket).await.as_deref(), Some(PONG));
}

#[tokio::test]
async fn bearer_connects_and_every_credential_gets_the_same_verdict_as_http() {
    let gw = TestGateway::start().await;
    let account = gw.register("verdict@example.com").await;
    let revoked = gw.login("verdict@example.com").await;
    gw.http.post(gw.at("/api/auth/logout")).bearer_auth(&revoked.access_token).send().await.unwrap();
    let pem = gw.signing_key_pem();
    let (header, claims) = tokens::parts(&account.access_token);
    let now = chrono::Utc::now().timestamp();
    let mut expired_claims = claims.clone();
    expired_claims["iat"] = (now - 1000).into();
    expired_claims["exp"] = (now - 100).into();
    let expired = tokens::sign_eddsa(&pem, header["kid"].as_str().unwrap(), &expired_claims);

    let credentials: Vec<(&str, Option<String>, u16)> = vec![
        ("valid", Some(account.access_token.clone()), 200),
        ("expired", Some(expired), 401),
        ("tampered", Some(tokens::tampered_signature(&account.access_token)), 401),
        ("forged (alg none)", Some(tokens::alg_none(&account.access_token)), 401),
        ("revoked", Some(revoked.access_token.clone()), 401),
        ("none", None, 401),
    ];
    for (name, token, expected) in credentials {
        let authorization = token.map(|t| format!("Bearer {t}"));
        let mut request = gw.http.get(gw.at("/api/auth/me"));
        if let Some(a) = &authorization {
            request = request.header("authorization", a);
        }
        let http_status = request.send().await.unwrap().status().as_u16();
        let headers: Vec<(&str, &str)> =
            authorization.iter().map(|a| ("authorization", a.as_str())).collect();
        let ws_status = match gw.connect("", &headers).await {
            Ok(mut socket) => {
                assert_eq!(ping(&mut socket).await.as_deref(), Some(PONG), "{name}");
                200
            }
            Err(status) => status,
        };
        assert_eq!((http_status, ws_status), (expected, expected), "{name}: HTTP and $connect agree");
    }
}

#[tokio::test]
async fn logout_closes_only_that_sessions_sockets() {
    let gw = TestGateway::start().await;
    let leaving = gw.register("leaving@example.com").await;
    let staying = gw.login("leaving@example.com").await;
    let mut a1 = gw.connect_ticket(&gw.mint(&leaving).await).await.unwrap();
    let mut a2 = gw.connect_ticket(&gw.mint(&leaving).await).await.unwrap();
    let mut b = gw.connect_ticket(&gw.mint(&staying).await).await.unwrap();
    assert_eq!(ping(&mut a1).await.as_deref(), Some(PONG));

    let started = std::time::Instant::now();
    let out =
        gw.http.post(gw.at("/api/auth/logout")).bearer_auth(&leaving.access_token).send().await.unwrap();
    assert_eq!(out.status(), 204);
    for socket in [&mut a1, &mut a2] {
        assert_eq!(next_text(socket).await.as_deref(), Some(r#"{"type":"session.revoked"}"#));
        assert_eq!(next_text(socket).await, None, "then the socket closes");
    }
    eprintln!("logout to both sockets closed: {:?}", started.elapsed());
    assert_eq!(ping(&mut b).await.as_deref(), Some(PONG), "the other session's socket stays open");
    assert_eq!(gw.gateway().sockets().len(), 1);
}

#[tokio::test]
async fn no_raw_ticket_is_stored() {
    let gw = TestGateway::start().await;
    let account = gw.register("hashes@example.com").await;
    let spent = gw.mint(&account).await;
    let _socket = gw.connect_ticket(&spent).await.unwrap();
    let unspent = gw.mint(&account).await;
    let stored = gw.stored_bytes().await;
    let contains = |needle: &[u8]| stored.windows(needle.len()).any(|w| w == needle);
    for ticket in [&spent, &unspent] {
        assert!(!contains(ticket.as_bytes()), "a raw ticket is in the store");
    }
    let digest = shared::auth::secret::Secret::parse(&unspent).unwrap().digest();
    assert!(contains(digest.as_bytes()), "the unspent ticket's hash is stored (the scan reads the store)");
}

/// A record for a socket that no longer exists, plus one live socket, for the same user.
async fn stale_and_live(gw: &TestGateway, account: &Account) -> (Arc<dyn Connections>, Socket) {
    let store = gw.stores().connections;
    let live = gw.connect_ticket(&gw.mint(account).await).await.unwrap();
    let now = chrono::Utc::now();
    let stale = ConnectionRecord {
        id: "StaleConn0000A=".into(),
        user_id: UserId::from_trusted(account.user_id.clone()),
        session_id: SessionId::from_trusted("f".repeat(64)),
        connected_at: now,
        expires_at: now + chrono::Duration::hours(2),
    };
    let plant = ConnectGate { ticket: None, quota: None, max_per_user: 100 };
    assert_eq!(store.open(&stale, &plant, now).await.unwrap(), Opened::Stored);
    (store, live)
}

async fn gone_is_forgotten(gw: &TestGateway, account: &Account, push: Arc<dyn Push>) {
    let (store, mut live) = stale_and_live(gw, account).await;
    let notifier = Notifier::new(&gw.stores(), push, Arc::new(shared::SystemClock));
    let user = UserId::from_trusted(account.user_id.clone());
    let delivery = notifier.to_user(&user, &ServerEvent::Pong).await;
    assert_eq!(delivery, Delivery { sent: 1, gone: 1, failed: 0 });
    assert_eq!(next_text(&mut live).await.as_deref(), Some(PONG), "the live socket got the event");
    let left: Vec<String> =
        store.for_user(&user, chrono::Utc::now()).await.unwrap().into_iter().map(|c| c.id).collect();
    assert_eq!(left.len(), 1, "only the gone connection was forgotten: {left:?}");
    assert_ne!(left[0], "StaleConn0000A=");
    assert_eq!(ping(&mut live).await.as_deref(), Some(PONG));
}

#[tokio::test]
async fn a_gone_connection_is_forgotten_not_the_live_one_local_push() {
    let gw = TestGateway::start().await;
    let account = gw.register("gone-local@example.com").await;
    let push = Arc::new(local_gateway::sockets::LocalPush(gw.gateway().sockets().clone()));
    gone_is_forgotten(&gw, &account, push).await;
}

#[tokio::test]
async fn a_gone_connection_is_forgotten_not_the_live_one_management_api() {
    // The real SDK client against the gateway's @connections endpoint: a 410 there must come
    // back as GoneException.
    let gw = TestGateway::start().await;
    let account = gw.register("gone-sdk@example.com").await;
    let config = aws_sdk_apigatewaymanagement::Config::builder()
        .behavior_version(aws_sdk_apigatewaymanagement::config::BehaviorVersion::latest())
        .endpoint_url(&gw.url)
        .region(aws_sdk_apigatewaymanagement::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_apigatewaymanagement::config::Credentials::new(
            "test", "test", None, None, "t",
        ))
        .build();
    let push = Arc::new(ApiGatewayPush::new(aws_sdk_apigatewaymanagement::Client::from_conf(config)));
    gone_is_forgotten(&gw, &account, push.clone()).await;
    assert_eq!(push.close("NoSuchConn0000=").await, Err(shared::ports::PushError::Gone));
}

#[tokio::test]
async fn fifty_concurrent_connects_on_dynamodb_admit_exactly_one() {
    use shared::auth::{SessionPolicy, SigningKey};
    use shared::config::HttpConfig;
    use shared::domain::UserRecord;
    use shared::services::{TicketMinter, TicketPolicy};

    let store = Arc::new(e2e::moto::fresh_store().await);
    let stores = Stores::single(store.clone());
    let clock: Arc<dyn shared::Clock> = Arc::new(shared::SystemClock);
    // A real account, session and ticket in DynamoDB, made by the real code.
    let profile = shared::domain::UserProfile {
        id: UserId::generate(),
        email: shared::domain::Email::parse("race-ddb@example.com").unwrap(),
        display_name: None,
        created_at: clock.now(),
        email_verified: false,
    };
    let (_, session) = SessionPolicy::default().start(profile.clone(), clock.now(), None);
    let user = UserRecord { profile, password_hash: "x".into(), verify_token: None, reset_token: None };
    store.create(&user, &session).await.unwrap();
    let (_, pem) = SigningKey::generate("k").unwrap();
    let settings = move |var: &str| match var {
        "AUTH_SIGNING_KEY" => Some(pem.clone()),
        "AUTH_SIGNING_KEY_ID" => Some("k".to_owned()),
        _ => None,
    };
    let http = HttpConfig::from_source(&settings, true).unwrap();
    let issuer = http.keys.issuer().await.unwrap();
    let token = issuer.issue(&session.user.id, &session.id, clock.now()).unwrap().token;
    let principal = shared::auth::Authenticator::new(http.keys.clone(), &stores, clock.clone())
        .authenticate(
            &[(http::header::AUTHORIZATION, format!("Bearer {token}").parse().unwrap())]
                .into_iter()
                .collect(),
        )
        .await
        .unwrap();
    let minted = TicketMinter::new(stores.ws_tickets.clone(), TicketPolicy::default(), clock.clone())
        .mint(&principal)
        .await
        .unwrap();

    let policy = shared::config::ConnectPolicy { max_per_user: 100, per_minute: 20 };
    let function = Arc::new(ws_connect::WsConnect::new(http, policy, &stores, clock));
    let attempts = (0..50).map(|i| {
        let function = Arc::clone(&function);
        let event = serde_json::json!({
            "queryStringParameters": { "ticket": minted.ticket.expose() },
            "requestContext": {
                "routeKey": "$connect", "eventType": "CONNECT", "connectionId": format!("conn{i:02}AAAAAAAA="),
                "requestId": format!("r{i}"), "connectedAt": 0, "requestTimeEpoch": 0, "apiId": "x", "stage": "t",
            },
            "isBase64Encoded": false,
        });
        tokio::spawn(async move { function.handle(serde_json::from_value(event).unwrap()).await.status_code })
    });
    let statuses: Vec<i64> =
        futures::future::join_all(attempts).await.into_iter().map(Result::unwrap).collect();
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 200 || *s == 401), "{statuses:?}");
    let stored = store.for_user(&session.user.id, chrono::Utc::now()).await.unwrap();
    assert_eq!(stored.len(), 1, "one connection stored");
}

/// The next frame of this `type`, skipping others (progress, pongs).
async fn next_of_type(socket: &mut Socket, kind: &str) -> Value {
    loop {
        let text = next_text(socket).await.unwrap_or_else(|| panic!("socket ended before {kind}"));
        let frame: Value = serde_json::from_str(&text).unwrap();
        if frame["type"] == kind {
            return frame;
        }
    }
}

#[tokio::test]
async fn events_missed_while_the_socket_was_down_are_fetched_in_order_after_reconnect() {
    let gw = TestGateway::start().await;
    let ada = gw.register_verified("catch-up@example.com").await;
    let start: Value = gw.get_json(&ada, "/api/events").await;
    assert_eq!((start["events"].as_array().unwrap().len(), &start["has_more"]), (0, &Value::Bool(false)));
    let baseline = start["last_seq"].as_u64().unwrap();

    // Live: a durable event carries the next seq; progress carries none.
    let mut socket = gw.connect_ticket(&gw.mint(&ada).await).await.unwrap();
    let conversation = gw.start_conversation(&ada, "How do I reset my password?").await;
    let started = next_of_type(&mut socket, "assistant.started").await;
    assert!(started.get("seq").is_none(), "progress is not numbered: {started}");
    let completed = next_of_type(&mut socket, "assistant.completed").await;
    let seen = completed["seq"].as_u64().unwrap();
    assert_eq!(seen, baseline + 1);

    // Down: a reply and a ticket happen while no socket is open.
    drop(socket);
    let follow_up = serde_json::json!({"conversation_id": conversation, "content": "It still fails"});
    assert_eq!(gw.post_as(&ada, "/api/chat/messages", &follow_up).await.status(), 201);
    let ticket: Value = gw
        .escalate(&ada, &serde_json::json!({"conversation_id": conversation}), None)
        .await
        .json()
        .await
        .unwrap();

    // Back: one page at a time, in order, each frame as it would have been pushed.
    let mut socket = gw.connect_ticket(&gw.mint(&ada).await).await.unwrap();
    let page: Value = gw.get_json(&ada, &format!("/api/events?after={seen}&limit=1")).await;
    assert_eq!(page["has_more"], true);
    let first = &page["events"][0];
    assert_eq!(
        (first["type"].as_str(), first["seq"].as_u64()),
        (Some("assistant.completed"), Some(seen + 1))
    );
    assert_eq!(first["reply"]["role"], "assistant");
    let rest: Value = gw.get_json(&ada, &format!("/api/events?after={}", page["last_seq"])).await;
    let types: Vec<&str> =
        rest["events"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types[0], "ticket.created", "{rest}");
    assert_eq!(rest["events"][0]["ticket"]["id"], ticket["ticket"]["id"]);
    assert_eq!(rest["events"][0]["seq"].as_u64(), Some(seen + 2));
    // The ticket's mails were sent after it was created: their status change follows.
    assert!(types[1..].iter().all(|t| *t == "ticket.mail"), "{types:?}");
    assert_eq!(rest["has_more"], false);
    let last = rest["last_seq"].as_u64().unwrap();
    let nothing: Value = gw.get_json(&ada, &format!("/api/events?after={last}")).await;
    assert_eq!((nothing["events"].as_array().unwrap().len(), nothing["last_seq"].as_u64()), (0, Some(last)));
    assert_eq!(ping(&mut socket).await.as_deref(), Some(PONG));

    // Someone else sees none of it; a malformed position is refused.
    let bob = gw.register("catch-up-other@example.com").await;
    let theirs: Value = gw.get_json(&bob, "/api/events?after=0").await;
    assert_eq!(theirs["events"], serde_json::json!([]));
    for bad in ["-1", "x", "1.5"] {
        let refused = gw.get_as(&ada, &format!("/api/events?after={bad}")).await;
        assert_eq!(refused.status(), 400, "after={bad}");
    }
    let anonymous = gw.http.get(gw.at("/api/events")).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
}
