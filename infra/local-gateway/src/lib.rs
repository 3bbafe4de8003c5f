//! `local-gateway`: one process playing API Gateway for the HTTP API. Each request becomes the
//! API Gateway v2 event Lambda would receive and runs through the function's handler in process,
//! on SQLite adapters. Keys and data live in the data dir, so restarts change nothing.

pub mod apigw;
pub mod inbox;
pub mod keys;
pub mod server;
mod settings;
pub mod sockets;
pub mod web;
pub mod websocket;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use axum::Router;
use axum::body::Body as AxumBody;
use axum::extract::{ConnectInfo, FromRef, State};
use axum::response::{IntoResponse, Response as AxumResponse};
use axum::routing::{get, post};
use chat::Chat;
use escalation::Escalation;
use http::{HeaderValue, Request as HttpRequest, header};
use lambda_http::Body;
use login::Login;
use mail_retry::MailRetry;
use shared::adapters::apigw::ApiGatewayPush;
use shared::adapters::dynamodb::{DynamoStore, schema};
use shared::adapters::outbox::Outbox;
use shared::adapters::ses::Ses;
use shared::adapters::sqlite::SqliteStore;
use shared::auth::SigningKey;
use shared::config::{EscalationConfig, Source, Tables};
use shared::env;
use shared::error::ApiError;
use shared::http::HttpFunction;
use shared::http::request::MAX_BODY_BYTES;
use shared::http::router::covers;
use shared::ports::Stores;
use shared::runtime::Wiring;
use shared::{Clock, SystemClock};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use ws_connect::WsConnect;
use ws_ticket::WsTicket;

use crate::settings::{Overlay, default_origins};
use crate::sockets::{LocalPush, Management, Sockets};
use crate::websocket::WsState;

/// How long a client may take to send its headers, or its body, unless `READ_TIMEOUT_SECONDS`
/// says otherwise; a slower one is dropped.
const DEFAULT_READ_TIMEOUT: chrono::Duration = chrono::Duration::seconds(10);
/// How often expired sessions and counters are deleted (DynamoDB's TTL, locally).
const SWEEP_EVERY: Duration = Duration::from_secs(300);
/// How often queued mails are retried unless `MAIL_RETRY_INTERVAL_SECONDS` says otherwise.
const DEFAULT_RETRY_EVERY: chrono::Duration = chrono::Duration::seconds(30);
/// How often `<data-dir>/inbox` is looked into unless `INBOX_INTERVAL_SECONDS` says otherwise.
const DEFAULT_INBOX_EVERY: chrono::Duration = chrono::Duration::seconds(1);

/// Where the functions keep their state.
pub enum Backend {
    /// `<data-dir>/app.db`, mail in `<data-dir>/outbox/`, pushes straight to the sockets.
    Sqlite,
    /// The adapters Lambda uses: DynamoDB, SES, and the API Gateway Management API aimed at this
    /// gateway's own `@connections`.
    Aws(Box<AwsBackend>),
}

/// The AWS adapters' settings.
pub struct AwsBackend {
    /// Region, credentials and endpoint (moto, or a real account).
    pub sdk: aws_config::SdkConfig,
    /// Table names, as the functions read them.
    pub tables: Tables,
    /// Create missing tables first (and, on a loopback endpoint, the SES sender identity).
    pub create_tables: bool,
}

/// How to run the gateway.
pub struct GatewayConfig {
    /// Address to listen on (port 0 picks a free port).
    pub listen: SocketAddr,
    /// Where `app.db` and `signing-key.pem` live.
    pub data_dir: PathBuf,
    /// Allowed browser origins; empty means the gateway's own origin.
    pub allowed_origins: Vec<String>,
    /// Function settings (the variables the Lambdas read), e.g. `LOGIN_MAX_FAILURES`.
    pub settings: Arc<dyn Source + Send + Sync>,
    /// SQLite (default) or the AWS adapters.
    pub backend: Backend,
}

/// A function mounted at one of its API Gateway paths, with the route key API Gateway would
/// put in the event.
struct Mount {
    api_path: &'static str,
    route_key: String,
    function: Arc<dyn HttpFunction>,
}

#[derive(Clone)]
struct AppState {
    mounts: Arc<Vec<Mount>>,
    ws: WsState,
    management: Management,
    read_timeout: Duration,
}

impl FromRef<AppState> for Management {
    fn from_ref(state: &AppState) -> Self {
        state.management.clone()
    }
}

impl FromRef<AppState> for WsState {
    fn from_ref(state: &AppState) -> Self {
        state.ws.clone()
    }
}

impl FromRef<AppState> for Sockets {
    fn from_ref(state: &AppState) -> Self {
        state.ws.sockets.clone()
    }
}

/// A running gateway.
pub struct Gateway {
    addr: SocketAddr,
    login: Arc<Login>,
    sockets: Sockets,
    shutdown: Option<oneshot::Sender<()>>,
    server: JoinHandle<std::io::Result<()>>,
    sweeper: JoinHandle<()>,
    retrier: JoinHandle<()>,
    inbox: JoinHandle<()>,
}

impl Gateway {
    /// Opens the data dir (creating the key and database on first start), binds, and serves.
    pub async fn start(config: GatewayConfig) -> Result<Self> {
        // Every function runs in this one process: the metrics name the gateway.
        shared::telemetry::metrics::set_function("local-gateway");
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating data dir {}", config.data_dir.display()))?;
        let pem = keys::load_or_create(&config.data_dir)?;
        let key = SigningKey::from_pem(keys::KEY_ID, &pem)?;
        let reply_key = keys::reply_key(&config.data_dir)?;

        let listener =
            TcpListener::bind(config.listen).await.with_context(|| format!("binding {}", config.listen))?;
        let addr = listener.local_addr()?;
        let origins =
            if config.allowed_origins.is_empty() { default_origins(addr) } else { config.allowed_origins };
        let source = Arc::new(Overlay::new(config.settings, pem, &key, reply_key, addr, &origins)?);
        let retry_every =
            env::seconds(&*source, "MAIL_RETRY_INTERVAL_SECONDS", DEFAULT_RETRY_EVERY)?.to_std()?;
        let read_timeout = env::seconds(&*source, "READ_TIMEOUT_SECONDS", DEFAULT_READ_TIMEOUT)?.to_std()?;
        let inbox_every = env::seconds(&*source, "INBOX_INTERVAL_SECONDS", DEFAULT_INBOX_EVERY)?.to_std()?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let sockets = Sockets::default();
        let (wiring, sqlite) =
            wire(config.backend, &config.data_dir, addr, &sockets, source, clock.clone()).await?;

        // The same function values Lambda runs, built once from the same wiring.
        let login = Arc::new(Login::build(&wiring)?);
        let http_functions: [Arc<dyn HttpFunction>; 4] = [
            login.clone(),
            Arc::new(WsTicket::build(&wiring)?),
            Arc::new(Chat::build(&wiring).map_err(|e| anyhow!(e))?),
            Arc::new(Escalation::build(&wiring)?),
        ];
        let ws_connect = Arc::new(WsConnect::build(&wiring)?);
        let mail_retry = MailRetry::build(&wiring)?;
        let inbound = mail_inbound::service(&wiring)?;
        let ws = WsState {
            handler: Arc::new(move |event| {
                let f = Arc::clone(&ws_connect);
                Box::pin(async move { f.handle(event).await })
            }),
            sockets: sockets.clone(),
        };
        let app = app(AppState {
            mounts: Arc::new(mounts(http_functions)),
            management: Management { sockets: sockets.clone(), host: addr.to_string() },
            ws,
            read_timeout,
        });
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(server::serve(listener, app, read_timeout, rx));
        let sweeper = tokio::spawn(sweep(sqlite, clock));
        let retrier = tokio::spawn(retry_mail(mail_retry, retry_every));
        let inbox = tokio::spawn(inbox::watch(config.data_dir.join("inbox"), inbound, inbox_every));
        tracing::info!(%addr, origins = ?origins, data_dir = %config.data_dir.display(), "local-gateway started");
        Ok(Self { addr, login, sockets, shutdown: Some(tx), server, sweeper, retrier, inbox })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The login function as mounted (tests observe its password verifications).
    pub fn login(&self) -> &Login {
        &self.login
    }

    /// The open sockets (tests count them).
    pub fn sockets(&self) -> &Sockets {
        &self.sockets
    }

    /// Stops accepting, lets in-flight requests finish, and returns.
    pub async fn stop(mut self) -> Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.sweeper.abort();
        self.retrier.abort();
        self.inbox.abort();
        (&mut self.server).await.context("server task")?.context("server")?;
        Ok(())
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.sweeper.abort();
        self.retrier.abort();
        self.inbox.abort();
        self.server.abort();
    }
}

/// Each function at each of its API paths, with the route key API Gateway would put in the event.
fn mounts(functions: impl IntoIterator<Item = Arc<dyn HttpFunction>>) -> Vec<Mount> {
    let mut mounts = Vec::new();
    for function in functions {
        for api_path in function.api_paths() {
            mounts.push(Mount { api_path, route_key: format!("ANY {api_path}"), function: function.clone() });
        }
    }
    mounts
}

/// The gateway's own routes (web client, health, WebSocket upgrade, `@connections`); anything
/// else goes to the functions.
fn app(state: AppState) -> Router {
    Router::new()
        .route("/", get(web::index))
        .route("/reset-password", get(web::index))
        .route("/verify-email", get(web::index))
        .route("/app.js", get(web::script))
        .route("/app.css", get(web::style))
        .route("/health", get(health))
        .route("/ws", get(websocket::upgrade))
        .route("/@connections/{id}", post(sockets::post).delete(sockets::delete).get(sockets::get))
        .fallback(dispatch)
        .with_state(state)
}

/// DynamoDB's TTL, locally: deletes expired rows now and then (DynamoDB needs no sweeping).
async fn sweep(store: Option<Arc<SqliteStore>>, clock: Arc<dyn Clock>) {
    let Some(store) = store else { return };
    let mut every = tokio::time::interval(SWEEP_EVERY);
    loop {
        every.tick().await;
        if let Err(e) = store.sweep_expired(clock.now()).await {
            tracing::warn!(error = %e, "expiry sweep failed");
        }
    }
}

/// The mail-retry function's schedule, locally.
async fn retry_mail(function: MailRetry, every: Duration) {
    let mut every = tokio::time::interval(every);
    every.tick().await;
    loop {
        every.tick().await;
        if let Err(e) = function.handle(serde_json::Value::Null).await {
            tracing::warn!(error = %e, "mail retry run failed");
        }
    }
}

async fn health() -> AxumResponse {
    ([(header::CONTENT_TYPE, "application/json")], r#"{"status":"ok"}"#).into_response()
}

/// The functions' wiring over a backend, and the SQLite store when it is one (to sweep).
async fn wire(
    backend: Backend,
    data_dir: &std::path::Path,
    addr: SocketAddr,
    sockets: &Sockets,
    settings: Arc<dyn Source + Send + Sync>,
    clock: Arc<dyn Clock>,
) -> Result<(Wiring, Option<Arc<SqliteStore>>)> {
    match backend {
        Backend::Sqlite => {
            let db = data_dir.join("app.db");
            let store =
                Arc::new(SqliteStore::open(&db).with_context(|| format!("opening {}", db.display()))?);
            let wiring = Wiring::new(settings, Stores::single(store.clone()), clock)
                .with_push(Arc::new(LocalPush(sockets.clone())))
                .with_mail(Arc::new(Outbox::new(data_dir.join("outbox"))));
            Ok((wiring, Some(store)))
        }
        Backend::Aws(aws) => {
            let store = Arc::new(DynamoStore::from_sdk(&aws.sdk, aws.tables.clone()));
            if aws.create_tables {
                schema::create_tables(store.client(), &aws.tables).await.context("creating tables")?;
                if aws.sdk.endpoint_url().is_some_and(is_loopback_url) {
                    let identity =
                        EscalationConfig::from_source(&*settings)?.mail.from.email.domain().to_owned();
                    Ses::create_identity(&aws.sdk, &identity)
                        .await
                        .context("creating the SES sender identity")?;
                }
            }
            store.warm().await;
            let wiring = Wiring::new(settings, Stores::single(store), clock)
                // Real PostToConnection/DeleteConnection calls, delivered by this gateway's
                // own @connections routes.
                .with_push(Arc::new(ApiGatewayPush::from_sdk(&aws.sdk, &format!("http://{addr}"))))
                .with_mail(Arc::new(Ses::from_sdk(&aws.sdk)));
            Ok((wiring, None))
        }
    }
}

/// Whether an endpoint URL points at this machine (moto, never a real account).
fn is_loopback_url(url: &str) -> bool {
    let host = url.split("://").nth(1).unwrap_or(url).split(['/', ':']).next().unwrap_or("");
    host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

async fn dispatch(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: HttpRequest<AxumBody>,
) -> AxumResponse {
    let path = req.uri().path().to_owned();
    let Some(mount) = state.mounts.iter().find(|m| covers(m.api_path, &path)) else {
        return problem(ApiError::NotFound);
    };
    let (parts, body) = req.into_parts();
    // The body limit holds while reading: a declared length over it is refused unread, and an
    // undeclared one is cut off at the limit; a client too slow to send it is dropped.
    let declared =
        parts.headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return closing(problem(ApiError::PayloadTooLarge));
    }
    let body =
        match tokio::time::timeout(state.read_timeout, axum::body::to_bytes(body, MAX_BODY_BYTES)).await {
            Ok(Ok(body)) => body,
            Ok(Err(_)) => return closing(problem(ApiError::PayloadTooLarge)),
            Err(_) => return closing(problem(ApiError::RequestTimeout)),
        };
    let host = parts.headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("localhost");
    let caller = apigw::Caller { source_ip: peer.ip().to_string(), host };
    let event = apigw::event(&parts.method, &parts.uri, &parts.headers, &body, &mount.route_key, &caller);
    let result = apigw::invoke(mount.function.as_ref(), event).await.and_then(|v| apigw::http_response(&v));
    match result {
        Ok(response) => response.map(AxumBody::from).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "function invocation failed");
            problem(ApiError::Internal)
        }
    }
}

/// The response, and the connection closed after it (its request body was not read whole).
fn closing(mut response: AxumResponse) -> AxumResponse {
    response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// A problem+json answered by the gateway itself (no function matched).
pub(crate) fn problem(error: ApiError) -> AxumResponse {
    let response = error.into_response();
    let (mut parts, body) = response.into_parts();
    if let Ok(id) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        parts.headers.insert("x-request-id", id);
    }
    // As every function's response: the README promises it on every response.
    parts.headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let bytes = match body {
        Body::Text(t) => t.into_bytes(),
        Body::Binary(b) => b,
        _ => Vec::new(),
    };
    AxumResponse::from_parts(parts, AxumBody::from(bytes))
}
