//! Limits an attacker tries to race or flood, through the gateway on loopback, on both backends:
//! password attempts counted before they are verified, per-address sign-ins, the bounded
//! hashing queue, per-user caps on sockets and sessions, and the gateway's read limits.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use e2e::gateway::{Account, PASSWORD, TestGateway, next_text};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The status, problem code and `Retry-After` of a response.
async fn outcome(response: reqwest::Response) -> (u16, String, Option<u64>) {
    let status = response.status().as_u16();
    let retry = response.headers().get("retry-after").and_then(|v| v.to_str().ok()?.parse().ok());
    let body: Value = response.json().await.unwrap_or(Value::Null);
    (status, body["code"].as_str().unwrap_or_default().to_owned(), retry)
}

fn count(outcomes: &[(u16, String, Option<u64>)], status: u16) -> usize {
    outcomes.iter().filter(|(s, _, _)| *s == status).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_wrong_passwords_reach_the_hasher_at_most_five_times() {
    let gw = TestGateway::start().await;
    gw.register("race@example.com").await;
    let hasher = gw.gateway().login().accounts().hasher().clone();
    let before = hasher.verifications();

    let wrong = json!({ "email": "race@example.com", "password": "a wrong guess" });
    let guesses = (0..50).map(|_| {
        let (http, url, body) = (gw.http.clone(), gw.at("/api/auth/login"), wrong.clone());
        tokio::spawn(async move { outcome(http.post(url).json(&body).send().await.unwrap()).await })
    });
    let outcomes: Vec<_> = futures::future::join_all(guesses).await.into_iter().map(Result::unwrap).collect();
    assert!(count(&outcomes, 401) <= 5, "{outcomes:?}");
    assert_eq!(count(&outcomes, 401) + count(&outcomes, 429), 50, "{outcomes:?}");
    for (status, code, retry) in &outcomes {
        if *status == 429 {
            assert_eq!(code, "too_many_attempts");
            assert!(retry.is_some_and(|r| (1..=900).contains(&r)), "{retry:?}");
        }
    }
    assert!(hasher.verifications() - before <= 5, "at most five guesses were verified");

    // The right password, right after the batch: locked until the window ends.
    let right = json!({ "email": "race@example.com", "password": PASSWORD });
    let (status, code, retry) = outcome(gw.post_json("/api/auth/login", &right).await).await;
    assert_eq!((status, code.as_str()), (429, "too_many_attempts"));
    assert!(retry.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stolen_token_cannot_race_password_change_guesses() {
    let gw = TestGateway::start().await;
    let victim = gw.register("victim@example.com").await;
    let guess = json!({ "current_password": "a wrong guess", "new_password": "the attacker's password" });
    let guesses = (0..50).map(|_| {
        let (http, url, body) = (gw.http.clone(), gw.at("/api/auth/password/change"), guess.clone());
        let token = victim.access_token.clone();
        tokio::spawn(async move {
            outcome(http.post(url).bearer_auth(token).json(&body).send().await.unwrap()).await
        })
    });
    let outcomes: Vec<_> = futures::future::join_all(guesses).await.into_iter().map(Result::unwrap).collect();
    assert!(count(&outcomes, 400) <= 5, "{outcomes:?}");
    assert_eq!(count(&outcomes, 400) + count(&outcomes, 429), 50, "{outcomes:?}");
    let right = json!({ "current_password": PASSWORD, "new_password": "the attacker's password" });
    let (status, code, _) = outcome(gw.post_as(&victim, "/api/auth/password/change", &right).await).await;
    assert_eq!((status, code.as_str()), (429, "too_many_attempts"), "even the right password waits");
    assert_eq!(
        gw.post_json(
            "/api/auth/login",
            &json!({ "email": "victim@example.com", "password": "the attacker's password" })
        )
        .await
        .status(),
        429,
        "and the password did not change (the account's attempts are used up)"
    );
}

#[tokio::test]
async fn sign_ins_are_limited_per_source_address_before_any_hashing() {
    let gw = TestGateway::start_with(&[("LOGINS_PER_ADDRESS", "3")]).await;
    gw.register("one@example.com").await;
    let hasher = gw.gateway().login().accounts().hasher().clone();
    for _ in 0..3 {
        gw.login("one@example.com").await;
    }
    let before = hasher.verifications();
    let (status, code, retry) = outcome(
        gw.post_json(
            "/api/auth/login",
            &json!({ "email": "someone-else@example.com", "password": PASSWORD }),
        )
        .await,
    )
    .await;
    assert_eq!((status, code.as_str()), (429, "rate_limited"), "any account, from this address");
    assert!(retry.is_some_and(|r| (1..=60).contains(&r)));
    assert_eq!(hasher.verifications(), before, "refused before hashing");

    // Another address still signs in.
    let elsewhere = client_from(Ipv4Addr::new(127, 0, 0, 9));
    let r = elsewhere
        .post(gw.at("/api/auth/login"))
        .json(&json!({ "email": "one@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// A client whose connections come from `ip` (any 127.0.0.0/8 address is this machine).
fn client_from(ip: Ipv4Addr) -> reqwest::Client {
    reqwest::Client::builder().local_address(IpAddr::V4(ip)).timeout(Duration::from_secs(10)).build().unwrap()
}

/// One JSON POST over a fresh connection from `from`, written by hand: a full HTTP client per
/// source address would cost this process (where the gateway runs) more memory than the flood.
/// The answer must come within 10 s.
async fn post_from(from: Ipv4Addr, to: SocketAddr, path: &str, body: &str) -> (u16, String, Option<u64>) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(IpAddr::V4(from), 0)).unwrap();
    let mut stream = socket.connect(to).await.unwrap();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {to}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
        .await
        .expect("answered within 10 s")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    let status = answer.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let (head, rest) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let retry = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("retry-after:").map(|v| v.trim().to_owned()))
        .and_then(|v| v.parse().ok());
    let code = serde_json::from_str::<Value>(rest).ok().and_then(|b| b["code"].as_str().map(str::to_owned));
    (status, code.unwrap_or_default(), retry)
}

/// Resident memory of this process (the gateway runs in it), from `/proc`.
fn rss_mb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb / 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_of_sign_ins_is_answered_at_once_and_memory_stays_bounded() {
    let gw = TestGateway::start().await;
    gw.register("legit@example.com").await;
    let addr = gw.gateway().addr();
    // 150 sign-ins for unknown accounts, each from its own address, all at once. Every one is
    // answered: 401 after one verification, or 503 busy at once when the hashing queue is full.
    let flood = (0..150u8).map(|i| {
        let from = Ipv4Addr::new(127, 0, 1, i.saturating_add(1));
        let body =
            json!({ "email": format!("nobody{i}@example.com"), "password": "a wrong guess" }).to_string();
        tokio::spawn(async move { post_from(from, addr, "/api/auth/login", &body).await })
    });
    let outcomes: Vec<_> = futures::future::join_all(flood).await.into_iter().map(Result::unwrap).collect();
    for (status, code, retry) in &outcomes {
        assert!([401, 429, 503].contains(status), "{status} {code}");
        if *status == 503 {
            assert_eq!((code.as_str(), *retry), ("busy", Some(1)));
        }
    }
    assert!(count(&outcomes, 503) > 0, "the queue bound was reached: {outcomes:?}");
    let rss = rss_mb();
    assert!(rss < 200, "resident memory {rss} MB after the flood");

    // The legitimate user, right after.
    let legit = json!({ "email": "legit@example.com", "password": PASSWORD }).to_string();
    let (status, _, _) = post_from(Ipv4Addr::new(127, 0, 0, 1), addr, "/api/auth/login", &legit).await;
    assert_eq!(status, 200);
}

async fn socket(gw: &TestGateway, account: &Account) -> Result<e2e::gateway::Socket, u16> {
    gw.connect_ticket(&gw.mint(account).await).await
}

#[tokio::test]
async fn a_user_holds_at_most_max_sockets_per_user_live_connections() {
    let gw = TestGateway::start_with(&[("MAX_SOCKETS_PER_USER", "3")]).await;
    let ada = gw.register("ada@example.com").await;
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(socket(&gw, &ada).await.expect("within the cap"));
    }
    let ticket = gw.mint(&ada).await;
    assert_eq!(gw.connect_ticket(&ticket).await.err(), Some(429), "the fourth is refused");
    let bearer = format!("Bearer {}", ada.access_token);
    assert_eq!(gw.connect("", &[("authorization", &bearer)]).await.err(), Some(429), "by bearer too");
    // Another user is not affected; closing one socket frees a place, and the refused ticket
    // was not spent.
    let grace = gw.register("grace@example.com").await;
    socket(&gw, &grace).await.expect("another user connects");
    let mut closing = open.pop().unwrap();
    futures::SinkExt::close(&mut closing).await.unwrap();
    while next_text(&mut closing).await.is_some() {}
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let reopened = loop {
        match gw.connect_ticket(&ticket).await {
            Ok(socket) => break socket,
            Err(429) if std::time::Instant::now() < deadline => tokio::task::yield_now().await,
            Err(status) => panic!("reconnect refused with {status}"),
        }
    };
    drop(reopened);
}

#[tokio::test]
async fn bearer_connects_count_against_the_ticket_quota() {
    let gw =
        TestGateway::start_with(&[("WS_TICKETS_PER_MINUTE", "3"), ("MAX_SOCKETS_PER_USER", "100")]).await;
    let ada = gw.register("ada@example.com").await;
    let bearer = format!("Bearer {}", ada.access_token);
    let minute = || chrono::Utc::now().timestamp().div_euclid(60);
    // Windows are clock minutes: allow for one boundary between the calls.
    let mut sockets = vec![socket(&gw, &ada).await.expect("a ticket counts one")];
    let mut refused = None;
    for attempt in 2..=7 {
        match gw.connect("", &[("authorization", &bearer)]).await {
            Ok(socket) => sockets.push(socket),
            Err(status) => {
                refused = Some((attempt, status, minute()));
                break;
            }
        }
    }
    let (attempt, status, window) = refused.expect("a refusal within 7 connects at 3 per minute");
    assert_eq!(status, 429);
    assert!(attempt >= 4, "the first 3 of a window are allowed");
    let (status, code, _) = outcome(gw.mint_response(&ada).await).await;
    if minute() == window {
        assert_eq!(
            (status, code.as_str()),
            (429, "rate_limited"),
            "one quota for tickets and bearer connects"
        );
    }
}

#[tokio::test]
async fn a_sign_in_beyond_max_sessions_per_user_ends_the_oldest() {
    let gw = TestGateway::start_with(&[("MAX_SESSIONS_PER_USER", "3")]).await;
    let first = gw.register("ada@example.com").await;
    let mut first_socket = socket(&gw, &first).await.unwrap();
    // Sessions are dated to the second: the first must be the oldest, not tied with the others.
    let registered = chrono::Utc::now().timestamp();
    while chrono::Utc::now().timestamp() == registered {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let second = gw.login("ada@example.com").await;
    let third = gw.login("ada@example.com").await;
    assert_eq!(gw.me(&format!("Bearer {}", first.access_token)).await.status(), 200, "three live");
    let fourth = gw.login("ada@example.com").await;
    assert_eq!(next_text(&mut first_socket).await.as_deref(), Some(r#"{"type":"session.revoked"}"#));
    assert_eq!(gw.me(&format!("Bearer {}", first.access_token)).await.status(), 401, "the oldest ended");
    assert_eq!(gw.post_cookie("/api/auth/refresh", &first.cookie).await.status(), 401);
    for live in [&second, &third, &fourth] {
        assert_eq!(gw.me(&format!("Bearer {}", live.access_token)).await.status(), 200);
    }
    let listed: Value = gw.get_json(&fourth, "/api/auth/sessions").await;
    assert_eq!(listed["sessions"].as_array().unwrap().len(), 3);
}

/// Reads what the server sends until it closes the connection (bounded: a hang fails).
async fn read_until_closed(stream: &mut tokio::net::TcpStream) -> String {
    let mut all = Vec::new();
    let read = stream.read_to_end(&mut all);
    let _ =
        tokio::time::timeout(Duration::from_secs(20), read).await.expect("the server closed the connection");
    String::from_utf8_lossy(&all).into_owned()
}

#[tokio::test]
async fn the_gateway_drops_slow_clients_and_limits_bodies_and_paths_while_reading() {
    let gw = TestGateway::start_with(&[("READ_TIMEOUT_SECONDS", "1")]).await;
    let addr = gw.gateway().addr();

    // Headers that never end: the connection is dropped.
    let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let answer = read_until_closed(&mut slow).await;
    assert!(!answer.contains("200 OK"), "{answer}");

    // A body that never ends: 408, then the connection is closed.
    let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = "POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"email\"";
    slow.write_all(head.as_bytes()).await.unwrap();
    let answer = read_until_closed(&mut slow).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");

    // 10 MiB announced: refused before it is sent (only 100 KiB ever is).
    let mut big = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = "POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10485760\r\n\r\n";
    big.write_all(head.as_bytes()).await.unwrap();
    let _ = big.write_all(&vec![b' '; 100 * 1024]).await;
    let answer = read_until_closed(&mut big).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("payload_too_large"));

    // An undeclared (chunked) body is cut off at the limit.
    let chunked = reqwest::Body::wrap_stream(futures::stream::iter(
        (0..100).map(|_| Ok::<_, std::io::Error>(vec![b' '; 1024])),
    ));
    let r = gw
        .http
        .post(gw.at("/api/auth/login"))
        .header("content-type", "application/json")
        .body(chunked)
        .send();
    let (status, code, _) = outcome(r.await.unwrap()).await;
    assert_eq!((status, code.as_str()), (413, "payload_too_large"));

    // A path over 2 KiB.
    let r = gw.http.get(gw.at(&format!("/api/auth/{}", "a".repeat(2100)))).send().await.unwrap();
    let (status, code, _) = outcome(r).await;
    assert_eq!((status, code.as_str()), (414, "uri_too_long"));

    // The positive twins: a prompt, small request works.
    assert_eq!(gw.http.get(gw.at("/health")).send().await.unwrap().status(), 200);
    let r = gw
        .post_json("/api/auth/login", &json!({ "email": "nobody@example.com", "password": PASSWORD }))
        .await;
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn connections_api_refuses_browsers_and_other_hosts() {
    let gw = TestGateway::start().await;
    let ada = gw.register("ada@example.com").await;
    let mut live = socket(&gw, &ada).await.unwrap();
    let user = shared::domain::UserId::from_trusted(ada.user_id.clone());
    let id = gw.stores().connections.for_user(&user, chrono::Utc::now()).await.unwrap()[0].id.clone();
    let path = format!("/@connections/{}", percent_encode(&id));
    let forged = r#"{"type":"session.revoked"}"#;

    // A page on any site can post a form to loopback: it carries an Origin.
    let from_page = gw
        .http
        .post(gw.at(&path))
        .header("origin", "https://evil.example")
        .body(forged)
        .send()
        .await
        .unwrap();
    assert_eq!(from_page.status(), 403);
    let other_host =
        gw.http.post(gw.at(&path)).header("host", "evil.example").body(forged).send().await.unwrap();
    assert_eq!(other_host.status(), 403);
    let get = gw.http.get(gw.at(&path)).header("origin", "null").send().await.unwrap();
    assert_eq!(get.status(), 403);

    // The backend's own client (no Origin, the listen address as Host) is served.
    let own = gw.http.post(gw.at(&path)).body(r#"{"type":"pong"}"#).send().await.unwrap();
    assert_eq!(own.status(), 200);
    assert_eq!(
        next_text(&mut live).await.as_deref(),
        Some(r#"{"type":"pong"}"#),
        "only the real push arrived"
    );
}

fn percent_encode(id: &str) -> String {
    id.bytes()
        .map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}
