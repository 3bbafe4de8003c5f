//! What the fuzz targets share: a fixed clock, a freshly generated Ed25519 key with its issuer
//! and verifier, the real handlers (`login`, `chat`, `escalation`, `ws-connect`) wired to a stub
//! store, and a few checks every target uses.
//!
//! The stub answers every store call with "unavailable" (a 503), except the reads a parser's
//! output leads to (`sessions.get`, `touch`, `delete`, the ticket check, the account read a
//! mailed token names, the conversation and ticket reads): those answer "nothing there" (or the one live session of the
//! fixture) and are recorded, so a target can check what reached the store and in what shape.

use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use lambda_http::{Body, Response};
use shared::Clock;
use shared::auth::{
    Authenticator, KeyRing, SessionPolicy, SigningKey, TokenIssuer, TokenSettings, TokenVerifier,
};
use shared::clock::from_epoch;
use shared::config::{EscalationConfig, HttpConfig, LoginConfig};
use shared::domain::mail::MailSettings;
use shared::domain::{
    ConnectionRecord, ConversationRecord, Cursor, Email, LoggedEvent, MailRecord, MessageRecord, NewTicket,
    SessionId, SessionRecord, StoredToken, SupportTicket, TicketRecord, TicketUpdate, TokenPurpose, UserId,
    UserProfile, UserRecord,
};
use shared::http::{CookieSettings, Cors};
use shared::ports::{
    Acquired, Admission, Answer, Assistant, AssistantError, ConnectGate, Connections, Conversations,
    CreateConflict, EventLog, MailError, MailTransport, Opened, OutgoingMail, Push, PushError, Quota,
    RateLimits, Sent, SessionStore, StoreError, StoreResult, Stores, SupportTickets, UserStore, WsTickets,
};
use shared::services::EscalationPolicy;

pub use libfuzzer_sys::arbitrary::{self, Unstructured};

/// `iss` of every token the fixture signs and accepts.
pub const ISSUER: &str = "support-backend";
/// `aud` of every token the fixture signs and accepts.
pub const AUDIENCE: &str = "support-api";
/// Key id of the fixture's signing key.
pub const KID: &str = "fuzz-key";
/// The one allowed browser origin.
pub const ORIGIN: &str = "https://app.example.com";

/// The fixed "now" of every target: 2026-01-09T12:00:00Z.
pub fn now() -> DateTime<Utc> {
    from_epoch(1_767_960_000)
}

/// A clock stopped at [`now`].
#[derive(Debug, Clone, Copy)]
pub struct FixedClock;

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        now()
    }
}

/// A store call a target may want to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    /// `sessions.get(id)`.
    SessionGet(String),
    /// `sessions.touch(id)` (refresh).
    SessionTouch(String),
    /// `sessions.delete(id)` (cookie logout).
    SessionDelete(String),
    /// `ws_tickets.peek(id)` (a WebSocket ticket is checked, spent later with the connection).
    TicketPeek(String),
    /// `users.get(id)` (a mailed token names its user).
    UserGet(String),
    /// `connections.open(id, ..)`: a WebSocket was accepted.
    ConnectionPut(String),
    /// `conversations.get(id)`.
    ConversationGet(String),
    /// `conversations.transcript(id)`.
    Transcript(String),
    /// `conversations.messages(id, after, limit)`.
    Messages(String, u32, u32),
    /// `conversations.list(before, limit)`.
    ConversationList(Option<Cursor>, u32),
    /// `tickets.get(id)`.
    TicketGet(String),
    /// `tickets.list(before, limit)`.
    TicketList(Option<Cursor>, u32),
}

/// Every port, answering as described in the crate docs, recording [`Call`]s.
pub struct Stub {
    live: SessionRecord,
    calls: Mutex<Vec<Call>>,
}

fn unavailable<T>() -> StoreResult<T> {
    Err(StoreError::Unavailable("fuzz stub".into()))
}

impl Stub {
    /// The store calls since the last `take_calls`.
    pub fn take_calls(&self) -> Vec<Call> {
        std::mem::take(&mut *self.calls.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn record(&self, call: Call) {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).push(call);
    }
}

#[async_trait]
impl SessionStore for Stub {
    async fn create(&self, _: &SessionRecord) -> StoreResult<()> {
        unavailable()
    }
    async fn get(&self, id: &SessionId, now: DateTime<Utc>) -> StoreResult<Option<SessionRecord>> {
        self.record(Call::SessionGet(id.as_str().to_owned()));
        Ok((id == &self.live.id && self.live.is_live(now)).then(|| self.live.clone()))
    }
    async fn touch(
        &self,
        id: &SessionId,
        _: DateTime<Utc>,
        _: DateTime<Utc>,
    ) -> StoreResult<Option<SessionRecord>> {
        self.record(Call::SessionTouch(id.as_str().to_owned()));
        Ok(None)
    }
    async fn delete(&self, id: &SessionId, _: DateTime<Utc>) -> StoreResult<bool> {
        self.record(Call::SessionDelete(id.as_str().to_owned()));
        Ok(false)
    }
    async fn for_user(&self, _: &UserId, _: DateTime<Utc>) -> StoreResult<Vec<SessionRecord>> {
        unavailable()
    }
    async fn mark_email_verified(&self, _: &UserId, _: DateTime<Utc>) -> StoreResult<()> {
        unavailable()
    }
}

#[async_trait]
impl UserStore for Stub {
    async fn create(&self, _: &UserRecord, _: &SessionRecord) -> StoreResult<()> {
        unavailable()
    }
    async fn find_by_email(&self, _: &Email) -> StoreResult<Option<UserRecord>> {
        unavailable()
    }
    async fn get(&self, id: &UserId) -> StoreResult<Option<UserRecord>> {
        self.record(Call::UserGet(id.as_str().to_owned()));
        Ok(None)
    }
    async fn set_token(&self, _: &UserRecord, _: TokenPurpose, _: &StoredToken) -> StoreResult<()> {
        unavailable()
    }
    async fn verify_email(&self, _: &UserRecord, _: &str, _: DateTime<Utc>) -> StoreResult<bool> {
        unavailable()
    }
    async fn reset_password(&self, _: &UserRecord, _: &str, _: &str, _: DateTime<Utc>) -> StoreResult<bool> {
        unavailable()
    }
    async fn change_password(&self, _: &UserRecord, _: &str) -> StoreResult<()> {
        unavailable()
    }
    async fn rehash(&self, _: &UserRecord, _: &str) -> StoreResult<bool> {
        unavailable()
    }
    async fn delete(&self, _: &UserRecord) -> StoreResult<()> {
        unavailable()
    }
}

#[async_trait]
impl RateLimits for Stub {
    async fn acquire(&self, _: &str, _: u32, _: Duration, _: DateTime<Utc>) -> StoreResult<Acquired> {
        unavailable()
    }
    async fn clear(&self, _: &str) -> StoreResult<()> {
        unavailable()
    }
}

#[async_trait]
impl WsTickets for Stub {
    async fn create(&self, _: &TicketRecord, _: &Quota) -> StoreResult<Admission> {
        unavailable()
    }
    async fn peek(&self, id: &str, _: DateTime<Utc>) -> StoreResult<Option<TicketRecord>> {
        self.record(Call::TicketPeek(id.to_owned()));
        Ok(None)
    }
    async fn delete_for_user(&self, _: &UserId) -> StoreResult<()> {
        unavailable()
    }
}

#[async_trait]
impl Connections for Stub {
    async fn open(
        &self,
        connection: &ConnectionRecord,
        _: &ConnectGate,
        _: DateTime<Utc>,
    ) -> StoreResult<Opened> {
        self.record(Call::ConnectionPut(connection.id.clone()));
        Ok(Opened::Stored)
    }
    async fn delete(&self, _: &str) -> StoreResult<()> {
        Ok(())
    }
    async fn for_user(&self, _: &UserId, _: DateTime<Utc>) -> StoreResult<Vec<ConnectionRecord>> {
        unavailable()
    }
    async fn for_session(&self, _: &SessionId, _: DateTime<Utc>) -> StoreResult<Vec<ConnectionRecord>> {
        unavailable()
    }
}

#[async_trait]
impl EventLog for Stub {
    async fn record(&self, _: &UserId, _: &str, _: DateTime<Utc>) -> StoreResult<u64> {
        unavailable()
    }
    async fn after(&self, _: &UserId, _: u64, _: u32, _: DateTime<Utc>) -> StoreResult<Vec<LoggedEvent>> {
        unavailable()
    }
    async fn last_seq(&self, _: &UserId) -> StoreResult<u64> {
        unavailable()
    }
    async fn delete_for_user(&self, _: &UserId) -> StoreResult<()> {
        unavailable()
    }
}

#[async_trait]
impl Conversations for Stub {
    async fn get(&self, id: &str) -> StoreResult<Option<ConversationRecord>> {
        self.record(Call::ConversationGet(id.to_owned()));
        Ok(None)
    }
    async fn append(&self, _: &ConversationRecord, _: &[MessageRecord], _: u32) -> StoreResult<()> {
        unavailable()
    }
    async fn transcript(&self, id: &str) -> StoreResult<Option<(ConversationRecord, Vec<MessageRecord>)>> {
        self.record(Call::Transcript(id.to_owned()));
        Ok(None)
    }
    async fn messages(&self, id: &str, after: u32, limit: u32) -> StoreResult<Vec<MessageRecord>> {
        self.record(Call::Messages(id.to_owned(), after, limit));
        unavailable()
    }
    async fn delete_for_user(&self, _: &UserId) -> StoreResult<()> {
        unavailable()
    }
    async fn list(
        &self,
        _: &UserId,
        before: Option<Cursor>,
        limit: u32,
    ) -> StoreResult<Vec<ConversationRecord>> {
        self.record(Call::ConversationList(before, limit));
        unavailable()
    }
}

#[async_trait]
impl SupportTickets for Stub {
    async fn counter(&self, _: NaiveDate) -> StoreResult<u64> {
        unavailable()
    }
    async fn create(&self, _: &NewTicket) -> StoreResult<Result<(), CreateConflict>> {
        unavailable()
    }
    async fn get(&self, id: &str) -> StoreResult<Option<SupportTicket>> {
        self.record(Call::TicketGet(id.to_owned()));
        Ok(None)
    }
    async fn by_key(&self, _: &UserId, _: &str, _: DateTime<Utc>) -> StoreResult<Option<String>> {
        unavailable()
    }
    async fn list(&self, _: &UserId, before: Option<Cursor>, limit: u32) -> StoreResult<Vec<SupportTicket>> {
        self.record(Call::TicketList(before, limit));
        unavailable()
    }
    async fn mail(&self, _: &str, _: &str) -> StoreResult<Option<MailRecord>> {
        unavailable()
    }
    async fn update(&self, _: &TicketUpdate) -> StoreResult<()> {
        unavailable()
    }
    async fn resolved_before(&self, _: DateTime<Utc>, _: u32) -> StoreResult<Vec<SupportTicket>> {
        unavailable()
    }
    async fn update_mail(&self, _: &MailRecord) -> StoreResult<()> {
        unavailable()
    }
    async fn due_mails(&self, _: DateTime<Utc>, _: u32) -> StoreResult<Vec<MailRecord>> {
        unavailable()
    }
    async fn detach_user(&self, _: &UserId) -> StoreResult<()> {
        unavailable()
    }
    async fn claim_mail(&self, _: &MailRecord, _: DateTime<Utc>) -> StoreResult<bool> {
        unavailable()
    }
}

#[async_trait]
impl Push for Stub {
    async fn send(&self, _: &str, _: &str) -> Result<(), PushError> {
        Err(PushError::Failed("fuzz stub".into()))
    }
    async fn close(&self, _: &str) -> Result<(), PushError> {
        Err(PushError::Failed("fuzz stub".into()))
    }
}

#[async_trait]
impl MailTransport for Stub {
    async fn send(&self, _: &OutgoingMail<'_>) -> Result<Sent, MailError> {
        Err(MailError("fuzz stub".into()))
    }
}

#[async_trait]
impl Assistant for Stub {
    async fn answer(&self, _: &str, _: &[MessageRecord]) -> Result<Answer, AssistantError> {
        Err(AssistantError("fuzz stub".into()))
    }
}

/// Everything built once per fuzzing process.
pub struct Fixture {
    runtime: tokio::runtime::Runtime,
    /// The store behind every handler.
    pub stub: Arc<Stub>,
    /// Verifies tokens signed by [`Fixture::issuer`] (and nothing else).
    pub verifier: Arc<TokenVerifier>,
    /// The verifier's key set as the JWKS other functions are given (public).
    pub verifier_jwks: String,
    /// Signs with the fixture key.
    pub issuer: Arc<TokenIssuer>,
    /// The fixture key as PKCS#8 PEM (for signing arbitrary claims with `jsonwebtoken`).
    pub signing_pem: String,
    /// HTTP settings: the verifier, [`ORIGIN`] allowed, the default `__Host-session` cookie.
    pub http: HttpConfig,
    /// The one live session the stub knows.
    pub session: SessionRecord,
    /// A valid access token for that session.
    pub access_token: String,
    /// Tokens for the same user and session that must be refused: signed by another key under
    /// the same `kid`, and signed by the right key but expired an hour ago.
    pub bad_tokens: [String; 2],
    /// `authenticate` over the stub.
    pub auth: Authenticator,
    /// The `login` handler.
    pub login: login::Login,
    /// The `chat` handler.
    pub chat: chat::Chat,
    /// The `escalation` handler.
    pub escalation: escalation::Escalation,
    /// The `ws-connect` handler.
    pub ws: ws_connect::WsConnect,
}

impl Fixture {
    /// Runs a future to completion on the fixture's single-threaded runtime.
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }
}

/// The process-wide fixture (built on first use: one key generation, no I/O).
pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(build_fixture)
}

fn build_fixture() -> Fixture {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("runtime");
    let clock: Arc<dyn Clock> = Arc::new(FixedClock);
    let (key, signing_pem) = SigningKey::generate(KID).expect("key generation");
    let keys = shared::auth::PublicKeys::new([key.public_key().clone()]).expect("key set");
    let verifier_jwks = keys.to_jwks();
    let verifier = Arc::new(TokenVerifier::new(keys.clone(), ISSUER, AUDIENCE));
    let env = |var: &str| -> Option<String> {
        match var {
            "PASSWORD_RESET_URL" => Some(format!("{ORIGIN}/reset-password")),
            "EMAIL_VERIFY_URL" => Some(format!("{ORIGIN}/verify-email")),
            "MAIL_FROM" => Some("Support <support@example.com>".into()),
            _ => None,
        }
    };
    let login_config = LoginConfig::from_source(&env).expect("login config");
    let settings =
        TokenSettings { issuer: ISSUER.into(), audience: AUDIENCE.into(), ttl: Duration::minutes(15) };
    let ring = Arc::new(KeyRing::fixed(settings, keys, Some(key)).expect("key ring"));
    let issuer = runtime.block_on(ring.issuer()).expect("issuer");
    let http = HttpConfig {
        keys: ring,
        cors: Cors::new([ORIGIN.to_owned()]).expect("origins"),
        cookie: CookieSettings::default(),
        front_door: shared::http::FrontDoor::none(),
    };

    let profile = UserProfile {
        id: UserId::from_trusted("usr_fuzz"),
        email: Email::parse("fuzz@example.com").expect("email"),
        display_name: None,
        created_at: now(),
        email_verified: true,
    };
    let (_, session) = SessionPolicy::default().start(profile, now(), None);
    let access_token = issuer.issue(&session.user.id, &session.id, now()).expect("token").token;
    let (other_key, _) = SigningKey::generate(KID).expect("key generation");
    let forged = TokenIssuer::new(other_key, ISSUER, AUDIENCE, Duration::minutes(15))
        .issue(&session.user.id, &session.id, now())
        .expect("token")
        .token;
    let expired =
        issuer.issue(&session.user.id, &session.id, now() - Duration::hours(1)).expect("token").token;
    let stub = Arc::new(Stub { live: session.clone(), calls: Mutex::new(Vec::new()) });
    let stores = Stores::single(stub.clone());
    let auth = Authenticator::new(http.keys.clone(), &stores, clock.clone());

    let login =
        login::Login::new(login_config, http.clone(), &stores, stub.clone(), stub.clone(), clock.clone());
    let mail = MailSettings {
        from: "Support <support@example.com>".parse().expect("from"),
        support: "help@example.com".parse().expect("support"),
        replies: None,
        web_client: None,
    };
    let chat =
        chat::Chat::new(http.clone(), &stores, stub.clone(), stub.clone(), mail.clone(), clock.clone());
    let escalation = escalation::Escalation::new(
        http.clone(),
        EscalationConfig { mail, policy: EscalationPolicy::default() },
        &stores,
        stub.clone(),
        stub.clone(),
        clock.clone(),
    );
    let policy = shared::config::ConnectPolicy::from_source(&env).expect("connect policy");
    let ws = ws_connect::WsConnect::new(http.clone(), policy, &stores, clock);
    stub.take_calls();
    Fixture {
        runtime,
        stub,
        verifier,
        verifier_jwks,
        issuer,
        signing_pem,
        http,
        session,
        access_token,
        bad_tokens: [forged, expired],
        auth,
        login,
        chat,
        escalation,
        ws,
    }
}

/// Whether `s` is a hex SHA-256 (what every stored secret id must be).
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Hex SHA-256 computed independently of the code under test (RustCrypto, not aws-lc).
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

/// The response body as text.
pub fn body_text(response: &Response<Body>) -> &str {
    match response.body() {
        Body::Text(s) => s,
        Body::Binary(b) => std::str::from_utf8(b).expect("binary body is not UTF-8"),
        _ => "",
    }
}

/// Checks what every handler response must be: never a 500; every error a problem+json body
/// whose `status` and `code` agree with the response; a `validation_failed` names its fields.
/// Returns the problem code (`""` for a success).
pub fn check_response(response: &Response<Body>) -> String {
    let status = response.status().as_u16();
    assert_ne!(status, 500, "internal error: {}", body_text(response));
    if status < 400 {
        return String::new();
    }
    let content_type = response.headers().get(http::header::CONTENT_TYPE).map(|v| v.to_str().unwrap_or(""));
    assert_eq!(content_type, Some("application/problem+json"), "status {status}");
    let problem: serde_json::Value =
        serde_json::from_str(body_text(response)).expect("problem body is not JSON");
    assert_eq!(problem["status"].as_u64(), Some(u64::from(status)), "{problem}");
    let code = problem["code"].as_str().expect("problem without a code").to_owned();
    assert_eq!(problem["type"].as_str(), Some(format!("/problems/{code}").as_str()));
    if code == "validation_failed" {
        let errors = problem["errors"].as_array().expect("validation_failed without errors");
        assert!(!errors.is_empty(), "validation_failed with no field");
        for e in errors {
            assert!(e["field"].as_str().is_some_and(|f| !f.is_empty()), "{problem}");
            assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{problem}");
        }
    }
    code
}
