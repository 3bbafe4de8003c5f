//! Latency of a running gateway as a client sees it over loopback: registers an account, then
//! times sequential logins, `GET /api/auth/me`, ticket mints, WebSocket connects (ticket to
//! completed handshake), ping/pong round trips and escalations (ticket, two outbox mails), and
//! prints p50/p99.
//!
//! Start the gateway with `WS_TICKETS_PER_MINUTE=1000000` so minting is not rate limited, then
//! `cargo run --release -p local-gateway --example latency -- http://127.0.0.1:3000 2000`

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
    let token = registered["access_token"].as_str().expect("registered").to_owned();

    let mut logins = Vec::new();
    for _ in 0..20 {
        let started = Instant::now();
        let r = http.post(format!("{url}/api/auth/login")).json(&credentials).send().await.unwrap();
        assert_eq!(r.status(), 200);
        r.bytes().await.unwrap();
        logins.push(started.elapsed());
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
        let (socket, _) =
            tokio_tungstenite::connect_async(format!("{ws_url}?ticket={ticket}")).await.unwrap();
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
