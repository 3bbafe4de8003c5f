//! The `ws-ticket` function, the live-updates side of the HTTP API: `POST
//! /api/websocket/ticket` mints a ticket for `?ticket=` on the WebSocket URL (browsers cannot
//! send `Authorization` when opening a socket), and `GET /api/events?after=SEQ` returns the
//! durable events a client missed while its socket was down. Its routes are [`WsTicket::ROUTES`].

use std::sync::Arc;

use http::{Method, StatusCode};
use lambda_http::{Request, RequestExt};
use serde::Serialize;
use shared::Clock;
use shared::auth::Authenticator;
use shared::clock::rfc3339;
use shared::config::{HttpConfig, WsConfig};
use shared::domain::parse_limit;
use shared::env::ConfigError;
use shared::http::{Answer, Cors, Route, Routed, Validator, json};
use shared::ports::Stores;
use shared::runtime::Wiring;
use shared::services::{CatchUp, TicketMinter};

/// The `ws-ticket` function's handler.
#[derive(Clone)]
pub struct WsTicket {
    auth: Authenticator,
    minter: TicketMinter,
    catch_up: CatchUp,
    http: HttpConfig,
    url: String,
}

#[derive(Serialize)]
struct EventsBody {
    events: Vec<serde_json::Value>,
    last_seq: u64,
    has_more: bool,
}

#[derive(Serialize)]
struct TicketView<'a> {
    ticket: &'a str,
    expires_at: String,
    expires_in: i64,
    url: &'a str,
}

impl Routed for WsTicket {
    const API_PATHS: &'static [&'static str] = &["/api/websocket/{proxy+}", "/api/events"];
    const ROUTES: &'static [Route<Self>] = &[
        Route::new(Method::POST, "/api/websocket/ticket", |f, req, _| Box::pin(f.mint(req))),
        Route::new(Method::GET, "/api/events", |f, req, _| Box::pin(f.events(req))),
    ];

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
        let minter = TicketMinter::new(stores.ws_tickets.clone(), ws.tickets, clock.clone());
        let catch_up = CatchUp::new(stores.events.clone(), clock);
        Self { auth, minter, catch_up, http, url: ws.url }
    }

    async fn events(&self, req: &Request) -> Answer {
        let principal = self.auth.authenticate(req.headers()).await?;
        let query = req.query_string_parameters();
        let mut v = Validator::default();
        let limit = v.check("limit", parse_limit(query.first("limit")));
        let after = v.check("after", parse_after(query.first("after")));
        let (Some(limit), Some(after)) = (limit, after) else {
            return Err(v.into_error());
        };
        let missed = self.catch_up.missed(&principal, after, limit).await?;
        json(
            StatusCode::OK,
            &EventsBody { events: missed.events, last_seq: missed.last_seq, has_more: missed.has_more },
        )
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

/// `after`: absent, or a `seq` (a non-negative integer).
fn parse_after(raw: Option<&str>) -> Result<Option<u64>, &'static str> {
    raw.map(|r| r.parse::<u64>().map_err(|_| "must be a non-negative integer")).transpose()
}
