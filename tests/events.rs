//! Every sample event in `events/` runs through its function's handler — HTTP events through
//! the same `lambda_http` adapter Lambda uses, WebSocket events as `lambda_runtime` delivers
//! them — with the exact status and key fields asserted. One clock drives all three functions,
//! so the "expired ticket" event really is past its expiry while still stored.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{Duration, SubsecRound, Utc};
use local_gateway::apigw;
use login::Login;
use serde_json::Value;
use shared::adapters::sqlite::SqliteStore;
use shared::clock::ManualClock;
use shared::ports::{Conversations, ReceivedMail, Stores};
use ws_connect::WsConnect;
use ws_ticket::WsTicket;

/// One step of the replay.
enum Step {
    /// Run `events/<folder>/<file>` and expect this status (and problem code, or frame).
    Event { folder: &'static str, file: &'static str, status: u64, code: Option<&'static str> },
    /// Move the shared clock forward.
    Advance(i64),
}

const fn ok(folder: &'static str, file: &'static str, status: u64) -> Step {
    Step::Event { folder, file, status, code: None }
}

const fn fails(folder: &'static str, file: &'static str, status: u64, code: &'static str) -> Step {
    Step::Event { folder, file, status, code: Some(code) }
}

/// In order: later events use the credentials earlier ones produced.
const STEPS: &[Step] = &[
    ok("login", "register.json", 201),
    fails("login", "register-duplicate-email.json", 409, "email_taken"),
    fails("login", "register-invalid-fields.json", 400, "validation_failed"),
    fails("login", "register-wrong-types.json", 400, "validation_failed"),
    fails("login", "register-malformed-json.json", 400, "bad_request"),
    fails("login", "register-wrong-content-type.json", 415, "unsupported_media_type"),
    ok("login", "login.json", 200),
    fails("login", "login-wrong-password.json", 401, "invalid_credentials"),
    fails("login", "login-unknown-email.json", 401, "invalid_credentials"),
    ok("login", "me.json", 200),
    fails("login", "me-no-token.json", 401, "unauthenticated"),
    fails("login", "me-forged-token.json", 401, "unauthenticated"),
    ok("ws-ticket", "mint.json", 201),
    // The origin is checked before the ticket is spent: the same ticket then connects.
    fails("ws-connect", "connect-foreign-origin.json", 403, "origin_not_allowed"),
    ok("ws-connect", "connect-ticket.json", 200),
    fails("ws-connect", "connect-ticket-reused.json", 401, "unauthenticated"),
    ok("ws-ticket", "mint.json", 201),
    Step::Advance(301),
    fails("ws-connect", "connect-ticket-expired.json", 401, "unauthenticated"),
    fails("ws-connect", "connect-bogus-ticket.json", 401, "unauthenticated"),
    fails("ws-connect", "connect-no-credentials.json", 401, "unauthenticated"),
    ok("ws-connect", "connect-bearer.json", 200),
    fails("ws-connect", "connect-forged-bearer.json", 401, "unauthenticated"),
    ok("ws-connect", "default-ping.json", 200),
    ok("ws-connect", "default-unknown-action.json", 200),
    ok("ws-connect", "default-bad-frame.json", 200),
    ok("ws-connect", "disconnect.json", 200),
    fails("ws-ticket", "mint-no-token.json", 401, "unauthenticated"),
    fails("ws-ticket", "mint-wrong-method.json", 405, "method_not_allowed"),
    ok("chat", "post-new-conversation.json", 201),
    ok("chat", "post-follow-up.json", 201),
    fails("chat", "post-empty-content.json", 400, "validation_failed"),
    fails("chat", "post-too-long.json", 400, "validation_failed"),
    fails("chat", "post-foreign-conversation.json", 404, "not_found"),
    fails("chat", "post-no-token.json", 401, "unauthenticated"),
    ok("chat", "get-messages.json", 200),
    fails("chat", "get-messages-missing-id.json", 400, "validation_failed"),
    fails("chat", "get-messages-bad-cursor.json", 400, "validation_failed"),
    fails("chat", "get-messages-foreign-conversation.json", 404, "not_found"),
    ok("chat", "get-conversations.json", 200),
    fails("chat", "wrong-method.json", 405, "method_not_allowed"),
    // Escalation mails the user: only once the address is confirmed by the mailed link.
    fails("escalation", "post-escalation-unverified.json", 403, "email_unverified"),
    ok("login", "resend-verification.json", 204),
    ok("login", "verify-email.json", 204),
    fails("login", "verify-email.json", 400, "invalid_verification_token"),
    fails("login", "resend-verification.json", 409, "already_verified"),
    ok("escalation", "post-escalation.json", 201),
    ok("escalation", "post-escalation-same-key.json", 200),
    ok("escalation", "post-escalation-same-conversation.json", 200),
    fails("escalation", "post-escalation-foreign-conversation.json", 404, "not_found"),
    fails("escalation", "post-escalation-bad-priority.json", 400, "validation_failed"),
    fails("escalation", "post-escalation-no-token.json", 401, "unauthenticated"),
    ok("escalation", "get-escalation.json", 200),
    fails("escalation", "get-escalation-unknown.json", 404, "not_found"),
    ok("escalation", "list-escalations.json", 200),
    // Replies to the ticket's mails, as SES receiving delivers them: support's is taken (and its
    // #pending line waits on the user); a failed DMARC check and a stranger are refused.
    ok("mail-inbound", "reply-from-support.json", 200),
    ok("mail-inbound", "reply-failed-dmarc.json", 200),
    ok("mail-inbound", "reply-unknown-sender.json", 200),
    // The ticket's lifecycle: rated only once resolved, and only once.
    fails("escalation", "rate-escalation.json", 409, "ticket_not_resolved"),
    ok("escalation", "resolve-escalation.json", 200),
    ok("escalation", "rate-escalation.json", 200),
    fails("escalation", "rate-escalation.json", 409, "already_rated"),
    ok("mail-retry", "scheduled-event.json", 200),
    ok("login", "refresh.json", 200),
    fails("login", "refresh-foreign-origin.json", 403, "origin_not_allowed"),
    fails("login", "refresh-no-cookie.json", 401, "session_invalid"),
    ok("login", "logout.json", 204),
    // The same credentials after logout.
    fails("login", "me.json", 401, "unauthenticated"),
    fails("login", "refresh.json", 401, "session_invalid"),
    fails("login", "unknown-route.json", 404, "not_found"),
    fails("login", "wrong-method.json", 405, "method_not_allowed"),
    // The account lifecycle: two sessions, one revoked from the other.
    ok("login", "login.json", 200),
    ok("login", "login.json", 200),
    ok("login", "list-sessions.json", 200),
    ok("login", "revoke-session.json", 204),
    fails("login", "revoke-session.json", 404, "not_found"),
    fails("login", "change-password-wrong-current.json", 400, "validation_failed"),
    ok("login", "change-password.json", 204),
    fails("login", "login.json", 401, "invalid_credentials"),
    // The reset mail's link sets the sample password back, once; it ends every session.
    ok("login", "forgot-password.json", 202),
    ok("login", "forgot-password-unknown-email.json", 202),
    ok("login", "reset-password.json", 204),
    fails("login", "reset-password.json", 400, "invalid_reset_token"),
    fails("login", "me.json", 401, "unauthenticated"),
    ok("login", "login.json", 200),
    fails("login", "delete-account-wrong-password.json", 400, "validation_failed"),
    ok("login", "delete-account.json", 204),
    fails("login", "login.json", 401, "invalid_credentials"),
    ok("login", "register.json", 201),
];

fn events_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("events")
}

/// The reply addresses' domain and key the functions get (`InboundMailDomain`, and the secret).
const REPLY_DOMAIN: &str = "reply.example.com";
const REPLY_KEY: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// What SES receiving's S3 action stored, by message id: filled from the `.eml` beside each
/// `mail-inbound` event before it runs.
#[derive(Default)]
struct Stored(std::sync::Mutex<std::collections::HashMap<String, Vec<u8>>>);

#[async_trait::async_trait]
impl ReceivedMail for Stored {
    async fn get(&self, message_id: &str) -> shared::ports::StoreResult<Option<Vec<u8>>> {
        Ok(self.0.lock().unwrap().get(message_id).cloned())
    }

    fn location(&self, message_id: &str) -> String {
        format!("memory://{message_id}")
    }
}

struct Functions {
    login: Arc<Login>,
    chat: Arc<chat::Chat>,
    escalation: Arc<escalation::Escalation>,
    mail_retry: mail_retry::MailRetry,
    mail_inbound: mail_inbound::MailInbound,
    received: Arc<Stored>,
    ws_ticket: Arc<WsTicket>,
    ws_connect: Arc<WsConnect>,
    store: Arc<SqliteStore>,
}

fn functions(dir: &Path, clock: Arc<ManualClock>) -> Functions {
    let settings = |var: &str| match var {
        "ALLOWED_ORIGINS" => Some("https://app.example.com".to_owned()),
        "WEBSOCKET_URL" => Some("wss://ws123.execute-api.us-east-1.amazonaws.com/prod".to_owned()),
        "MAIL_FROM" => Some("Support <support@example.com>".to_owned()),
        "SUPPORT_EMAIL" => Some("help@example.com".to_owned()),
        "PASSWORD_RESET_URL" => Some("https://app.example.com/reset-password".to_owned()),
        "EMAIL_VERIFY_URL" => Some("https://app.example.com/verify-email".to_owned()),
        "INBOUND_MAIL_DOMAIN" => Some(REPLY_DOMAIN.to_owned()),
        "INBOUND_REPLY_KEY" => Some(REPLY_KEY.to_owned()),
        _ => None,
    };
    let store = Arc::new(SqliteStore::open(&dir.join("app.db")).unwrap());
    let outbox = Arc::new(shared::adapters::outbox::Outbox::new(dir.join("outbox")));
    let received = Arc::new(Stored::default());
    let w = e2e::wiring(settings, Stores::single(store.clone()), outbox, clock)
        .with_received_mail(received.clone());
    Functions {
        login: Arc::new(Login::build(&w).unwrap()),
        chat: Arc::new(chat::Chat::build(&w).unwrap()),
        escalation: Arc::new(escalation::Escalation::build(&w).unwrap()),
        mail_retry: mail_retry::MailRetry::build(&w).unwrap(),
        mail_inbound: mail_inbound::MailInbound::build(&w).unwrap(),
        received,
        ws_ticket: Arc::new(WsTicket::build(&w).unwrap()),
        ws_connect: Arc::new(WsConnect::build(&w).unwrap()),
        store,
    }
}

/// The response JSON a function hands back for this event.
async fn run(functions: &Functions, folder: &str, event: Value) -> Value {
    match folder {
        "login" => apigw::invoke(functions.login.as_ref(), event).await.unwrap(),
        "ws-ticket" => apigw::invoke(functions.ws_ticket.as_ref(), event).await.unwrap(),
        "chat" => apigw::invoke(functions.chat.as_ref(), event).await.unwrap(),
        "escalation" => apigw::invoke(functions.escalation.as_ref(), event).await.unwrap(),
        // A scheduled function answers with its run summary; shaped like a response here.
        "mail-retry" => {
            let run = functions.mail_retry.handle(event).await.unwrap();
            serde_json::json!({ "statusCode": 200, "body": serde_json::to_string(&run).unwrap() })
        }
        "mail-inbound" => {
            let run = functions.mail_inbound.handle(serde_json::from_value(event).unwrap()).await.unwrap();
            serde_json::json!({ "statusCode": 200, "body": serde_json::to_string(&run).unwrap() })
        }
        "ws-connect" => {
            let response = functions.ws_connect.handle(serde_json::from_value(event).unwrap()).await;
            serde_json::to_value(response).unwrap()
        }
        other => panic!("no function for events/{other}"),
    }
}

#[test]
fn every_event_file_has_an_expectation() {
    let mut files = BTreeSet::new();
    for folder in ["login", "ws-ticket", "ws-connect", "chat", "escalation", "mail-retry", "mail-inbound"] {
        for entry in std::fs::read_dir(events_dir().join(folder)).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if name.ends_with(".json") {
                files.insert(format!("{folder}/{name}"));
            }
        }
    }
    let covered: BTreeSet<String> = STEPS
        .iter()
        .filter_map(|s| match s {
            Step::Event { folder, file, .. } => Some(format!("{folder}/{file}")),
            Step::Advance(_) => None,
        })
        .collect();
    assert_eq!(files, covered, "every event is run, and every expectation has its file");
}

#[tokio::test]
async fn every_event_produces_its_documented_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(Utc::now().trunc_subsecs(0)));
    let functions = functions(dir.path(), clock.clone());
    let (mut access_token, mut session_token, mut ws_ticket) = (String::new(), String::new(), String::new());
    let mut user_id = String::new();
    let mut conversation_id = String::new();
    let mut ticket_id = String::new();
    let (mut reset_token, mut session_id, mut forgot_body) = (String::new(), String::new(), String::new());
    let (mut verify_token, mut seen_mails) = (String::new(), std::collections::HashSet::new());
    seed_foreign_conversation(&functions).await;
    for step in STEPS {
        let (folder, file, status, code) = match step {
            Step::Advance(secs) => {
                clock.advance(Duration::seconds(*secs));
                continue;
            }
            Step::Event { folder, file, status, code } => (*folder, *file, *status, *code),
        };
        let name = format!("{folder}/{file}");
        let text = std::fs::read_to_string(events_dir().join(folder).join(file)).unwrap();
        let text = text
            .replace("${ACCESS_TOKEN}", &access_token)
            .replace("${SESSION_TOKEN}", &session_token)
            .replace("${WS_TICKET}", &ws_ticket)
            .replace("${CONVERSATION_ID}", &conversation_id)
            .replace("${TICKET_ID}", &ticket_id)
            .replace("${RESET_TOKEN}", &reset_token)
            .replace("${VERIFY_TOKEN}", &verify_token)
            .replace("${SESSION_ID}", &session_id)
            .replace("${REPLY_ADDRESS}", &reply_address(&ticket_id));
        if folder == "mail-inbound" {
            store_message(&functions, &text, &events_dir().join(folder).join(file), &ticket_id);
        }
        let response = run(&functions, folder, serde_json::from_str(&text).unwrap()).await;
        assert_eq!(response["statusCode"], status, "{name}: {response}");
        let body: Value = response["body"]
            .as_str()
            .filter(|b| !b.is_empty())
            .map(|b| serde_json::from_str(b).unwrap())
            .unwrap_or(Value::Null);
        if let Some(code) = code {
            assert_eq!(response["headers"]["content-type"], "application/problem+json", "{name}");
            assert_eq!(body["code"], code, "{name}: {body}");
            continue;
        }
        match name.as_str() {
            "login/register.json" | "login/login.json" => {
                assert_eq!(body["user"]["email"], "sample@example.com", "{name}");
                if name == "login/register.json" {
                    assert_eq!(body["user"]["email_verified"], false, "{name}");
                    verify_token = new_link_token(&dir.path().join("outbox"), "verify-", &mut seen_mails);
                }
                assert_eq!(body["user"]["display_name"], "Sample User", "{name}");
                assert_eq!(response["headers"]["cache-control"], "no-store", "{name}");
                // Set-Cookie travels in the v2 `cookies` field, not in the headers.
                assert!(response["headers"].get("set-cookie").is_none(), "{name}");
                let cookie = response["cookies"][0].as_str().expect("a session cookie");
                assert!(cookie.contains("HttpOnly") && cookie.contains("Secure"), "{cookie}");
                access_token = body["access_token"].as_str().unwrap().to_owned();
                user_id = body["user"]["id"].as_str().unwrap().to_owned();
                session_token =
                    cookie.split(';').next().unwrap().trim_start_matches("__Host-session=").to_owned();
            }
            "login/me.json" => assert_eq!(body["user"]["email"], "sample@example.com"),
            "login/list-sessions.json" => {
                let sessions = body["sessions"].as_array().unwrap();
                assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1, "{body}");
                let other = sessions.iter().find(|s| s["current"] == false).expect("another session");
                session_id = other["id"].as_str().unwrap().to_owned();
            }
            "login/revoke-session.json" | "login/change-password.json" | "login/reset-password.json" => {}
            "login/resend-verification.json" => {
                let fresh = new_link_token(&dir.path().join("outbox"), "verify-", &mut seen_mails);
                assert_ne!(fresh, verify_token, "a new link");
                verify_token = fresh;
            }
            "login/verify-email.json" => {}
            "login/forgot-password.json" | "login/forgot-password-unknown-email.json" => {
                let raw = response["body"].as_str().unwrap().to_owned();
                if forgot_body.is_empty() {
                    forgot_body = raw;
                    let outbox = dir.path().join("outbox");
                    let mail = std::fs::read_dir(&outbox)
                        .unwrap()
                        .map(|e| e.unwrap().path())
                        .find(|p| p.file_name().unwrap().to_str().unwrap().starts_with("reset-"))
                        .expect("a reset mail");
                    reset_token = e2e::reset_token(&std::fs::read_to_string(mail).unwrap());
                } else {
                    assert_eq!(raw, forgot_body, "{name}: byte-identical to a known email's");
                }
            }
            "login/delete-account.json" => {
                assert!(response["cookies"][0].as_str().unwrap().contains("Max-Age=0"), "cookie cleared");
            }
            "login/refresh.json" => {
                assert_eq!(body["token_type"], "Bearer");
                assert_eq!(response["headers"]["access-control-allow-origin"], "https://app.example.com");
            }
            "login/logout.json" => {
                assert!(response["cookies"][0].as_str().unwrap().contains("Max-Age=0"), "cookie cleared");
            }
            "ws-ticket/mint.json" => {
                assert_eq!(body["expires_in"], 300);
                assert_eq!(body["url"], "wss://ws123.execute-api.us-east-1.amazonaws.com/prod");
                assert_eq!(response["headers"]["cache-control"], "no-store");
                ws_ticket = body["ticket"].as_str().unwrap().to_owned();
            }
            "ws-connect/connect-ticket.json" | "ws-connect/connect-bearer.json" => {
                let id = text_field(&text, "connectionId");
                assert!(
                    connection_ids(&functions, &user_id, &clock).await.contains(&id),
                    "{name} stored {id}"
                );
            }
            "ws-connect/default-ping.json" => assert_eq!(body["type"], "pong"),
            "ws-connect/default-unknown-action.json" => {
                assert_eq!(body, serde_json::json!({"type": "error", "code": "unknown_action"}))
            }
            "ws-connect/default-bad-frame.json" => {
                assert_eq!(body, serde_json::json!({"type": "error", "code": "bad_frame"}))
            }
            "chat/post-new-conversation.json" => {
                assert_eq!(body["reply"]["sources"][0]["id"], "resetting-password");
                conversation_id = body["conversation_id"].as_str().unwrap().to_owned();
            }
            "chat/post-follow-up.json" => {
                assert_eq!(body["conversation_id"], conversation_id.as_str());
                assert_eq!(body["reply"]["sources"][0]["id"], "billing-and-invoices");
            }
            "chat/get-messages.json" => {
                assert_eq!(body["messages"].as_array().unwrap().len(), 2);
                assert_eq!(body["messages"][0]["content"], "How do I reset my password?");
                assert!(body["next_cursor"].is_string(), "4 messages, pages of 2");
            }
            "chat/get-conversations.json" => {
                assert_eq!(body["conversations"].as_array().unwrap().len(), 1, "not the foreign one");
                assert_eq!(body["conversations"][0]["title"], "How do I reset my password?");
            }
            "escalation/post-escalation.json" => {
                let number = body["ticket"]["number"].as_str().unwrap();
                assert!(number.starts_with("AB-") && number.ends_with("-0001"), "{number}");
                assert_eq!(body["ticket"]["priority"], "high");
                assert_eq!(body["ticket"]["mail"], serde_json::json!({"support": "sent", "user": "sent"}));
                ticket_id = body["ticket"]["id"].as_str().unwrap().to_owned();
            }
            "escalation/post-escalation-same-key.json"
            | "escalation/post-escalation-same-conversation.json" => {
                assert_eq!(body["ticket"]["id"], ticket_id.as_str(), "the same ticket");
            }
            "escalation/get-escalation.json" => {
                assert_eq!(body["ticket"]["id"], ticket_id.as_str());
                assert!(!body["ticket"]["transcript"].as_array().unwrap().is_empty());
            }
            "escalation/list-escalations.json" => {
                assert_eq!(body["tickets"].as_array().unwrap().len(), 1);
            }
            "escalation/resolve-escalation.json" => {
                assert_eq!(body["ticket"]["id"], ticket_id.as_str());
                assert_eq!(body["ticket"]["status"], "resolved");
            }
            "escalation/rate-escalation.json" => {
                assert_eq!(body["ticket"]["rating"]["score"], "good");
            }
            "mail-inbound/reply-from-support.json" => {
                assert_eq!(body, serde_json::json!({"taken": 1, "refused": []}));
                let ticket = ticket_of(&functions, &ticket_id).await;
                assert_eq!(ticket.status.as_str(), "waiting_on_user", "#pending, after the agent wrote");
                let messages = agent_messages(&functions, &ticket.conversation_id).await;
                assert_eq!(
                    messages,
                    [(
                        "Dana from Support".to_owned(),
                        "I refunded the second charge: it shows on your statement within 5 days.".to_owned()
                    )],
                    "the reply without its command and quote, by the agent's name"
                );
            }
            "mail-inbound/reply-failed-dmarc.json" | "mail-inbound/reply-unknown-sender.json" => {
                let reason = if name.contains("dmarc") { "untrusted" } else { "unknown_sender" };
                assert_eq!(body["taken"], 0, "{name}");
                assert_eq!(body["refused"][0]["reason"], reason, "{name}: {body}");
                let ticket = ticket_of(&functions, &ticket_id).await;
                assert_eq!(ticket.status.as_str(), "waiting_on_user", "{name} changed nothing");
                assert_eq!(agent_messages(&functions, &ticket.conversation_id).await.len(), 1, "{name}");
            }
            "mail-retry/scheduled-event.json" => {
                assert_eq!(body["due"], 0, "both mails went out at escalation: {body}");
            }
            "ws-connect/disconnect.json" => {
                let id = text_field(&text, "connectionId");
                assert!(
                    !connection_ids(&functions, &user_id, &clock).await.contains(&id),
                    "{name} forgot {id}"
                );
            }
            other => panic!("no positive check for {other}"),
        }
    }
}

/// The signed reply address of a ticket's mails.
fn reply_address(ticket_id: &str) -> String {
    shared::domain::ReplyAddresses::new(REPLY_KEY.as_bytes(), REPLY_DOMAIN).for_ticket(ticket_id)
}

/// Stores the `.eml` beside a `mail-inbound` event under the event's message id, as SES's S3
/// action would.
fn store_message(functions: &Functions, event: &str, path: &Path, ticket_id: &str) {
    let event: Value = serde_json::from_str(event).unwrap();
    let id = event["Records"][0]["ses"]["mail"]["messageId"].as_str().unwrap().to_owned();
    let raw = std::fs::read_to_string(path.with_extension("eml")).unwrap();
    let raw = raw.replace("${REPLY_ADDRESS}", &reply_address(ticket_id));
    functions.received.0.lock().unwrap().insert(id, raw.into_bytes());
}

async fn ticket_of(functions: &Functions, id: &str) -> shared::domain::SupportTicket {
    use shared::ports::SupportTickets;
    SupportTickets::get(&*functions.store, id).await.unwrap().expect("the ticket")
}

/// The conversation's agent messages: (author, text).
async fn agent_messages(functions: &Functions, conversation: &str) -> Vec<(String, String)> {
    let messages = functions.store.messages(conversation, 0, 100).await.unwrap();
    messages
        .into_iter()
        .filter(|m| m.role == shared::domain::Role::Agent)
        .map(|m| (m.author.unwrap_or_default(), m.content))
        .collect()
}

/// The token of the one link mail (`verify-…` or `reset-…` in the outbox) not seen before.
fn new_link_token(outbox: &Path, prefix: &str, seen: &mut std::collections::HashSet<PathBuf>) -> String {
    let fresh: Vec<PathBuf> = std::fs::read_dir(outbox)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with(prefix) && !seen.contains(p))
        .collect();
    assert_eq!(fresh.len(), 1, "one new {prefix} mail: {fresh:?}");
    seen.insert(fresh[0].clone());
    e2e::link_token(&std::fs::read_to_string(&fresh[0]).unwrap(), "?token=")
}

/// Another user's conversation, which the `*-foreign-conversation.json` events name.
async fn seed_foreign_conversation(functions: &Functions) {
    use shared::domain::ConversationRecord;
    let now = Utc::now();
    let foreign = ConversationRecord {
        id: "conv_foreign0000000000000000000".into(),
        user_id: shared::domain::UserId::from_trusted("usr_someone_else"),
        title: "Not yours".into(),
        created_at: now,
        updated_at: now,
        message_count: 0,
        open_ticket: None,
    };
    functions.store.append(&foreign, &[], 0).await.unwrap();
}

/// A string field anywhere in an event's JSON.
fn text_field(text: &str, field: &str) -> String {
    let event: Value = serde_json::from_str(text).unwrap();
    event["requestContext"][field].as_str().unwrap().to_owned()
}

async fn connection_ids(functions: &Functions, user: &str, clock: &ManualClock) -> Vec<String> {
    use shared::ports::Connections;
    let user = shared::domain::UserId::from_trusted(user);
    let now = shared::Clock::now(clock);
    functions.store.for_user(&user, now).await.unwrap().into_iter().map(|c| c.id).collect()
}
