//! The `chat` function: `POST /api/chat/messages`, `GET /api/chat/messages`,
//! `GET /api/chat/conversations`.

use std::sync::Arc;

use http::{Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::{Deserialize, Serialize};
use shared::Clock;
use shared::adapters::knowledge_base::{KnowledgeBase, KnowledgeBaseError};
use shared::auth::Authenticator;
use shared::config::HttpConfig;
use shared::domain::chat::{
    ChatService, Content, ConversationView, MessageView, parse_conversation_cursor, parse_limit,
    parse_message_cursor, plausible_id,
};
use shared::domain::ws::Notifier;
use shared::error::ApiError;
use shared::http::{HttpFunction, Validator, json, json_body, serve};
use shared::ports::{Assistant, Push, Stores};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/articles.rs"));
}

pub use embedded::ARTICLES;

/// Path prefix this function serves (the local gateway routes it here).
pub const PREFIX: &str = "/api/chat/";

/// Every route this function serves (`template.yaml` must route each one here).
pub const ROUTES: &[(&str, &str)] =
    &[("POST", "/api/chat/messages"), ("GET", "/api/chat/messages"), ("GET", "/api/chat/conversations")];

/// Indexes the embedded articles (done once, at cold start).
pub fn knowledge_base() -> Result<KnowledgeBase, KnowledgeBaseError> {
    KnowledgeBase::build(ARTICLES)
}

/// The `chat` function's handler.
#[derive(Clone)]
pub struct Chat {
    auth: Authenticator,
    chat: ChatService,
    http: HttpConfig,
}

/// `POST /api/chat/messages` body (public for the fuzz targets, which parse what the handler parses).
#[derive(Deserialize)]
pub struct PostBody {
    /// The conversation to continue; none starts a new one.
    #[serde(default)]
    pub conversation_id: Option<String>,
    /// The message text.
    #[serde(default)]
    pub content: String,
}

#[derive(Serialize)]
struct PostView {
    conversation_id: String,
    message: MessageView,
    reply: MessageView,
}

#[derive(Serialize)]
struct MessagesView {
    messages: Vec<MessageView>,
    next_cursor: Option<String>,
}

#[derive(Serialize)]
struct ConversationsView {
    conversations: Vec<ConversationView>,
    next_cursor: Option<String>,
}

#[async_trait::async_trait]
impl HttpFunction for Chat {
    async fn handle(&self, req: Request) -> Response<Body> {
        serve(req, &self.http.cors, |req| self.route(req)).await
    }
}

impl Chat {
    /// Wires the handler.
    pub fn new(
        http: HttpConfig,
        stores: &Stores,
        assistant: Arc<dyn Assistant>,
        push: Arc<dyn Push>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let auth = Authenticator::new(http.verifier.clone(), stores, clock.clone());
        let notifier = Notifier::new(stores.connections.clone(), push, clock.clone());
        let chat = ChatService::new(stores.conversations.clone(), assistant, notifier, clock);
        Self { auth, chat, http }
    }

    async fn route(&self, req: Request) -> Result<Response<Body>, ApiError> {
        let (get, post) = (req.method() == Method::GET, req.method() == Method::POST);
        match req.uri().path() {
            "/api/chat/messages" if post => self.post(&req).await,
            "/api/chat/messages" if get => self.messages(&req).await,
            "/api/chat/messages" => Err(ApiError::MethodNotAllowed("GET, POST, OPTIONS")),
            "/api/chat/conversations" if get => self.conversations(&req).await,
            "/api/chat/conversations" => Err(ApiError::MethodNotAllowed("GET, OPTIONS")),
            _ => Err(ApiError::NotFound),
        }
    }

    async fn post(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        let principal = self.auth.authenticate(req.headers()).await?;
        let body: PostBody = json_body(req)?;
        let mut v = Validator::default();
        let Some(content) = v.check("content", Content::parse(&body.content)) else {
            return Err(v.into_error());
        };
        let exchange = self.chat.post(&principal, body.conversation_id.as_deref(), content).await?;
        json(
            StatusCode::CREATED,
            &PostView {
                conversation_id: exchange.conversation_id,
                message: MessageView::from(&exchange.message),
                reply: MessageView::from(&exchange.reply),
            },
        )
    }

    async fn messages(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        let principal = self.auth.authenticate(req.headers()).await?;
        let query = req.query_string_parameters();
        let mut v = Validator::default();
        let conversation_id = v.check(
            "conversation_id",
            query.first("conversation_id").filter(|id| !id.is_empty()).ok_or("is required"),
        );
        let limit = v.check("limit", parse_limit(query.first("limit")));
        let after = v.check("cursor", parse_message_cursor(query.first("cursor")));
        let (Some(conversation_id), Some(limit), Some(after)) = (conversation_id, limit, after) else {
            return Err(v.into_error());
        };
        // Not ours to know: anything that cannot be an id is simply not found.
        if !plausible_id(conversation_id) {
            return Err(ApiError::NotFound);
        }
        let page = self.chat.messages(&principal, conversation_id, after, limit).await?;
        json(
            StatusCode::OK,
            &MessagesView {
                messages: page.items.iter().map(MessageView::from).collect(),
                next_cursor: page.next_cursor,
            },
        )
    }

    async fn conversations(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        let principal = self.auth.authenticate(req.headers()).await?;
        let query = req.query_string_parameters();
        let mut v = Validator::default();
        let limit = v.check("limit", parse_limit(query.first("limit")));
        let before = v.check("cursor", parse_conversation_cursor(query.first("cursor")));
        let (Some(limit), Some(before)) = (limit, before) else {
            return Err(v.into_error());
        };
        let page = self.chat.conversations(&principal, before, limit).await?;
        json(
            StatusCode::OK,
            &ConversationsView {
                conversations: page.items.iter().map(ConversationView::from).collect(),
                next_cursor: page.next_cursor,
            },
        )
    }
}
