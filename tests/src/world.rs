//! All HTTP functions and the retry worker wired in process over one set of stores, with a
//! chosen mail transport and clock: the Lambda wiring without API Gateway.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use lambda_http::{Body, Request, Response};
use serde_json::Value;
use shared::Clock;
use shared::http::HttpFunction;
use shared::ports::{MailError, MailTransport, OutgoingMail, Sent, Stores};

/// The world's mail: address-verification mails are delivered (kept here, so a test user can
/// confirm its address), everything else goes to the transport under test, which may fail.
struct Mailroom {
    inner: Arc<dyn MailTransport>,
    verifications: Mutex<Vec<(String, String)>>,
}

#[async_trait]
impl MailTransport for Mailroom {
    async fn send(&self, mail: &OutgoingMail<'_>) -> Result<Sent, MailError> {
        if mail.name.starts_with("verify-") {
            let raw = String::from_utf8_lossy(mail.raw).into_owned();
            self.verifications.lock().expect("mailroom").push((mail.to.to_owned(), raw));
            return Ok(Sent::default());
        }
        self.inner.send(mail).await
    }
}

/// The functions.
pub struct World {
    /// `login`.
    pub login: login::Login,
    /// `chat`.
    pub chat: chat::Chat,
    /// `escalation`.
    pub escalation: escalation::Escalation,
    /// `mail-retry`.
    pub retry: mail_retry::MailRetry,
    mailroom: Arc<Mailroom>,
}

/// Settings every world uses (the mail addresses matter to SES: the sender must be verified).
pub fn settings(from: &str) -> impl Fn(&str) -> Option<String> + use<> {
    let from = from.to_owned();
    move |var: &str| match var {
        "MAIL_FROM" => Some(format!("Support <{from}>")),
        "SUPPORT_EMAIL" => Some("help@example.com".to_owned()),
        "MAIL_MAX_ATTEMPTS" => Some("3".to_owned()),
        "PASSWORD_RESET_URL" => Some("https://app.example/reset-password".to_owned()),
        "EMAIL_VERIFY_URL" => Some("https://app.example/verify-email".to_owned()),
        _ => None,
    }
}

impl World {
    /// Wires every function over `stores`.
    pub fn new(
        stores: &Stores,
        transport: Arc<dyn MailTransport>,
        clock: Arc<dyn Clock>,
        from: &str,
    ) -> Self {
        let mailroom = Arc::new(Mailroom { inner: transport, verifications: Mutex::default() });
        let transport: Arc<dyn MailTransport> = mailroom.clone();
        let w = crate::wiring(settings(from), stores.clone(), transport, clock);
        Self {
            login: login::Login::build(&w).expect("login"),
            chat: chat::Chat::build(&w).expect("chat"),
            escalation: escalation::Escalation::build(&w).expect("escalation"),
            retry: mail_retry::MailRetry::build(&w).expect("mail-retry"),
            mailroom,
        }
    }

    /// Registers an account, confirms its address with the mailed link and opens a
    /// conversation; returns (token, conversation id).
    pub async fn user_with_conversation(&self, email: &str, question: &str) -> (String, String) {
        let r = self
            .login
            .handle(post(
                "/api/auth/register",
                None,
                serde_json::json!({"email": email, "password": "correct horse battery"}),
            ))
            .await;
        let token = body(&r)["access_token"].as_str().expect("token").to_owned();
        let mail = self
            .mailroom
            .verifications
            .lock()
            .expect("mailroom")
            .iter()
            .rev()
            .find(|(to, _)| to == email)
            .map(|(_, raw)| raw.clone())
            .expect("a verification mail");
        let verify = serde_json::json!({ "token": crate::link_token(&mail, "?token=") });
        let r = self.login.handle(post("/api/auth/email/verify", None, verify)).await;
        assert_eq!(r.status(), 204, "{email} verifies");
        let r = self
            .chat
            .handle(post("/api/chat/messages", Some(&token), serde_json::json!({"content": question})))
            .await;
        (token, body(&r)["conversation_id"].as_str().expect("conversation").to_owned())
    }
}

/// A JSON POST as `lambda_http` hands it over.
pub fn post(path: &str, token: Option<&str>, json: Value) -> Request {
    let mut b = http::Request::builder().method("POST").uri(path).header("content-type", "application/json");
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    b.body(Body::Text(json.to_string())).expect("request")
}

/// A response's JSON body.
pub fn body(r: &Response<Body>) -> Value {
    match r.body() {
        Body::Text(t) => serde_json::from_str(t).expect("json body"),
        _ => Value::Null,
    }
}
