//! The `ws-ticket` function: `POST /api/websocket/ticket` mints a ticket for `?ticket=` on the
//! WebSocket URL (browsers cannot send `Authorization` when opening a socket). Its routes are
//! [`WsTicket::ROUTES`].

use std::sync::Arc;

use http::{Method, StatusCode};
use lambda_http::Request;
use serde::Serialize;
use shared::Clock;
use shared::auth::Authenticator;
use shared::clock::rfc3339;
use shared::config::{HttpConfig, WsConfig};
use shared::env::ConfigError;
use shared::http::{Answer, Cors, Route, Routed, json};
use shared::ports::Stores;
use shared::runtime::Wiring;
use shared::services::TicketMinter;

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

impl Routed for WsTicket {
    const API_PATHS: &'static [&'static str] = &["/api/websocket/{proxy+}"];
    const ROUTES: &'static [Route<Self>] =
        &[Route::new(Method::POST, "/api/websocket/ticket", |f, req, _| Box::pin(f.mint(req)))];

    fn cors(&self) -> &Cors {
        &self.http.cors
    }
}

impl WsTicket {
    /// Builds the function from the wiring: settings (the WebSocket URL, the ticket policy),
    /// stores and the clock.
    pub fn build(w: &Wiring) -> Result<Self, ConfigError> {
        Ok(Self::new(w.http(false)?, WsConfig::from_source(w.settings())?, w.stores(), w.clock()))
    }

    /// Wires the handler.
    pub fn new(http: HttpConfig, ws: WsConfig, stores: &Stores, clock: Arc<dyn Clock>) -> Self {
        let auth = Authenticator::new(http.keys.clone(), stores, clock.clone());
        let minter = TicketMinter::new(stores.ws_tickets.clone(), ws.tickets, clock);
        Self { auth, minter, http, url: ws.url }
    }

    async fn mint(&self, req: &Request) -> Answer {
        let principal = self.auth.authenticate(req.headers()).await?;
        let minted = self.minter.mint(&principal).await?;
        // Behind the front door the socket is opened on the page's own host, like the API.
        let url = self.http.front_door.websocket_url(req.headers(), &self.url);
        json(
            StatusCode::CREATED,
            &TicketView {
                ticket: minted.ticket.expose(),
                expires_at: rfc3339(minted.expires_at),
                expires_in: minted.expires_in,
                url: &url,
            },
        )
    }
}
