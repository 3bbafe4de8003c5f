//! The `ws-connect` function: the WebSocket API's routes.
//!
//! - `$connect`: a ticket (`?ticket=`, redeemed exactly once) or `Authorization: Bearer`
//!   (through the same `authenticate` as HTTP, and counted against the user's ticket quota); a
//!   present foreign `Origin` is refused; a user holds at most `MAX_SOCKETS_PER_USER` live
//!   connections. The connection is stored findable by user and by session.
//! - `$disconnect`: forgets the connection.
//! - `$default`: `{"action":"ping"}` answers `{"type":"pong"}`; anything else an error frame.

use shared::telemetry::metrics::{self, Metric};
use std::sync::Arc;

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body;
use chrono::Duration;
use http::header::ORIGIN;
use serde::Deserialize;
use shared::Clock;
use shared::auth::limits::seconds_until;
use shared::auth::{AuthError, Authenticator};
use shared::config::{ConnectPolicy, HttpConfig};
use shared::domain::{ConnectionRecord, Principal, ServerEvent};
use shared::env::ConfigError;
use shared::error::ApiError;
use shared::http::Cors;
use shared::ports::{ConnectGate, Connections, Opened, Stores};
use shared::runtime::{EventFunction, Wiring};
use shared::services::minting_quota;
use tracing::Instrument;

/// API Gateway closes WebSocket connections after two hours; records expire with them.
pub const CONNECTION_LIFETIME: Duration = Duration::hours(2);

/// The `ws-connect` function's handler.
#[derive(Clone)]
pub struct WsConnect {
    auth: Authenticator,
    cors: Cors,
    policy: ConnectPolicy,
    connections: Arc<dyn Connections>,
    clock: Arc<dyn Clock>,
}

#[derive(Deserialize)]
struct Frame {
    action: String,
}

impl WsConnect {
    /// Builds the function from the wiring: settings (origins, keys, the connection policy),
    /// stores and the clock.
    pub fn build(w: &Wiring) -> Result<Self, ConfigError> {
        Ok(Self::new(w.http(false)?, ConnectPolicy::from_source(w.settings())?, w.stores(), w.clock()))
    }

    /// Wires the handler.
    pub fn new(http: HttpConfig, policy: ConnectPolicy, stores: &Stores, clock: Arc<dyn Clock>) -> Self {
        let auth = Authenticator::new(http.keys.clone(), stores, clock.clone());
        Self { auth, cors: http.cors, policy, connections: stores.connections.clone(), clock }
    }

    /// Handles one WebSocket event. Never logs the query string (it carries the ticket).
    pub async fn handle(&self, event: ApiGatewayWebsocketProxyRequest) -> ApiGatewayProxyResponse {
        let ctx = &event.request_context;
        let route = ctx.route_key.clone().unwrap_or_default();
        let connection_id = ctx.connection_id.clone().unwrap_or_default();
        let span = tracing::info_span!(
            "ws",
            request_id = %ctx.request_id.as_deref().unwrap_or(""),
            route = %route,
            // Not the id itself: locally it is enough to push to the socket.
            connection = %shared::telemetry::fingerprint(&connection_id),
        );
        async move {
            let response = match route.as_str() {
                "$connect" => self.connect(&event, &connection_id).await,
                "$disconnect" => self.disconnect(&connection_id).await,
                _ => reply(&default_route(&event)),
            };
            tracing::info!(status = response.status_code, "ws event done");
            response
        }
        .instrument(span)
        .await
    }

    async fn connect(
        &self,
        event: &ApiGatewayWebsocketProxyRequest,
        connection_id: &str,
    ) -> ApiGatewayProxyResponse {
        if connection_id.is_empty() {
            return refuse(ApiError::BadRequest("The event has no connection id."));
        }
        if event.headers.get(ORIGIN).is_some_and(|origin| !self.cors.allows(&event.headers, origin)) {
            return refuse(ApiError::OriginNotAllowed);
        }
        let (principal, ticket) = match self.identify(event).await {
            Ok(identified) => identified,
            Err(e) => return refuse(e.into()),
        };
        let now = self.clock.now();
        let record = ConnectionRecord {
            id: connection_id.to_owned(),
            user_id: principal.user().id.clone(),
            session_id: principal.session_id().clone(),
            connected_at: now,
            expires_at: now + CONNECTION_LIFETIME,
        };
        // One write: the ticket is spent (a concurrent connect with it that got there first makes
        // this one a 401), a bearer connect is counted, and the user's cap holds; a refusal or a
        // store failure writes nothing, so the ticket stays usable for a retry.
        let quota = ticket.is_none().then(|| minting_quota(&record.user_id, self.policy.per_minute, now));
        let gate = ConnectGate { ticket, quota: quota.clone(), max_per_user: self.policy.max_per_user };
        match self.connections.open(&record, &gate, now).await {
            Ok(Opened::Stored) => response(200, None),
            Ok(Opened::TicketRefused) => refuse(AuthError::InvalidToken.into()),
            Ok(Opened::OverQuota) => {
                let until = quota.map_or(now, |q| q.window_end);
                refuse(ApiError::RateLimited { retry_after: seconds_until(until, now) })
            }
            Ok(Opened::TooManyConnections) => refuse(ApiError::TooManyConnections),
            Err(e) => refuse(e.into()),
        }
    }

    /// A ticket if one is given (with its id, spent when the connection is stored), else a
    /// bearer token; never anything from the query but the ticket.
    async fn identify(
        &self,
        event: &ApiGatewayWebsocketProxyRequest,
    ) -> Result<(Principal, Option<String>), AuthError> {
        match event.query_string_parameters.first("ticket") {
            Some(ticket) => self.auth.check_ticket(ticket).await.map(|(p, id)| (p, Some(id))),
            None => self.auth.authenticate(&event.headers).await.map(|p| (p, None)),
        }
    }

    async fn disconnect(&self, connection_id: &str) -> ApiGatewayProxyResponse {
        if let Err(e) = self.connections.delete(connection_id).await {
            // The record expires with its TTL anyway; pushes to it will find it gone.
            tracing::warn!(error = %e, "forgetting a closed connection failed");
        }
        response(200, None)
    }
}

#[async_trait::async_trait]
impl EventFunction for WsConnect {
    type Event = ApiGatewayWebsocketProxyRequest;
    type Output = ApiGatewayProxyResponse;
    type Error = std::convert::Infallible;

    async fn invoke(&self, event: Self::Event) -> Result<Self::Output, Self::Error> {
        Ok(self.handle(event).await)
    }
}

/// The answer to a client frame on `$default`.
fn default_route(event: &ApiGatewayWebsocketProxyRequest) -> ServerEvent {
    let frame = event
        .body
        .as_deref()
        .filter(|_| !event.is_base64_encoded)
        .and_then(|body| serde_json::from_str::<Frame>(body).ok());
    match frame {
        None => ServerEvent::Error { code: "bad_frame" },
        Some(f) if f.action == "ping" => ServerEvent::Pong,
        Some(_) => ServerEvent::Error { code: "unknown_action" },
    }
}

fn response(status: i64, body: Option<String>) -> ApiGatewayProxyResponse {
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = status;
    response.body = body.map(Body::Text);
    response
}

/// A frame sent back on the client's socket (the `$default` route response).
fn reply(event: &ServerEvent) -> ApiGatewayProxyResponse {
    response(200, Some(event.to_json()))
}

/// A refused handshake: the status and problem body API Gateway passes back to the client.
fn refuse(error: ApiError) -> ApiGatewayProxyResponse {
    metrics::count(Metric::WebSocketRefusals, error.code());
    let mut response = response(i64::from(error.status().as_u16()), Some(error.body()));
    // The problem's own headers: its content type, the challenge, `Retry-After`.
    response.headers = error.into_response().headers().clone();
    response
}
