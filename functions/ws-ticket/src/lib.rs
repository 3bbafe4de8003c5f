//! The `ws-ticket` function: `POST /api/websocket/ticket` mints a ticket for `?ticket=` on the
//! WebSocket URL (browsers cannot send `Authorization` when opening a socket).

use std::sync::Arc;

use http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde::Serialize;
use shared::Clock;
use shared::auth::Authenticator;
use shared::clock::rfc3339;
use shared::config::{HttpConfig, WsConfig};
use shared::domain::ws::TicketMinter;
use shared::error::ApiError;
use shared::http::{HttpFunction, json, serve};
use shared::ports::Stores;

/// Path prefix this function serves (the local gateway routes it here).
pub const PREFIX: &str = "/api/websocket/";

/// Every route this function serves (`template.yaml` must route each one here).
pub const ROUTES: &[(&str, &str)] = &[("POST", "/api/websocket/ticket")];

/// The `ws-ticket` function's handler.
#[derive(Clone)]
pub struct WsTicket {
    auth: Authenticator,
    minter: TicketMinter,
    http: HttpConfig,
    url: String,
}

#[derive(Serialize)]
struct TicketView<'a> {
    ticket: &'a str,
    expires_at: String,
    expires_in: i64,
    url: &'a str,
}

#[async_trait::async_trait]
impl HttpFunction for WsTicket {
    async fn handle(&self, req: Request) -> Response<Body> {
        serve(req, &self.http.cors, |req| self.route(req)).await
    }
}

impl WsTicket {
    /// Wires the handler.
    pub fn new(http: HttpConfig, ws: WsConfig, stores: &Stores, clock: Arc<dyn Clock>) -> Self {
        let auth = Authenticator::new(http.verifier.clone(), stores, clock.clone());
        let minter = TicketMinter::new(stores.ws_tickets.clone(), ws.tickets, clock);
        Self { auth, minter, http, url: ws.url }
    }

    async fn route(&self, req: Request) -> Result<Response<Body>, ApiError> {
        match req.uri().path() {
            "/api/websocket/ticket" if req.method() == Method::POST => self.mint(&req).await,
            "/api/websocket/ticket" => Err(ApiError::MethodNotAllowed("POST, OPTIONS")),
            _ => Err(ApiError::NotFound),
        }
    }

    async fn mint(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        let principal = self.auth.authenticate(req.headers()).await?;
        let minted = self.minter.mint(&principal).await?;
        json(
            StatusCode::CREATED,
            &TicketView {
                ticket: minted.ticket.expose(),
                expires_at: rfc3339(minted.expires_at),
                expires_in: minted.expires_in,
                url: &self.url,
            },
        )
    }
}
