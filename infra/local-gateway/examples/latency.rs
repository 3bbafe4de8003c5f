//! Latency of a running gateway as a client sees it over loopback: registers an account and
//! confirms its address with the mailed link (read from the gateway's outbox folder), then
//! times sequential logins, `GET /api/auth/me`, ticket mints, WebSocket connects (ticket to
//! completed handshake), ping/pong round trips and escalations (ticket, two outbox mails), and
//! prints p50/p99.
//!
//! Start the gateway with `WS_TICKETS_PER_MINUTE=1000000 MAX_SOCKETS_PER_USER=100` so minting
//! and connecting are not limited, then
//! `cargo run --release -p local-gateway --example latency -- http://127.0.0.1:3000 2000 DATA_DIR/outbox`

use std::time::{Duration, Instant};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort_unstable();
    println!(
        "{name:<6} n={:<5} p50={:>9.3?} p99={:>9.3?} max={:>9.3?}",
        samples.len(),
        percentile(&samples, 0.50),
        percentile(&samples, 0.99),
        samples[samples.len() - 1]
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let url = args.next().unwrap_or_else(|| "http://127.0.0.1:3000".into());
    let n: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(2000);
    let outbox = std::path::PathBuf::from(args.next().unwrap_or_else(|| "./.data/outbox".into()));
    let http = reqwest::Client::new();
    let email = format!("latency-{}@example.com", uuid::Uuid::new_v4().simple());
    let credentials = serde_json::json!({"email": email, "password": "correct horse battery staple"});
    let registered: serde_json::Value = http
        .post(format!("{url}/api/auth/register"))
        .json(&credentials)
        .send()
        .await
        .expect("gateway reachable")
        .json()
        .await
        .expect("register response");
    assert!(registered["access_token"].is_string(), "registered: {registered}");
    confirm_address(&http, &url, &outbox, &registered["user"]["id"]).await;

    // Each sign-in is a new session: the oldest end beyond the per-user cap, so the rest uses
    // the last one's token.
    let mut logins = Vec::new();
    let mut token = String::new();
    for _ in 0..20 {
        let started = Instant::now();
        let r = http.post(format!("{url}/api/auth/login")).json(&credentials).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let body: serde_json::Value = r.json().await.unwrap();
        logins.push(started.elapsed());
        token = body["access_token"].as_str().unwrap().to_owned();
    }
    let mut mes = Vec::with_capacity(n);
    for i in 0..n + 100 {
        let started = Instant::now();
        let r = http.get(format!("{url}/api/auth/me")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(r.status(), 200);
        r.bytes().await.unwrap();
        if i >= 100 {
            mes.push(started.elapsed()); // the first 100 warm the connection and caches
        }
    }
    let (mut mints, mut connects, mut pings) = (Vec::new(), Vec::new(), Vec::new());
    let ws_url = format!("{}/ws", url.replacen("http://", "ws://", 1));
    for _ in 0..200 {
        let started = Instant::now();
        let r = http.post(format!("{url}/api/websocket/ticket")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(r.status(), 201, "start the gateway with WS_TICKETS_PER_MINUTE=1000000");
        let body: serde_json::Value = r.json().await.unwrap();
        mints.push(started.elapsed());
        let ticket = body["ticket"].as_str().unwrap().to_owned();
        let started = Instant::now();
        let (socket, _) = tokio_tungstenite::connect_async(format!("{ws_url}?ticket={ticket}"))
            .await
            .expect("connected (start the gateway with MAX_SOCKETS_PER_USER=100)");
        connects.push(started.elapsed());
        drop(socket);
    }
    let (mut socket, _) = tokio_tungstenite::connect_async(format!("{ws_url}?ticket={}", {
        let r = http.post(format!("{url}/api/websocket/ticket")).bearer_auth(&token).send().await.unwrap();
        r.json::<serde_json::Value>().await.unwrap()["ticket"].as_str().unwrap().to_owned()
    }))
    .await
    .unwrap();
    use futures::{SinkExt, StreamExt};
    for _ in 0..1000 {
        let started = Instant::now();
        socket
            .send(tokio_tungstenite::tungstenite::Message::Text(r#"{"action":"ping"}"#.into()))
            .await
            .unwrap();
        socket.next().await.unwrap().unwrap();
        pings.push(started.elapsed());
    }
    let mut escalations = Vec::new();
    for _ in 0..50 {
        let r: serde_json::Value = http
            .post(format!("{url}/api/chat/messages"))
            .bearer_auth(&token)
            .json(&serde_json::json!({"content": "My invoice is wrong"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let conversation = r["conversation_id"].as_str().unwrap().to_owned();
        let started = Instant::now();
        let r = http
            .post(format!("{url}/api/escalations"))
            .bearer_auth(&token)
            .json(&serde_json::json!({"conversation_id": conversation}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        r.bytes().await.unwrap();
        escalations.push(started.elapsed());
    }
    report("login", logins);
    report("me", mes);
    report("mint", mints);
    report("connect", connects);
    report("ping", pings);
    report("escalate", escalations);
}

/// Opens the verification link the gateway wrote to `outbox` for `user` (escalation needs a
/// confirmed address).
async fn confirm_address(
    http: &reqwest::Client,
    url: &str,
    outbox: &std::path::Path,
    user: &serde_json::Value,
) {
    let user = user.as_str().expect("user id");
    let marker = format!("/verify-email?token={user}.");
    let mail = std::fs::read_dir(outbox)
        .unwrap_or_else(|e| panic!("the gateway's outbox {}: {e}", outbox.display()))
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
        .map(|raw| raw.replace("=\r\n", "").replace("=\n", "").replace("=3D", "="))
        .find(|text| text.contains(&marker))
        .expect("the verification mail");
    let after = mail.split("?token=").nth(1).expect("a link");
    let token: String =
        after.chars().take_while(|c| c.is_ascii_alphanumeric() || "-_.".contains(*c)).collect();
    let r =
        http.post(format!("{url}/api/auth/email/verify")).json(&serde_json::json!({ "token": token })).send();
    assert_eq!(r.await.unwrap().status(), 204, "address confirmed");
}
