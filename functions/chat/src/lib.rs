//! The `chat` function: post a message and get the assistant's reply, read a conversation's
//! messages, list the user's conversations. Its routes are [`Chat::ROUTES`].

use std::sync::Arc;

use http::{Method, StatusCode};
use lambda_http::{Request, RequestExt};
use serde::{Deserialize, Serialize};
use shared::Clock;
use shared::adapters::knowledge_base::{KnowledgeBase, KnowledgeBaseError};
use shared::auth::Authenticator;
use shared::config::{EscalationConfig, HttpConfig};
use shared::domain::mail::MailSettings;
use shared::domain::{
    Content, ConversationView, Cursor, MessageView, TicketView, parse_limit, parse_message_cursor,
    plausible_id,
};
use shared::error::ApiError;
use shared::http::{Answer, Cors, Route, Routed, Validator, json, json_body};
use shared::ports::{Assistant, Push, Stores};
use shared::runtime::Wiring;
use shared::services::{CONVERSATIONS, ChatService, Notifier};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/articles.rs"));
}

pub use embedded::ARTICLES;

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
    /// None while a person handles the conversation.
    reply: Option<MessageView>,
    /// `support` when the message went to the ticket's handler instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    forwarded_to: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ticket: Option<TicketView>,
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

impl Routed for Chat {
    const API_PATHS: &'static [&'static str] = &["/api/chat/{proxy+}"];
    const ROUTES: &'static [Route<Self>] = &[
        Route::new(Method::POST, "/api/chat/messages", |f, req, _| Box::pin(f.post(req))),
        Route::new(Method::GET, "/api/chat/messages", |f, req, _| Box::pin(f.messages(req))),
        Route::new(Method::GET, "/api/chat/conversations", |f, req, _| Box::pin(f.conversations(req))),
    ];

    fn cors(&self) -> &Cors {
        &self.http.cors
    }
}

impl Chat {
    /// Builds the function from the wiring: settings (the mail addresses forwarded messages
    /// use), stores, push, and the knowledge base indexed from the embedded articles.
    pub fn build(w: &Wiring) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        let started = std::time::Instant::now();
        let knowledge_base = knowledge_base()?;
        let (articles, passages) = knowledge_base.size();
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        tracing::info!(articles, passages, micros, "knowledge base indexed");
        let mail = EscalationConfig::from_source(w.settings())?.mail;
        Ok(Self::new(w.http(false)?, w.stores(), Arc::new(knowledge_base), w.push()?, mail, w.clock()))
    }

    /// Wires the handler.
    pub fn new(
        http: HttpConfig,
        stores: &Stores,
        assistant: Arc<dyn Assistant>,
        push: Arc<dyn Push>,
        mail: MailSettings,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let auth = Authenticator::new(http.keys.clone(), stores, clock.clone());
        let notifier = Notifier::new(stores, push, clock.clone());
        let chat = ChatService::new(stores, assistant, notifier, mail, clock);
        Self { auth, chat, http }
    }

    async fn post(&self, req: &Request) -> Answer {
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
                reply: exchange.reply.as_ref().map(MessageView::from),
                forwarded_to: exchange.forwarded_to.is_some().then_some("support"),
                ticket: exchange.forwarded_to.as_ref().map(TicketView::summary),
            },
        )
    }

    async fn messages(&self, req: &Request) -> Answer {
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

    async fn conversations(&self, req: &Request) -> Answer {
        let principal = self.auth.authenticate(req.headers()).await?;
        let query = req.query_string_parameters();
        let mut v = Validator::default();
        let limit = v.check("limit", parse_limit(query.first("limit")));
        let before = v.check("cursor", Cursor::parse(CONVERSATIONS, query.first("cursor")));
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
