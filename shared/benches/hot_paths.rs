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
    Authenticator, PublicKeys, SessionId, SessionPolicy, SigningKey, TokenIssuer, TokenVerifier,
};
use shared::domain::mail::{MailSettings, build};
use shared::domain::ws::{TicketMinter, TicketPolicy};
use shared::domain::{Email, UserId, UserProfile};
use shared::ports::{
    Admission, ConnectionRecord, Connections, MailStatus, Priority, Quota, Recipient, ResetRecord,
    SessionRecord, SessionStore, StoreResult, Stores, SupportTicket, TicketRecord, TranscriptLine,
    UserRecord, WsTickets,
};

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
    async fn create_reset(&self, _: &ResetRecord) -> StoreResult<()> {
        unreachable!("not benched")
    }
    async fn redeem_reset(&self, _: &str, _: DateTime<Utc>) -> StoreResult<Option<ResetRecord>> {
        unreachable!("not benched")
    }
    async fn delete_for_user(&self, _: &UserId) -> StoreResult<()> {
        unreachable!("not benched")
    }
}

#[async_trait]
impl Connections for InMemory {
    async fn put(&self, _: &ConnectionRecord) -> StoreResult<()> {
        unreachable!("not benched")
    }
    async fn put_redeeming(
        &self,
        c: &ConnectionRecord,
        ticket: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<bool> {
        let spent = self.tickets.lock().unwrap().remove(ticket).is_some_and(|t| t.expires_at > now);
        if spent {
            self.connections.lock().unwrap().insert(c.id.clone(), c.clone());
        }
        Ok(spent)
    }
    async fn delete(&self, _: &str) -> StoreResult<()> {
        unreachable!("not benched")
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
    };
    let (_, session) = SessionPolicy::default().start(profile.clone(), now, None);
    let user = UserRecord { profile, password_hash: "$argon2id$unused".into() };
    runtime.block_on(stores.users.create(&user, &session)).unwrap();
    runtime.block_on(stores.sessions.create(&session)).ok();

    let (key, _) = SigningKey::generate("bench").unwrap();
    let keys = PublicKeys::new([key.public_key().clone()]).unwrap();
    let issuer = TokenIssuer::new(key, "iss", "aud", Duration::minutes(15));
    let token = issuer.issue(&session.user.id, &session.id, now).unwrap().token;
    let auth = Authenticator::new(Arc::new(TokenVerifier::new(keys, "iss", "aud")), stores, clock.clone());
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
    // that stores the connection.
    c.bench_function(&format!("ws_ticket_mint_and_redeem, {label}"), |b| {
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
            assert!(connections.put_redeeming(&connection, &ticket, now).await.unwrap());
        })
    });
}

fn mail(c: &mut Criterion) {
    c.bench_function("ws_ticket_secret_and_hash (no store)", |b| b.iter(|| Secret::generate().digest()));
    let settings = MailSettings {
        from: "Support <support@example.com>".parse().unwrap(),
        support: "help@example.com".parse().unwrap(),
    };
    let line = |i: usize| TranscriptLine {
        role: if i.is_multiple_of(2) { "user" } else { "assistant" }.into(),
        content: "My invoice for March shows the wrong amount & a <b>duplicate</b> line. ".repeat(4),
        created_at: "2026-01-09T10:00:00Z".into(),
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
        status: "open".into(),
        created_at: Utc::now(),
        transcript: (0..20).map(line).collect(),
        mail_support: MailStatus::Queued,
        mail_user: MailStatus::Queued,
    };
    c.bench_function("escalation_mail_build (support mail, 20-message transcript)", |b| {
        b.iter(|| build(&settings, black_box(&ticket), Recipient::Support).unwrap())
    });
    c.bench_function("escalation_mail_build (user mail)", |b| {
        b.iter(|| build(&settings, black_box(&ticket), Recipient::User).unwrap())
    });
}

criterion_group!(benches, store_paths, mail);
criterion_main!(benches);
