//! The `escalation` function: `POST /api/escalations`, `GET /api/escalations/{id}`,
//! `GET /api/escalations`.

use std::sync::Arc;

use http::{Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::{Deserialize, Serialize};
use shared::Clock;
use shared::auth::Authenticator;
use shared::config::{EscalationConfig, HttpConfig};
use shared::domain::chat::{parse_limit, parse_position_cursor, position_cursor};
use shared::domain::escalation::{
    EscalationRequest, EscalationService, Mailer, TicketView, parse_description, parse_key, parse_subject,
};
use shared::domain::ws::Notifier;
use shared::error::ApiError;
use shared::http::{HttpFunction, Validator, json, json_body, serve};
use shared::ports::{MailTransport, Priority, Push, Stores};

/// Path prefix this function serves (the local gateway routes it here).
pub const PREFIX: &str = "/api/escalations";

/// Every route this function serves (`template.yaml` must route each one here).
pub const ROUTES: &[(&str, &str)] =
    &[("POST", "/api/escalations"), ("GET", "/api/escalations"), ("GET", "/api/escalations/{id}")];

/// The `escalation` function's handler.
#[derive(Clone)]
pub struct Escalation {
    auth: Authenticator,
    service: EscalationService,
    http: HttpConfig,
}

/// `POST /api/escalations` body (public for the fuzz targets, which parse what the handler parses).
#[derive(Deserialize)]
pub struct EscalateBody {
    /// The conversation.
    #[serde(default)]
    pub conversation_id: String,
    /// Ticket subject.
    #[serde(default)]
    pub subject: Option<String>,
    /// Ticket description.
    #[serde(default)]
    pub description: Option<String>,
    /// `low`, `normal`, `high` or `urgent`.
    #[serde(default)]
    pub priority: Option<String>,
}

#[derive(Serialize)]
struct TicketBody {
    ticket: TicketView,
}

#[derive(Serialize)]
struct ListBody {
    tickets: Vec<TicketView>,
    next_cursor: Option<String>,
}

#[async_trait::async_trait]
impl HttpFunction for Escalation {
    async fn handle(&self, req: Request) -> Response<Body> {
        serve(req, &self.http.cors, |req| self.route(req)).await
    }
}

impl Escalation {
    /// Wires the handler: the mail transport is SES in Lambda, the outbox folder locally.
    pub fn new(
        http: HttpConfig,
        config: EscalationConfig,
        stores: &Stores,
        transport: Arc<dyn MailTransport>,
        push: Arc<dyn Push>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let auth = Authenticator::new(http.verifier.clone(), stores, clock.clone());
        let notifier = Notifier::new(stores.connections.clone(), push, clock.clone());
        let mailer = Mailer::new(
            stores.tickets.clone(),
            transport,
            &config.mail,
            config.policy.clone(),
            clock.clone(),
        );
        let service = EscalationService::new(
            stores.users.clone(),
            stores.conversations.clone(),
            stores.tickets.clone(),
            mailer,
            config.mail,
            notifier,
            config.policy,
            clock,
        );
        Self { auth, service, http }
    }

    async fn route(&self, req: Request) -> Result<Response<Body>, ApiError> {
        let path = req.uri().path().trim_end_matches('/').to_owned();
        let (get, post) = (req.method() == Method::GET, req.method() == Method::POST);
        match path.strip_prefix(PREFIX) {
            Some("") if post => self.escalate(&req).await,
            Some("") if get => self.list(&req).await,
            Some("") => Err(ApiError::MethodNotAllowed("GET, POST, OPTIONS")),
            Some(rest) => match rest.strip_prefix('/') {
                Some(id) if !id.contains('/') && get => self.get(&req, id).await,
                Some(id) if !id.contains('/') => Err(ApiError::MethodNotAllowed("GET, OPTIONS")),
                _ => Err(ApiError::NotFound),
            },
            None => Err(ApiError::NotFound),
        }
    }

    async fn escalate(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        let principal = self.auth.authenticate(req.headers()).await?;
        let body: EscalateBody = json_body(req)?;
        let mut v = Validator::default();
        let conversation_id = v.check(
            "conversation_id",
            Some(body.conversation_id).filter(|c| !c.trim().is_empty()).ok_or("is required"),
        );
        let subject = v.check("subject", body.subject.as_deref().map_or(Ok(None), parse_subject));
        let description =
            v.check("description", body.description.as_deref().map_or(Ok(String::new()), parse_description));
        let priority =
            v.check("priority", body.priority.as_deref().map_or(Ok(Priority::Normal), Priority::parse));
        let key = match req.headers().get("idempotency-key") {
            None => Some(None),
            Some(value) => v
                .check(
                    "Idempotency-Key",
                    value.to_str().map_err(|_| "must be visible ASCII").and_then(parse_key),
                )
                .map(Some),
        };
        let (Some(conversation_id), Some(subject), Some(description), Some(priority), Some(idempotency_key)) =
            (conversation_id, subject, description, priority, key)
        else {
            return Err(v.into_error());
        };
        let request = EscalationRequest { conversation_id, subject, description, priority, idempotency_key };
        let outcome = self.service.escalate(&principal, request).await?;
        let status = if outcome.created { StatusCode::CREATED } else { StatusCode::OK };
        json(status, &TicketBody { ticket: TicketView::summary(&outcome.ticket) })
    }

    async fn get(&self, req: &Request, id: &str) -> Result<Response<Body>, ApiError> {
        let principal = self.auth.authenticate(req.headers()).await?;
        let ticket = self.service.ticket(&principal, id).await?;
        json(StatusCode::OK, &TicketBody { ticket: TicketView::full(&ticket) })
    }

    async fn list(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        let principal = self.auth.authenticate(req.headers()).await?;
        let query = req.query_string_parameters();
        let mut v = Validator::default();
        let limit = v.check("limit", parse_limit(query.first("limit")));
        let before = v.check("cursor", parse_position_cursor("t", query.first("cursor")));
        let (Some(limit), Some(before)) = (limit, before) else {
            return Err(v.into_error());
        };
        let mut tickets = self.service.list(&principal, before, limit + 1).await?;
        let next_cursor = (tickets.len() > limit as usize).then(|| {
            tickets.truncate(limit as usize);
            tickets.last().map(|t| position_cursor("t", t.created_at, &t.id)).unwrap_or_default()
        });
        json(
            StatusCode::OK,
            &ListBody { tickets: tickets.iter().map(TicketView::summary).collect(), next_cursor },
        )
    }
}
