//! The gateway's open sockets, the push adapter over them, and the `@connections` management
//! API (`POST`/`DELETE`/`GET /@connections/{id}`) that API Gateway serves for a WebSocket API.
//!
//! API Gateway guards that API with SigV4; this one checks no signature, so it answers only
//! what can only be the backend's own SDK client: a loopback peer, addressing the gateway by its
//! listen address, and no `Origin` (which every browser request from a page carries — a page
//! on any site could otherwise post a forged event to a socket whose id it learned).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use shared::clock::rfc3339;
use shared::ports::{Push, PushError};
use tokio::sync::mpsc;

/// What the gateway writes to a client socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    /// A text frame.
    Text(String),
    /// A close frame; the socket ends.
    Close,
}

struct Socket {
    tx: mpsc::UnboundedSender<Outgoing>,
    connected_at: DateTime<Utc>,
    source_ip: String,
    user_agent: String,
}

/// Open sockets by connection id.
#[derive(Clone, Default)]
pub struct Sockets(Arc<Mutex<HashMap<String, Socket>>>);

impl Sockets {
    /// Registers an accepted socket; frames for it arrive on the returned receiver.
    pub fn register(
        &self,
        id: &str,
        source_ip: String,
        user_agent: String,
    ) -> mpsc::UnboundedReceiver<Outgoing> {
        let (tx, rx) = mpsc::unbounded_channel();
        let socket = Socket { tx, connected_at: Utc::now(), source_ip, user_agent };
        self.lock().insert(id.to_owned(), socket);
        rx
    }

    /// Forgets a socket (it closed).
    pub fn remove(&self, id: &str) {
        self.lock().remove(id);
    }

    /// How many sockets are open.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether none is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn deliver(&self, id: &str, frame: Outgoing) -> Result<(), PushError> {
        let sockets = self.lock();
        let socket = sockets.get(id).ok_or(PushError::Gone)?;
        socket.tx.send(frame).map_err(|_| PushError::Gone)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Socket>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The push port over the gateway's own sockets (SQLite mode).
#[derive(Clone)]
pub struct LocalPush(pub Sockets);

#[async_trait]
impl Push for LocalPush {
    async fn send(&self, connection_id: &str, payload: &str) -> Result<(), PushError> {
        self.0.deliver(connection_id, Outgoing::Text(payload.to_owned()))
    }

    async fn close(&self, connection_id: &str) -> Result<(), PushError> {
        self.0.deliver(connection_id, Outgoing::Close)
    }
}

/// 410 the way API Gateway sends it, so SDKs recognise `GoneException`.
fn gone() -> Response {
    let mut response = (StatusCode::GONE, r#"{"message":"Gone"}"#).into_response();
    let headers = response.headers_mut();
    headers.insert("x-amzn-errortype", HeaderValue::from_static("GoneException"));
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// The management API's state: the sockets and the `Host` its callers must name.
#[derive(Clone)]
pub struct Management {
    /// Open sockets.
    pub sockets: Sockets,
    /// The gateway's listen address (`127.0.0.1:3000`).
    pub host: String,
}

impl Management {
    /// `Some(403)` unless the caller can only be this backend's own SDK client.
    fn refuse(&self, peer: SocketAddr, headers: &HeaderMap) -> Option<Response> {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        let allowed =
            peer.ip().is_loopback() && !headers.contains_key(header::ORIGIN) && host == Some(&self.host);
        (!allowed).then(|| (StatusCode::FORBIDDEN, r#"{"message":"Forbidden"}"#).into_response())
    }
}

/// `POST /@connections/{id}`: the body becomes one text frame.
pub async fn post(
    State(management): State<Management>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(refused) = management.refuse(peer, &headers) {
        return refused;
    }
    let sockets = management.sockets;
    let text = String::from_utf8_lossy(&body).into_owned();
    match sockets.deliver(&id, Outgoing::Text(text)) {
        Ok(()) => StatusCode::OK.into_response(),
        Err(_) => gone(),
    }
}

/// `DELETE /@connections/{id}`: closes the socket.
pub async fn delete(
    State(management): State<Management>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = management.refuse(peer, &headers) {
        return refused;
    }
    let sockets = management.sockets;
    match sockets.deliver(&id, Outgoing::Close) {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(_) => gone(),
    }
}

/// `GET /@connections/{id}`: when and from where the socket connected.
pub async fn get(
    State(management): State<Management>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = management.refuse(peer, &headers) {
        return refused;
    }
    let sockets = management.sockets;
    let info = sockets.lock().get(&id).map(|s| {
        serde_json::json!({
            "ConnectedAt": rfc3339(s.connected_at),
            "LastActiveAt": rfc3339(Utc::now()),
            "Identity": { "SourceIp": s.source_ip, "UserAgent": s.user_agent },
        })
    });
    match info {
        Some(info) => ([(header::CONTENT_TYPE, "application/json")], info.to_string()).into_response(),
        None => gone(),
    }
}
