//! In-process costs of the request hot paths: the session check every protected route does,
//! minting and redeeming a WebSocket ticket, and building a ticket mail. Each store path runs
//! twice: on the SQLite adapter (a file in a temp dir, as the local gateway runs), and on a
//! store held in memory, which leaves only the function's own work — in Lambda the store is a
//! DynamoDB round trip instead, counted in `tests/round_trips.rs` and timed by the cold-start
//! harness.
//! `cargo bench -p shared --features sqlite --bench hot_paths`; figures go to BENCHMARKS.md.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use http::HeaderMap;
use shared::adapters::sqlite::SqliteStore;
use shared::auth::secret::Secret;
use shared::auth::{
    Authenticator, KeyRing, PublicKeys, SessionPolicy, SigningKey, TokenIssuer, TokenSettings,
};
use shared::domain::mail::{About, MailSettings, build};
use shared::domain::{
    ConnectionRecord, Email, MailStatus, Priority, Recipient, SessionId, SessionRecord, SupportTicket,
    TicketRecord, TranscriptLine, UserId, UserProfile, UserRecord,
};
use shared::ports::{
    Admission, ConnectGate, Connections, Opened, Quota, SessionStore, StoreResult, Stores, WsTickets,
};
use shared::services::{TicketMinter, TicketPolicy};

/// Sessions and tickets in a map: the store without its cost (only what the benches call).
#[derive(Default)]
struct InMemory {
    sessions: Mutex<HashMap<SessionId, SessionRecord>>,
    tickets: Mutex<HashMap<String, TicketRecord>>,
    connections: Mutex<HashMap<String, ConnectionRecord>>,
}

#[async_trait]
impl SessionStore for InMemory {
    async fn create(&self, session: &SessionRecord) -> StoreResult<()> {
        self.sessions.lock().unwrap().insert(session.id.clone(), session.clone());
        Ok(())
    }
    async fn get(&self, id: &SessionId, now: DateTime<Utc>) -> StoreResult<Option<SessionRecord>> {
        Ok(self.sessions.lock().unwrap().get(id).filter(|s| s.is_live(now)).cloned())
    }
    async fn touch(
        &self,
        _: &SessionId,
        _: DateTime<Utc>,
        _: DateTime<Utc>,
    ) -> StoreResult<Option<SessionRecord>> {
        unreachable!("not benched")
    }
    async fn delete(&self, _: &SessionId, _: DateTime<Utc>) -> StoreResult<bool> {
        unreachable!("not benched")
    }
    async fn for_user(&self, _: &UserId, _: DateTime<Utc>) -> StoreResult<Vec<SessionRecord>> {
        unreachable!("not benched")
    }
    async fn mark_email_verified(&self, _: &UserId, _: DateTime<Utc>) -> StoreResult<()> {
        unreachable!("not benched")
    }
}

#[async_trait]
impl WsTickets for InMemory {
    async fn create(&self, ticket: &TicketRecord, _: &Quota) -> StoreResult<Admission> {
        self.tickets.lock().unwrap().insert(ticket.id.clone(), ticket.clone());
        Ok(Admission::Admitted)
    }
    async fn peek(&self, id: &str, now: DateTime<Utc>) -> StoreResult<Option<TicketRecord>> {
        Ok(self.tickets.lock().unwrap().get(id).filter(|t| t.expires_at > now).cloned())
    }
    async fn delete_for_user(&self, _: &UserId) -> StoreResult<()> {
        unreachable!("not benched")
    }
}

#[async_trait]
impl Connections for InMemory {
    async fn open(
        &self,
        c: &ConnectionRecord,
        gate: &ConnectGate,
        now: DateTime<Utc>,
    ) -> StoreResult<Opened> {
        let ticket = gate.ticket.as_deref().unwrap_or_default();
        if self.tickets.lock().unwrap().remove(ticket).is_none_or(|t| t.expires_at <= now) {
            return Ok(Opened::TicketRefused);
        }
        let mut connections = self.connections.lock().unwrap();
        let live = connections.values().filter(|k| k.user_id == c.user_id && k.expires_at > now).count();
        if live >= gate.max_per_user as usize {
            return Ok(Opened::TooManyConnections);
        }
        connections.insert(c.id.clone(), c.clone());
        Ok(Opened::Stored)
    }
    async fn delete(&self, id: &str) -> StoreResult<()> {
        self.connections.lock().unwrap().remove(id);
        Ok(())
    }
    async fn for_user(&self, _: &UserId, _: DateTime<Utc>) -> StoreResult<Vec<ConnectionRecord>> {
        unreachable!("not benched")
    }
    async fn for_session(&self, _: &SessionId, _: DateTime<Utc>) -> StoreResult<Vec<ConnectionRecord>> {
        unreachable!("not benched")
    }
}

fn store_paths(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Arc::new(SqliteStore::open(&dir.path().join("app.db")).unwrap());
    let in_memory = Arc::new(InMemory::default());
    let memory = Stores {
        sessions: in_memory.clone(),
        ws_tickets: in_memory.clone(),
        connections: in_memory,
        ..Stores::single(sqlite.clone())
    };
    for (label, stores) in [("sqlite", Stores::single(sqlite)), ("in memory", memory)] {
        paths_on(c, label, &stores);
    }
}

fn paths_on(c: &mut Criterion, label: &str, stores: &Stores) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let clock: Arc<dyn shared::Clock> = Arc::new(shared::SystemClock);
    let now = Utc::now();
    let profile = UserProfile {
        id: UserId::generate(),
        email: Email::parse(&format!("bench-{}@example.com", label.replace(' ', "-"))).unwrap(),
        display_name: None,
        created_at: now,
        email_verified: true,
    };
    let (_, session) = SessionPolicy::default().start(profile.clone(), now, None);
    let user = UserRecord {
        profile,
        password_hash: "$argon2id$unused".into(),
        verify_token: None,
        reset_token: None,
    };
    runtime.block_on(stores.users.create(&user, &session)).unwrap();
    runtime.block_on(stores.sessions.create(&session)).ok();

    let (key, _) = SigningKey::generate("bench").unwrap();
    let keys = PublicKeys::new([key.public_key().clone()]).unwrap();
    let issuer = TokenIssuer::new(key, "iss", "aud", Duration::minutes(15));
    let token = issuer.issue(&session.user.id, &session.id, now).unwrap().token;
    let settings = TokenSettings { issuer: "iss".into(), audience: "aud".into(), ttl: Duration::minutes(15) };
    let auth =
        Authenticator::new(Arc::new(KeyRing::fixed(settings, keys, None).unwrap()), stores, clock.clone());
    let mut headers = HeaderMap::new();
    headers.insert("authorization", format!("Bearer {token}").parse().unwrap());
    let principal = runtime.block_on(auth.authenticate(&headers)).unwrap();
    let policy = TicketPolicy { per_minute: u32::MAX, ..TicketPolicy::default() };
    let minter = TicketMinter::new(stores.ws_tickets.clone(), policy, clock);
    let connections = stores.connections.clone();

    c.bench_function(&format!("session_check, {label} (token verify + session read)"), |b| {
        b.to_async(&runtime).iter(|| async { auth.authenticate(black_box(&headers)).await.unwrap() })
    });
    c.bench_function(&format!("ws_ticket_mint, {label} (secret, hash, ticket + quota write)"), |b| {
        b.to_async(&runtime).iter(|| async { minter.mint(black_box(&principal)).await.unwrap() })
    });
    // What `$connect` does with the ticket: check it and its session, then spend it in the write
    // that stores the connection (within the user's cap); then `$disconnect` forgets it, so the
    // user's live connections stay few however long the bench runs.
    c.bench_function(&format!("ws_ticket_mint_redeem_disconnect, {label}"), |b| {
        b.to_async(&runtime).iter(|| async {
            let minted = minter.mint(&principal).await.unwrap();
            let (who, ticket) = auth.check_ticket(minted.ticket.expose()).await.unwrap();
            let now = Utc::now();
            let connection = ConnectionRecord {
                id: uuid::Uuid::new_v4().to_string(),
                user_id: who.user().id.clone(),
                session_id: who.session_id().clone(),
                connected_at: now,
                expires_at: now + Duration::hours(2),
            };
            let gate = ConnectGate { ticket: Some(ticket), quota: None, max_per_user: 10 };
            assert_eq!(connections.open(&connection, &gate, now).await.unwrap(), Opened::Stored);
            connections.delete(&connection.id).await.unwrap();
        })
    });
}

fn mail(c: &mut Criterion) {
    c.bench_function("ws_ticket_secret_and_hash (no store)", |b| b.iter(|| Secret::generate().digest()));
    let settings = MailSettings {
        from: "Support <support@example.com>".parse().unwrap(),
        support: "help@example.com".parse().unwrap(),
        replies: None,
        web_client: None,
    };
    let line = |i: usize| TranscriptLine {
        role: if i.is_multiple_of(2) { "user" } else { "assistant" }.into(),
        content: "My invoice for March shows the wrong amount & a <b>duplicate</b> line. ".repeat(4),
        created_at: "2026-01-09T10:00:00Z".into(),
        sources: Vec::new(),
    };
    let ticket = SupportTicket {
        id: "tkt_bench".into(),
        number: "AB-20260109-0004".into(),
        user_id: UserId::from_trusted("usr_bench"),
        user_email: "bench@example.com".into(),
        conversation_id: "conv_bench".into(),
        subject: "Invoice shows the wrong amount".into(),
        description: "Please check the March invoice.".into(),
        priority: Priority::High,
        status: shared::domain::TicketStatus::Open,
        created_at: Utc::now(),
        updated_at: Utc::now(),
        resolved_at: None,
        rating: None,
        revision: 0,
        transcript: (0..20).map(line).collect(),
        mail_support: MailStatus::Queued,
        mail_user: MailStatus::Queued,
        message_id_support: None,
        message_id_user: None,
    };
    let about = About { user_name: Some("Ada Lovelace"), web_client: Some("https://support.example.com") };
    c.bench_function("escalation_mail_build (support mail, 20-message transcript)", |b| {
        b.iter(|| build(&settings, black_box(&ticket), Recipient::Support, &about).unwrap())
    });
    c.bench_function("escalation_mail_build (user mail)", |b| {
        b.iter(|| build(&settings, black_box(&ticket), Recipient::User, &about).unwrap())
    });
}

criterion_group!(benches, store_paths, mail);
criterion_main!(benches);
