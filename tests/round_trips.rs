//! Store round trips per request, counted by wrapping the real SQLite adapter: every port call
//! is one DynamoDB request in Lambda. BENCHMARKS.md lists the counts.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use lambda_http::{Body, Request};
use shared::adapters::sqlite::SqliteStore;
use shared::domain::{
    ConnectionRecord, ConversationRecord, Cursor, Email, LoggedEvent, MailRecord, MessageRecord, NewTicket,
    SessionId, SessionRecord, StoredToken, SupportTicket, TicketRecord, TicketUpdate, TokenPurpose, UserId,
    UserRecord,
};
use shared::http::HttpFunction;
use shared::ports::*;

/// The SQLite store, counting calls.
struct Counting {
    inner: SqliteStore,
    calls: AtomicUsize,
}

impl Counting {
    fn tick(&self) {
        self.calls.fetch_add(1, Ordering::SeqCst);
    }
    fn take(&self) -> usize {
        self.calls.swap(0, Ordering::SeqCst)
    }
}

#[async_trait]
impl UserStore for Counting {
    async fn create(&self, user: &UserRecord, first: &SessionRecord) -> StoreResult<()> {
        self.tick();
        UserStore::create(&self.inner, user, first).await
    }
    async fn find_by_email(&self, email: &Email) -> StoreResult<Option<UserRecord>> {
        self.tick();
        self.inner.find_by_email(email).await
    }
    async fn get(&self, id: &UserId) -> StoreResult<Option<UserRecord>> {
        self.tick();
        UserStore::get(&self.inner, id).await
    }
    async fn set_token(
        &self,
        user: &UserRecord,
        purpose: TokenPurpose,
        token: &StoredToken,
    ) -> StoreResult<()> {
        self.tick();
        self.inner.set_token(user, purpose, token).await
    }
    async fn verify_email(&self, user: &UserRecord, digest: &str, now: DateTime<Utc>) -> StoreResult<bool> {
        self.tick();
        self.inner.verify_email(user, digest, now).await
    }
    async fn reset_password(
        &self,
        user: &UserRecord,
        digest: &str,
        hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        self.tick();
        self.inner.reset_password(user, digest, hash, now).await
    }
    async fn change_password(&self, user: &UserRecord, hash: &str) -> StoreResult<()> {
        self.tick();
        self.inner.change_password(user, hash).await
    }
    async fn rehash(&self, user: &UserRecord, hash: &str) -> StoreResult<bool> {
        self.tick();
        self.inner.rehash(user, hash).await
    }
    async fn delete(&self, user: &UserRecord) -> StoreResult<()> {
        self.tick();
        UserStore::delete(&self.inner, user).await
    }
}

#[async_trait]
impl SessionStore for Counting {
    async fn create(&self, s: &SessionRecord) -> StoreResult<()> {
        self.tick();
        SessionStore::create(&self.inner, s).await
    }
    async fn get(&self, id: &SessionId, now: DateTime<Utc>) -> StoreResult<Option<SessionRecord>> {
        self.tick();
        SessionStore::get(&self.inner, id, now).await
    }
    async fn touch(
        &self,
        id: &SessionId,
        idle: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<SessionRecord>> {
        self.tick();
        self.inner.touch(id, idle, now).await
    }
    async fn delete(&self, id: &SessionId, now: DateTime<Utc>) -> StoreResult<bool> {
        self.tick();
        SessionStore::delete(&self.inner, id, now).await
    }
    async fn for_user(&self, u: &UserId, now: DateTime<Utc>) -> StoreResult<Vec<SessionRecord>> {
        self.tick();
        SessionStore::for_user(&self.inner, u, now).await
    }
    async fn mark_email_verified(&self, u: &UserId, now: DateTime<Utc>) -> StoreResult<()> {
        // On DynamoDB: the user's sessions (one query), then one update each.
        self.tick();
        for _ in SessionStore::for_user(&self.inner, u, now).await? {
            self.tick();
        }
        self.inner.mark_email_verified(u, now).await
    }
}

#[async_trait]
impl RateLimits for Counting {
    async fn acquire(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
        now: DateTime<Utc>,
    ) -> StoreResult<Acquired> {
        self.tick();
        self.inner.acquire(key, limit, window, now).await
    }
    async fn clear(&self, key: &str) -> StoreResult<()> {
        self.tick();
        self.inner.clear(key).await
    }
}

#[async_trait]
impl WsTickets for Counting {
    async fn create(&self, t: &TicketRecord, q: &Quota) -> StoreResult<Admission> {
        self.tick();
        WsTickets::create(&self.inner, t, q).await
    }
    async fn peek(&self, id: &str, now: DateTime<Utc>) -> StoreResult<Option<TicketRecord>> {
        self.tick();
        self.inner.peek(id, now).await
    }
    async fn delete_for_user(&self, u: &UserId) -> StoreResult<()> {
        self.tick();
        WsTickets::delete_for_user(&self.inner, u).await
    }
}

#[async_trait]
impl Connections for Counting {
    async fn open(
        &self,
        c: &ConnectionRecord,
        gate: &ConnectGate,
        now: DateTime<Utc>,
    ) -> StoreResult<Opened> {
        // On DynamoDB: one consistent read of the user's slots, then one transaction.
        self.tick();
        self.tick();
        self.inner.open(c, gate, now).await
    }
    async fn delete(&self, id: &str) -> StoreResult<()> {
        // On DynamoDB: the connection, then the slot it held.
        self.tick();
        self.tick();
        Connections::delete(&self.inner, id).await
    }
    async fn for_user(&self, u: &UserId, now: DateTime<Utc>) -> StoreResult<Vec<ConnectionRecord>> {
        self.tick();
        Connections::for_user(&self.inner, u, now).await
    }
    async fn for_session(&self, s: &SessionId, now: DateTime<Utc>) -> StoreResult<Vec<ConnectionRecord>> {
        self.tick();
        self.inner.for_session(s, now).await
    }
}

#[async_trait]
impl EventLog for Counting {
    /// Two DynamoDB requests: the counter, then the event.
    async fn record(&self, u: &UserId, payload: &str, expires_at: DateTime<Utc>) -> StoreResult<u64> {
        self.tick();
        self.tick();
        EventLog::record(&self.inner, u, payload, expires_at).await
    }
    async fn after(
        &self,
        u: &UserId,
        after: u64,
        limit: u32,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<LoggedEvent>> {
        self.tick();
        self.inner.after(u, after, limit, now).await
    }
    async fn last_seq(&self, u: &UserId) -> StoreResult<u64> {
        self.tick();
        self.inner.last_seq(u).await
    }
    async fn delete_for_user(&self, u: &UserId) -> StoreResult<()> {
        self.tick();
        EventLog::delete_for_user(&self.inner, u).await
    }
}

#[async_trait]
impl Conversations for Counting {
    async fn get(&self, id: &str) -> StoreResult<Option<ConversationRecord>> {
        self.tick();
        Conversations::get(&self.inner, id).await
    }
    async fn append(&self, c: &ConversationRecord, m: &[MessageRecord], expected: u32) -> StoreResult<()> {
        self.tick();
        Conversations::append(&self.inner, c, m, expected).await
    }
    async fn messages(&self, id: &str, after: u32, limit: u32) -> StoreResult<Vec<MessageRecord>> {
        self.tick();
        self.inner.messages(id, after, limit).await
    }
    async fn list(
        &self,
        u: &UserId,
        before: Option<Cursor>,
        limit: u32,
    ) -> StoreResult<Vec<ConversationRecord>> {
        self.tick();
        Conversations::list(&self.inner, u, before, limit).await
    }
    async fn transcript(&self, id: &str) -> StoreResult<Option<(ConversationRecord, Vec<MessageRecord>)>> {
        self.tick();
        self.inner.transcript(id).await
    }
    async fn delete_for_user(&self, u: &UserId) -> StoreResult<()> {
        self.tick();
        Conversations::delete_for_user(&self.inner, u).await
    }
}

#[async_trait]
impl SupportTickets for Counting {
    async fn counter(&self, day: chrono::NaiveDate) -> StoreResult<u64> {
        self.tick();
        self.inner.counter(day).await
    }
    async fn create(&self, new: &NewTicket) -> StoreResult<Result<(), CreateConflict>> {
        self.tick();
        SupportTickets::create(&self.inner, new).await
    }
    async fn get(&self, id: &str) -> StoreResult<Option<SupportTicket>> {
        self.tick();
        SupportTickets::get(&self.inner, id).await
    }
    async fn by_key(&self, user: &UserId, key: &str, now: DateTime<Utc>) -> StoreResult<Option<String>> {
        self.tick();
        self.inner.by_key(user, key, now).await
    }
    async fn list(&self, u: &UserId, before: Option<Cursor>, limit: u32) -> StoreResult<Vec<SupportTicket>> {
        self.tick();
        SupportTickets::list(&self.inner, u, before, limit).await
    }
    async fn mail(&self, ticket_id: &str, mail_id: &str) -> StoreResult<Option<MailRecord>> {
        self.tick();
        self.inner.mail(ticket_id, mail_id).await
    }
    async fn update(&self, u: &TicketUpdate) -> StoreResult<()> {
        self.tick();
        self.inner.update(u).await
    }
    async fn resolved_before(&self, cutoff: DateTime<Utc>, limit: u32) -> StoreResult<Vec<SupportTicket>> {
        self.tick();
        self.inner.resolved_before(cutoff, limit).await
    }
    async fn update_mail(&self, mail: &MailRecord) -> StoreResult<()> {
        self.tick();
        self.inner.update_mail(mail).await
    }
    async fn due_mails(&self, now: DateTime<Utc>, limit: u32) -> StoreResult<Vec<MailRecord>> {
        self.tick();
        self.inner.due_mails(now, limit).await
    }
    async fn claim_mail(&self, mail: &MailRecord, until: DateTime<Utc>) -> StoreResult<bool> {
        self.tick();
        self.inner.claim_mail(mail, until).await
    }
    async fn detach_user(&self, u: &UserId) -> StoreResult<()> {
        self.tick();
        self.inner.detach_user(u).await
    }
}

/// A request as `lambda_http` hands it over: the query string also as its parsed extension.
fn request(method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Request {
    use lambda_http::RequestExt;
    let mut b = http::Request::builder().method(method).uri(path);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let query: std::collections::HashMap<String, String> = path
        .split_once('?')
        .map(|(_, q)| {
            q.split('&').filter_map(|p| p.split_once('=')).map(|(k, v)| (k.into(), v.into())).collect()
        })
        .unwrap_or_default();
    b.body(if body.is_empty() { Body::Empty } else { Body::Text(body.to_owned()) })
        .unwrap()
        .with_query_string_parameters(query)
}

fn text(response: &lambda_http::Response<Body>) -> serde_json::Value {
    match response.body() {
        Body::Text(t) => serde_json::from_str(t).unwrap(),
        _ => serde_json::Value::Null,
    }
}

#[tokio::test]
async fn every_request_stays_within_its_round_trip_budget() {
    let dir = tempfile::tempdir().unwrap();
    let store =
        Arc::new(Counting { inner: SqliteStore::open(&dir.path().join("app.db")).unwrap(), calls: 0.into() });
    let stores = Stores::single(store.clone());
    let settings = |var: &str| match var {
        "WEBSOCKET_URL" => Some("wss://ws.example/prod".to_owned()),
        "PASSWORD_RESET_URL" => Some("https://app.example/reset-password".to_owned()),
        "EMAIL_VERIFY_URL" => Some("https://app.example/verify-email".to_owned()),
        "MAIL_FROM" => Some("support@example.com".to_owned()),
        "SUPPORT_EMAIL" => Some("help@example.com".to_owned()),
        _ => None,
    };
    let outbox = Arc::new(shared::adapters::outbox::Outbox::new(dir.path().join("outbox")));
    let w = e2e::wiring(settings, stores, outbox, Arc::new(shared::SystemClock));
    let login = login::Login::build(&w).unwrap();
    let ws_ticket = ws_ticket::WsTicket::build(&w).unwrap();
    let ws_connect = ws_connect::WsConnect::build(&w).unwrap();
    let chat = chat::Chat::build(&w).unwrap();
    let escalation = escalation::Escalation::build(&w).unwrap();
    let json = [("content-type", "application/json")];
    let credentials = r#"{"email":"rt@example.com","password":"correct horse battery"}"#;
    let mut measured = Vec::new();

    // Behind API Gateway register, login and forgot also take their source address's allowance
    // (one more round trip each); these requests have no request context, so no address.
    let r = login.handle(request("POST", "/api/auth/register", &json, credentials)).await;
    assert_eq!(r.status(), 201);
    // the account, its verification token and its first session: one write (then the mail)
    measured.push(("register", store.take(), 1));

    let r = login.handle(request("POST", "/api/auth/login", &json, credentials)).await;
    assert_eq!(r.status(), 200);
    let token = text(&r)["access_token"].as_str().unwrap().to_owned();
    let cookie = r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    // the attempt (counted before the hash), the account, then in parallel the new session,
    // forgetting the attempts and the sessions to trim beyond the cap
    measured.push(("login", store.take(), 5));

    let mail = std::fs::read_dir(dir.path().join("outbox"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_str().unwrap().starts_with("verify-"))
        .unwrap();
    let verify = format!(r#"{{"token":"{}"}}"#, e2e::reset_token(&std::fs::read_to_string(mail).unwrap()));
    assert_eq!(login.handle(request("POST", "/api/auth/email/verify", &json, &verify)).await.status(), 204);
    // the account, the conditional write, then the two sessions' snapshots (a query, one each)
    measured.push(("verify email (2 sessions)", store.take(), 2 + 1 + 2));
    let bearer = format!("Bearer {token}");
    let auth = [("authorization", bearer.as_str())];

    assert_eq!(login.handle(request("GET", "/api/auth/me", &auth, "")).await.status(), 200);
    measured.push(("me", store.take(), 1));

    assert_eq!(
        login.handle(request("POST", "/api/auth/refresh", &[("cookie", &cookie)], "")).await.status(),
        200
    );
    measured.push(("refresh", store.take(), 1));

    // Chat before any socket exists: with sockets, a message also costs one push per socket.
    let with_json = [auth[0], json[0]];
    let r = chat
        .handle(request("POST", "/api/chat/messages", &with_json, r#"{"content":"Where are my invoices?"}"#))
        .await;
    assert_eq!(r.status(), 201);
    let conversation = text(&r)["conversation_id"].as_str().unwrap().to_owned();
    // authenticate, the user's sockets, the append, the reply's event in the catch-up log (2)
    measured.push(("chat message (new conversation)", store.take(), 5));
    let follow_up = format!(r#"{{"conversation_id":"{conversation}","content":"And refunds?"}}"#);
    assert_eq!(
        chat.handle(request("POST", "/api/chat/messages", &with_json, &follow_up)).await.status(),
        201
    );
    measured.push(("chat message (follow-up)", store.take(), 6));
    let path = format!("/api/chat/messages?conversation_id={conversation}");
    assert_eq!(chat.handle(request("GET", &path, &auth, "")).await.status(), 200);
    measured.push(("chat messages page", store.take(), 3));
    assert_eq!(chat.handle(request("GET", "/api/chat/conversations", &auth, "")).await.status(), 200);
    measured.push(("chat conversations page", store.take(), 2));
    let escalate = format!(r#"{{"conversation_id":"{conversation}"}}"#);
    let r = escalation.handle(request("POST", "/api/escalations", &with_json, &escalate)).await;
    assert_eq!(r.status(), 201);
    // authenticate, conversation with transcript (one query), day counter, one transaction,
    // the user's sockets, the event in the catch-up log (2); then one status write per mail.
    measured.push(("escalate (+2 mail status writes)", store.take(), 7 + 2));
    assert_eq!(
        escalation.handle(request("POST", "/api/escalations", &with_json, &escalate)).await.status(),
        200
    );
    measured.push(("escalate again (existing ticket)", store.take(), 3));

    let r = ws_ticket.handle(request("POST", "/api/websocket/ticket", &auth, "")).await;
    assert_eq!(r.status(), 201);
    let ticket = text(&r)["ticket"].as_str().unwrap().to_owned();
    measured.push(("mint", store.take(), 2));
    assert_eq!(ws_ticket.handle(request("GET", "/api/events", &auth, "")).await.status(), 200);
    measured.push(("events: latest seq", store.take(), 2));
    assert_eq!(ws_ticket.handle(request("GET", "/api/events?after=0", &auth, "")).await.status(), 200);
    measured.push(("events: catch up", store.take(), 2));

    let connect = |id: &str, query: serde_json::Value, headers: serde_json::Value| {
        serde_json::from_value(serde_json::json!({
            "headers": headers,
            "queryStringParameters": query,
            "requestContext": { "routeKey": "$connect", "connectionId": id, "connectedAt": 0, "requestTimeEpoch": 0 },
            "isBase64Encoded": false,
        }))
        .unwrap()
    };
    let r =
        ws_connect.handle(connect("c1", serde_json::json!({"ticket": ticket}), serde_json::json!({}))).await;
    assert_eq!(r.status_code, 200);
    // the ticket, its session, then the user's connection slots and one transaction
    measured.push(("connect (ticket)", store.take(), 4));
    let r = ws_connect
        .handle(connect("c2", serde_json::json!({}), serde_json::json!({"authorization": bearer})))
        .await;
    assert_eq!(r.status_code, 200);
    measured.push(("connect (bearer)", store.take(), 3));

    assert_eq!(login.handle(request("POST", "/api/auth/logout", &auth, "")).await.status(), 204);
    // authenticate, delete the session, list its sockets, forget each of the two (gone here: no
    // real sockets), each with the slot it held.
    measured.push(("logout with 2 gone sockets", store.take(), 3 + 2 * 2));

    // The account lifecycle. Four live sessions: registration's, A, B (the caller), C.
    let sign_in = || async {
        let r = login.handle(request("POST", "/api/auth/login", &json, credentials)).await;
        assert_eq!(r.status(), 200);
        format!("Bearer {}", text(&r)["access_token"].as_str().unwrap())
    };
    sign_in().await;
    let b = sign_in().await;
    sign_in().await;
    store.take();
    let auth_b = [("authorization", b.as_str())];
    let with_json_b = [auth_b[0], json[0]];

    let unknown = r#"{"email":"nobody@example.com"}"#;
    let r = login.handle(request("POST", "/api/auth/password/forgot", &json, unknown)).await;
    assert_eq!(r.status(), 202);
    // email allowance, lookup (and a source-address allowance behind API Gateway)
    measured.push(("forgot (unknown email)", store.take(), 2));
    let r = login
        .handle(request("POST", "/api/auth/password/forgot", &json, r#"{"email":"rt@example.com"}"#))
        .await;
    assert_eq!(r.status(), 202);
    measured.push(("forgot (+ the mail)", store.take(), 3));

    let r = login.handle(request("GET", "/api/auth/sessions", &auth_b, "")).await;
    assert_eq!(r.status(), 200);
    measured.push(("sessions list", store.take(), 2));
    let listed = text(&r)["sessions"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 4);
    let other = listed.iter().find(|s| s["current"] == false).unwrap()["id"].as_str().unwrap().to_owned();
    let path = format!("/api/auth/sessions/{other}");
    assert_eq!(login.handle(request("DELETE", &path, &auth_b, "")).await.status(), 204);
    // authenticate, list, delete, its sockets
    measured.push(("revoke a session", store.take(), 4));

    let change = r#"{"current_password":"correct horse battery","new_password":"correct horse battery 2"}"#;
    assert_eq!(
        login.handle(request("POST", "/api/auth/password/change", &with_json_b, change)).await.status(),
        204
    );
    // authenticate, the attempt, user, forgetting the attempts, new hash, list; then per other
    // session a delete and its sockets
    measured.push(("change password (2 other sessions)", store.take(), 6 + 2 * 2));

    // The change ended the pending reset link: ask for a new one (the latest mail).
    let r = login
        .handle(request("POST", "/api/auth/password/forgot", &json, r#"{"email":"rt@example.com"}"#))
        .await;
    assert_eq!(r.status(), 202);
    store.take();
    let mail = std::fs::read_dir(dir.path().join("outbox"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with("reset-"))
        .max_by_key(|p| std::fs::metadata(p).unwrap().modified().unwrap())
        .unwrap();
    let token = e2e::reset_token(&std::fs::read_to_string(mail).unwrap());
    let reset = format!(r#"{{"token":"{token}","new_password":"correct horse battery 3"}}"#);
    assert_eq!(login.handle(request("POST", "/api/auth/password/reset", &json, &reset)).await.status(), 204);
    // user, the conditional write (hash, token, verified), list sessions, delete the one left,
    // the user's sockets, forgetting the attempts
    measured.push(("reset password (1 session)", store.take(), 5 + 1));

    let credentials = r#"{"email":"rt@example.com","password":"correct horse battery 3"}"#;
    let r = login.handle(request("POST", "/api/auth/login", &json, credentials)).await;
    let bearer = format!("Bearer {}", text(&r)["access_token"].as_str().unwrap());
    store.take();
    let delete = [("authorization", bearer.as_str()), json[0]];
    let body = r#"{"password":"correct horse battery 3"}"#;
    assert_eq!(login.handle(request("DELETE", "/api/auth/account", &delete, body)).await.status(), 204);
    // authenticate, the attempt, user, forgetting the attempts, list sessions (+1 delete each),
    // sockets, tickets, conversations, live events, support tickets, three counters, the user
    measured.push(("delete account (1 session)", store.take(), 14 + 1));

    for (what, calls, budget) in &measured {
        eprintln!("{what:<36} {calls} round trips (budget {budget})");
    }
    for (what, calls, budget) in measured {
        assert!(calls <= budget, "{what}: {calls} round trips, budget {budget}");
    }
}
