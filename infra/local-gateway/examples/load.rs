//! Bounded load on a running gateway over loopback. Setup (not timed) registers one account per
//! client, a few at a time. Then, for a fixed time, every client loops: mint a WebSocket ticket,
//! connect with it, send `{"action":"ping"}` and wait for `{"type":"pong"}`, close the socket,
//! and every K-th round also post a chat message to a new conversation. Prints a Markdown table
//! of count, errors, throughput and p50/p99/max latency per operation and for the whole cycle,
//! and exits non-zero (the first errors on stderr) if any operation failed or timed out (5 s).
//!
//! Start the gateway with `WS_TICKETS_PER_MINUTE=1000000` (a client mints far more than the
//! default 20 tickets a minute), build with `cargo build --release -p local-gateway --examples`,
//! then:
//!
//! `target/release/examples/load <base-url> [--clients N (50)] [--duration-secs S (20)] [--chat-every K (5)]`
//!
//! `--chat-every 0` never chats.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use futures::{SinkExt, StreamExt};
use reqwest::{StatusCode, Url};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::{self, Message, error::ProtocolError};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The password of every generated account.
const PASSWORD: &str = "correct horse battery staple";
/// The chat message sent every K-th round.
const QUESTION: &str = "How do I reset my password?";
/// Longest any one operation may take before it counts as an error.
const TIMEOUT: Duration = Duration::from_secs(5);
/// Registrations in flight at once: each is an argon2id hash (~30 ms of one core) on the gateway.
const REGISTER_CONCURRENCY: usize = 4;
/// How many distinct error messages are kept for stderr.
const KEPT_ERRORS: usize = 10;
/// Pause after an abandoned cycle, so a gateway that refuses connections instantly does not make
/// the clients spin and bury the report under millions of identical errors.
const ERROR_PAUSE: Duration = Duration::from_millis(100);

/// Command line.
#[derive(Parser)]
#[command(about = "Bounded load on a running local gateway: tickets, WebSocket pings and chat")]
struct Args {
    /// The gateway's base URL, e.g. http://127.0.0.1:3000.
    base_url: String,
    /// Concurrent clients, each with its own account.
    #[arg(long, default_value_t = 50)]
    clients: usize,
    /// How long the load phase starts new cycles.
    #[arg(long, default_value_t = 20)]
    duration_secs: u64,
    /// Also post a chat message every K-th cycle of a client (0: never).
    #[arg(long, default_value_t = 5)]
    chat_every: u64,
}

/// A timed operation; its position in [`OPS`] indexes the per-operation arrays of [`Stats`].
#[derive(Clone, Copy)]
enum Op {
    Mint,
    Connect,
    Ping,
    Close,
    Chat,
    Cycle,
}

/// Every operation, in report order.
const OPS: [Op; 6] = [Op::Mint, Op::Connect, Op::Ping, Op::Close, Op::Chat, Op::Cycle];

impl Op {
    /// The operation's row name in the report.
    fn name(self) -> &'static str {
        match self {
            Op::Mint => "mint",
            Op::Connect => "connect",
            Op::Ping => "ping",
            Op::Close => "close",
            Op::Chat => "chat",
            Op::Cycle => "cycle",
        }
    }
}

/// Latencies of successful operations, failure counts and the first distinct failure messages.
#[derive(Default)]
struct Stats {
    samples: [Vec<Duration>; OPS.len()],
    errors: [u64; OPS.len()],
    /// Each message with how often it occurred, in the order first seen.
    first_errors: Vec<(String, u64)>,
}

impl Stats {
    /// Records a success.
    fn ok(&mut self, op: Op, latency: Duration) {
        self.samples[op as usize].push(latency);
    }

    /// Records a failure, keeping its message if it is among the first few distinct ones.
    fn failed(&mut self, op: Op, message: String) {
        self.errors[op as usize] += 1;
        self.keep_error(format!("{}: {message}", op.name()), 1);
    }

    /// Counts `times` occurrences of `message`, kept if seen before or if there is room.
    fn keep_error(&mut self, message: String, times: u64) {
        if let Some((_, count)) = self.first_errors.iter_mut().find(|(kept, _)| *kept == message) {
            *count += times;
        } else if self.first_errors.len() < KEPT_ERRORS {
            self.first_errors.push((message, times));
        }
    }

    /// Adds another client's results.
    fn merge(&mut self, other: Stats) {
        for (mine, theirs) in self.samples.iter_mut().zip(other.samples) {
            mine.extend(theirs);
        }
        for (mine, theirs) in self.errors.iter_mut().zip(other.errors) {
            *mine += theirs;
        }
        for (message, times) in other.first_errors {
            self.keep_error(message, times);
        }
    }

    /// Failures of all operations (a failed cycle is already counted by its operation).
    fn total_errors(&self) -> u64 {
        self.errors[..Op::Cycle as usize].iter().sum()
    }
}

/// What every client shares.
#[derive(Clone)]
struct Target {
    /// One client, so HTTP connections are pooled and reused as a real frontend's would be.
    http: reqwest::Client,
    base: String,
}

/// A client-side WebSocket.
type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Runs `operation` under [`TIMEOUT`]; records its latency or its failure.
async fn timed<T>(
    stats: &mut Stats,
    op: Op,
    operation: impl Future<Output = Result<T, String>>,
) -> Option<T> {
    let started = Instant::now();
    match tokio::time::timeout(TIMEOUT, operation).await {
        Ok(Ok(value)) => {
            stats.ok(op, started.elapsed());
            Some(value)
        }
        Ok(Err(message)) => {
            stats.failed(op, message);
            None
        }
        Err(_) => {
            stats.failed(op, format!("no answer within {TIMEOUT:?}"));
            None
        }
    }
}

/// POSTs `body` (if any) with the bearer token; reads the whole response, as the latency should
/// include it. Any status but `expected` is an error carrying the problem body.
async fn post(
    target: &Target,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
    expected: StatusCode,
) -> Result<Value, String> {
    let mut request = target.http.post(format!("{}{path}", target.base));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.map_err(|e| format!("POST {path}: {e}"))?;
    let status = response.status();
    let bytes = response.bytes().await.map_err(|e| format!("POST {path}: reading the body: {e}"))?;
    if status != expected {
        let text = String::from_utf8_lossy(&bytes);
        return Err(format!("POST {path}: {status} {}", text.chars().take(200).collect::<String>()));
    }
    serde_json::from_slice(&bytes).map_err(|e| format!("POST {path}: {e}"))
}

/// Registers a fresh account and returns its access token.
async fn register(target: &Target) -> Result<String, String> {
    let email = format!("load-{}@example.com", uuid::Uuid::new_v4().simple());
    let body = json!({"email": email, "password": PASSWORD});
    let registered = post(target, "/api/auth/register", None, Some(&body), StatusCode::CREATED).await?;
    registered["access_token"].as_str().map(str::to_owned).ok_or_else(|| "no access_token".to_owned())
}

/// Mints a ticket and returns the URL to connect to with it.
async fn mint(target: &Target, token: &str) -> Result<Url, String> {
    let path = "/api/websocket/ticket";
    let minted = post(target, path, Some(token), None, StatusCode::CREATED).await?;
    let (Some(ticket), Some(url)) = (minted["ticket"].as_str(), minted["url"].as_str()) else {
        return Err(format!("POST {path}: no ticket or url in {minted}"));
    };
    let mut url = Url::parse(url).map_err(|e| format!("POST {path}: url {url:?}: {e}"))?;
    url.query_pairs_mut().append_pair("ticket", ticket);
    Ok(url)
}

/// Opens the WebSocket; done when the handshake is.
async fn connect(url: &Url) -> Result<Socket, String> {
    // No Nagle: a frame of a few bytes must leave at once, as a browser's does.
    let (socket, _) = tokio_tungstenite::connect_async_with_config(url.as_str(), None, true)
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    Ok(socket)
}

/// Sends a ping and waits for the pong; any other data frame first is an error (nothing is pushed
/// to this user while the socket is open, since the client chats only after closing it).
async fn ping(socket: &mut Socket) -> Result<(), String> {
    socket.send(Message::text(r#"{"action":"ping"}"#)).await.map_err(|e| format!("send: {e}"))?;
    loop {
        match socket.next().await {
            Some(Ok(Message::Text(text))) => {
                let frame: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                return match frame["type"].as_str() {
                    Some("pong") => Ok(()),
                    _ => Err(format!("expected a pong, got {text}")),
                };
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            Some(Ok(other)) => return Err(format!("expected a pong, got {other:?}")),
            Some(Err(e)) => return Err(format!("receive: {e}")),
            None => return Err("closed before the pong".to_owned()),
        }
    }
}

/// Closes the socket cleanly: our close frame, the gateway's close frame in answer (RFC 6455
/// §5.5.1; a browser reports a close without it as abnormal, code 1006), the end of the stream.
async fn close(socket: &mut Socket) -> Result<(), String> {
    socket.close(None).await.map_err(|e| format!("send: {e}"))?;
    while let Some(frame) = socket.next().await {
        match frame {
            Ok(_) | Err(tungstenite::Error::ConnectionClosed) => {}
            Err(tungstenite::Error::Protocol(ProtocolError::ResetWithoutClosingHandshake)) => {
                return Err("the gateway ended the connection without answering our close frame".to_owned());
            }
            Err(e) => return Err(format!("receive: {e}")),
        }
    }
    Ok(())
}

/// Posts the question to a new conversation.
async fn chat(target: &Target, token: &str) -> Result<(), String> {
    let body = json!({"content": QUESTION});
    let answered = post(target, "/api/chat/messages", Some(token), Some(&body), StatusCode::CREATED).await?;
    match answered.get("reply") {
        Some(_) => Ok(()),
        None => Err(format!("POST /api/chat/messages: no reply in {answered}")),
    }
}

/// How a round ended.
enum Round {
    /// Every operation succeeded.
    Done,
    /// The close or the chat failed; the round still ran to its end.
    Failed,
    /// The mint, connect or ping failed, so the steps that need it were skipped.
    Abandoned,
}

/// One round of a client. A failed close does not end it: the chat does not use the socket.
async fn cycle(stats: &mut Stats, target: &Target, token: &str, with_chat: bool) -> Round {
    let Some(url) = timed(stats, Op::Mint, mint(target, token)).await else { return Round::Abandoned };
    let Some(mut socket) = timed(stats, Op::Connect, connect(&url)).await else { return Round::Abandoned };
    if timed(stats, Op::Ping, ping(&mut socket)).await.is_none() {
        return Round::Abandoned;
    }
    let closed = timed(stats, Op::Close, close(&mut socket)).await.is_some();
    let chatted = !with_chat || timed(stats, Op::Chat, chat(target, token)).await.is_some();
    if closed && chatted { Round::Done } else { Round::Failed }
}

/// One client: cycles until `deadline`, finishing the cycle in flight.
async fn client(target: Target, token: String, chat_every: u64, deadline: Instant) -> Stats {
    let mut stats = Stats::default();
    let mut round = 0u64;
    while Instant::now() < deadline {
        round += 1;
        let with_chat = chat_every > 0 && round.is_multiple_of(chat_every);
        let started = Instant::now();
        match cycle(&mut stats, &target, &token, with_chat).await {
            Round::Done => stats.ok(Op::Cycle, started.elapsed()),
            Round::Failed => stats.errors[Op::Cycle as usize] += 1,
            Round::Abandoned => {
                stats.errors[Op::Cycle as usize] += 1;
                tokio::time::sleep(ERROR_PAUSE).await;
            }
        }
    }
    stats
}

/// The nearest-rank percentile `p` (0–1] of sorted samples.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Milliseconds with two decimals.
fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

/// Prints the header line and the table.
fn report(args: &Args, stats: &mut Stats, elapsed: Duration) {
    let secs = elapsed.as_secs_f64();
    let cycles = stats.samples[Op::Cycle as usize].len();
    println!(
        "clients: {}, duration: {} s (load phase took {secs:.2} s), chat every {} cycles, \
         total cycles: {cycles}, cycles/s: {:.1}, errors: {}",
        args.clients,
        args.duration_secs,
        args.chat_every,
        cycles as f64 / secs,
        stats.total_errors()
    );
    println!();
    println!("| operation | count | errors | throughput (ops/s) | p50 ms | p99 ms | max ms |");
    println!("|---|--:|--:|--:|--:|--:|--:|");
    for op in OPS {
        let samples = &mut stats.samples[op as usize];
        samples.sort_unstable();
        let errors = stats.errors[op as usize];
        let throughput = samples.len() as f64 / secs;
        let [p50, p99, max] = match samples.last() {
            Some(&max) => [ms(percentile(samples, 0.50)), ms(percentile(samples, 0.99)), ms(max)],
            None => ["-".into(), "-".into(), "-".into()],
        };
        println!(
            "| {} | {} | {errors} | {throughput:.1} | {p50} | {p99} | {max} |",
            op.name(),
            samples.len()
        );
    }
    println!();
    println!(
        "count: successful operations; errors: failed or timed out ({TIMEOUT:?}); latencies are of \
         successes; a cycle is mint + connect + ping + close, plus chat every {}th cycle",
        args.chat_every
    );
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    if args.clients == 0 || args.duration_secs == 0 {
        eprintln!("--clients and --duration-secs must be at least 1");
        return ExitCode::FAILURE;
    }
    let target =
        Target { http: reqwest::Client::new(), base: args.base_url.trim_end_matches('/').to_owned() };

    let started = Instant::now();
    let tokens: Vec<Result<String, String>> = futures::stream::iter(0..args.clients)
        .map(|_| async {
            tokio::time::timeout(TIMEOUT, register(&target))
                .await
                .unwrap_or_else(|_| Err(format!("register: no answer within {TIMEOUT:?}")))
        })
        .buffer_unordered(REGISTER_CONCURRENCY)
        .collect()
        .await;
    let tokens = match tokens.into_iter().collect::<Result<Vec<_>, _>>() {
        Ok(tokens) => tokens,
        Err(e) => {
            eprintln!("setup failed (is the gateway running at {}?): {e}", target.base);
            return ExitCode::FAILURE;
        }
    };
    eprintln!("registered {} accounts in {:.1?}", tokens.len(), started.elapsed());

    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.duration_secs);
    let clients: Vec<_> = tokens
        .into_iter()
        .map(|token| tokio::spawn(client(target.clone(), token, args.chat_every, deadline)))
        .collect();
    let mut stats = Stats::default();
    for finished in futures::future::join_all(clients).await {
        stats.merge(finished.expect("a client task panicked"));
    }
    // Until the last in-flight cycle ended: every counted operation happened within it.
    let elapsed = started.elapsed();

    report(&args, &mut stats, elapsed);
    let errors = stats.total_errors();
    if errors == 0 {
        return ExitCode::SUCCESS;
    }
    eprintln!("{errors} operations failed; the first distinct errors:");
    for (message, times) in &stats.first_errors {
        eprintln!("  {times} x {message}");
    }
    if stats.first_errors.iter().any(|(message, _)| message.contains("429")) {
        eprintln!("(429 on mint: start the gateway with WS_TICKETS_PER_MINUTE=1000000)");
    }
    ExitCode::FAILURE
}
