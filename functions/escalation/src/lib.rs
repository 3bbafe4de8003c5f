//! The `escalation` function: open a support ticket for a conversation (mailing the support
//! team and the user), read one, list the user's, resolve one, rate one. Its routes are
//! [`Escalation::ROUTES`].

use std::sync::Arc;

use http::{Method, StatusCode};
use lambda_http::{Request, RequestExt};
use serde::{Deserialize, Serialize};
use shared::Clock;
use shared::auth::Authenticator;
use shared::config::{EscalationConfig, HttpConfig};
use shared::domain::{
    Cursor, EscalationRequest, Priority, Score, TicketChange, TicketView, parse_comment, parse_description,
    parse_key, parse_limit, parse_subject,
};
use shared::env::ConfigError;
use shared::http::{Answer, Cors, Route, Routed, Validator, json, json_body};
use shared::ports::{MailTransport, Push, Stores};
use shared::runtime::Wiring;
use shared::services::{EscalationService, Mailer, Notifier, TICKETS};

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

/// `POST /api/escalations/{id}/rating` body (public for the fuzz targets).
#[derive(Deserialize)]
pub struct RatingBody {
    /// `good` or `bad`.
    #[serde(default)]
    pub score: String,
    /// What the user adds.
    #[serde(default)]
    pub comment: Option<String>,
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

impl Routed for Escalation {
    const API_PATHS: &'static [&'static str] = &["/api/escalations", "/api/escalations/{proxy+}"];
    const ROUTES: &'static [Route<Self>] = &[
        Route::new(Method::POST, "/api/escalations", |f, req, _| Box::pin(f.escalate(req))),
        Route::new(Method::GET, "/api/escalations", |f, req, _| Box::pin(f.list(req))),
        Route::new(Method::GET, "/api/escalations/{id}", |f, req, id| Box::pin(f.get(req, id))),
        Route::new(Method::POST, "/api/escalations/{id}/resolve", |f, req, id| Box::pin(f.resolve(req, id))),
        Route::new(Method::POST, "/api/escalations/{id}/rating", |f, req, id| Box::pin(f.rate(req, id))),
    ];

    fn cors(&self) -> &Cors {
        &self.http.cors
    }
}

impl Escalation {
    /// Builds the function from the wiring: settings, stores, mail and push.
    pub fn build(w: &Wiring) -> Result<Self, ConfigError> {
        let config = EscalationConfig::from_source(w.settings())?;
        Ok(Self::new(w.http(false)?, config, w.stores(), w.mail()?, w.push()?, w.clock()))
    }

    /// Wires the handler: the mail transport is SES in Lambda, the outbox folder locally.
    pub fn new(
        http: HttpConfig,
        config: EscalationConfig,
        stores: &Stores,
        transport: Arc<dyn MailTransport>,
        push: Arc<dyn Push>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let auth = Authenticator::new(http.keys.clone(), stores, clock.clone());
        let notifier = Notifier::new(stores, push, clock.clone());
        let mailer = Mailer::new(
            stores.tickets.clone(),
            transport,
            &config.mail,
            config.policy.clone(),
            clock.clone(),
        );
        let service = EscalationService::new(stores, mailer, config.mail, notifier, config.policy, clock);
        Self { auth, service, http }
    }

    async fn escalate(&self, req: &Request) -> Answer {
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
        let site = self.http.front_door.origin(req.headers());
        let request =
            EscalationRequest { conversation_id, subject, description, priority, idempotency_key, site };
        let outcome = self.service.escalate(&principal, request).await?;
        let status = if outcome.created { StatusCode::CREATED } else { StatusCode::OK };
        json(status, &TicketBody { ticket: TicketView::summary(&outcome.ticket) })
    }

    async fn get(&self, req: &Request, id: &str) -> Answer {
        let principal = self.auth.authenticate(req.headers()).await?;
        let ticket = self.service.ticket(&principal, id).await?;
        json(StatusCode::OK, &TicketBody { ticket: TicketView::full(&ticket) })
    }

    async fn resolve(&self, req: &Request, id: &str) -> Answer {
        let principal = self.auth.authenticate(req.headers()).await?;
        let ticket = self.service.change(&principal, id, TicketChange::Resolve).await?;
        json(StatusCode::OK, &TicketBody { ticket: TicketView::summary(&ticket) })
    }

    async fn rate(&self, req: &Request, id: &str) -> Answer {
        let principal = self.auth.authenticate(req.headers()).await?;
        let body: RatingBody = json_body(req)?;
        let mut v = Validator::default();
        let score = v.check("score", Score::parse(&body.score));
        let comment = v.check("comment", body.comment.as_deref().map_or(Ok(String::new()), parse_comment));
        let (Some(score), Some(comment)) = (score, comment) else {
            return Err(v.into_error());
        };
        let ticket = self.service.rate(&principal, id, score, comment).await?;
        json(StatusCode::OK, &TicketBody { ticket: TicketView::summary(&ticket) })
    }

    async fn list(&self, req: &Request) -> Answer {
        let principal = self.auth.authenticate(req.headers()).await?;
        let query = req.query_string_parameters();
        let mut v = Validator::default();
        let limit = v.check("limit", parse_limit(query.first("limit")));
        let before = v.check("cursor", Cursor::parse(TICKETS, query.first("cursor")));
        let (Some(limit), Some(before)) = (limit, before) else {
            return Err(v.into_error());
        };
        let page = self.service.list(&principal, before, limit).await?;
        json(
            StatusCode::OK,
            &ListBody {
                tickets: page.items.iter().map(TicketView::summary).collect(),
                next_cursor: page.next_cursor,
            },
        )
    }
}
