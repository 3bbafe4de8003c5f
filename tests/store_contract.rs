//! One contract for every store adapter: the same cases run against SQLite (a temp file) and
//! DynamoDB (moto, fresh tables per test).

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use shared::auth::SessionPolicy;
use shared::domain::{
    ConnectionRecord, ConversationRecord, Cursor, DETACHED_OWNER, DisplayName, Email, IdempotencyKey,
    MailRecord, MailStatus, MessageRecord, NewTicket, Priority, Recipient, Role, SessionId, Source,
    StoredToken, SupportTicket, TicketRecord, TokenPurpose, TranscriptLine, UserId, UserProfile, UserRecord,
};
use shared::ports::{
    Acquired, Admission, ConnectGate, Connections, Conversations, CreateConflict, EventLog, Opened, Quota,
    RateLimits, SessionStore, StoreError, SupportTickets, UserStore, WsTickets,
};

trait Store:
    UserStore
    + SessionStore
    + RateLimits
    + WsTickets
    + Connections
    + Conversations
    + SupportTickets
    + EventLog
    + 'static
{
}
impl<T> Store for T where
    T: UserStore
        + SessionStore
        + RateLimits
        + WsTickets
        + Connections
        + Conversations
        + SupportTickets
        + EventLog
        + 'static
{
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 9, 12, 0, 0).unwrap()
}

fn user(email: &str) -> UserRecord {
    UserRecord {
        profile: UserProfile {
            id: UserId::generate(),
            email: Email::parse(email).unwrap(),
            display_name: Some(DisplayName::parse("Ada").unwrap()),
            created_at: t0(),
            email_verified: false,
        },
        password_hash:
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g".into(),
        verify_token: Some(StoredToken { digest: "v".repeat(64), expires_at: t0() + Duration::hours(24) }),
        reset_token: None,
    }
}

/// Creates the account with a first session, as registration does; returns that session's id.
async fn create(store: &impl Store, u: &UserRecord) -> Result<SessionId, StoreError> {
    let (_, session) = SessionPolicy::default().start(u.profile.clone(), t0(), None);
    UserStore::create(store, u, &session).await.map(|()| session.id)
}

async fn users_round_trip_and_unique_email(store: Arc<impl Store>) {
    let ada = user("ada@example.com");
    let first_session = create(&*store, &ada).await.unwrap();
    let session =
        SessionStore::get(&*store, &first_session, t0()).await.unwrap().expect("first session written");
    assert_eq!(session.user, ada.profile);
    assert_eq!(store.find_by_email(&ada.profile.email).await.unwrap(), Some(ada.clone()));
    assert_eq!(UserStore::get(&*store, &ada.profile.id).await.unwrap(), Some(ada.clone()));
    assert_eq!(store.find_by_email(&Email::parse("nobody@example.com").unwrap()).await.unwrap(), None);

    let mut twin = user("ada@example.com");
    twin.profile.display_name = None;
    let (_, twin_session) = SessionPolicy::default().start(twin.profile.clone(), t0(), None);
    assert!(matches!(UserStore::create(&*store, &twin, &twin_session).await, Err(StoreError::Conflict)));
    assert_eq!(
        UserStore::get(&*store, &twin.profile.id).await.unwrap(),
        None,
        "a refused create writes nothing"
    );
    assert_eq!(
        SessionStore::get(&*store, &twin_session.id, t0()).await.unwrap(),
        None,
        "not even the session"
    );

    let mut nameless = user("grace@example.com");
    nameless.profile.display_name = None;
    create(&*store, &nameless).await.unwrap();
    assert_eq!(UserStore::get(&*store, &nameless.profile.id).await.unwrap(), Some(nameless));

    store.change_password(&ada, "$argon2id$new").await.unwrap();
    let by_email = store.find_by_email(&ada.profile.email).await.unwrap().unwrap();
    assert_eq!(by_email.password_hash, "$argon2id$new");
    assert_eq!(by_email.verify_token, None, "a password change removes the mailed tokens");
    assert_eq!(UserStore::get(&*store, &ada.profile.id).await.unwrap(), Some(by_email.clone()));

    // A rehash writes only over the hash it was computed from: never over a change made since.
    assert!(!store.rehash(&ada, "$argon2id$stale-rehash").await.unwrap(), "ada's hash changed since");
    assert!(store.rehash(&by_email, "$argon2id$rehashed").await.unwrap());
    assert_eq!(
        store.find_by_email(&ada.profile.email).await.unwrap().unwrap().password_hash,
        "$argon2id$rehashed"
    );
}

/// The account as both of its reads see it.
async fn stored(store: &impl Store, u: &UserRecord) -> UserRecord {
    let by_id = UserStore::get(store, &u.profile.id).await.unwrap().expect("stored");
    assert_eq!(store.find_by_email(&u.profile.email).await.unwrap(), Some(by_id.clone()), "both reads agree");
    by_id
}

async fn mailed_tokens_are_one_per_purpose_and_work_once(store: Arc<impl Store>) {
    let ada = user("ada@example.com");
    create(&*store, &ada).await.unwrap();
    let token =
        |d: &str, hours| StoredToken { digest: d.repeat(64), expires_at: t0() + Duration::hours(hours) };
    assert_eq!(stored(&*store, &ada).await.verify_token, ada.verify_token, "written with the account");

    // A new verification token replaces the last: the old one no longer verifies.
    store.set_token(&ada, TokenPurpose::VerifyEmail, &token("w", 24)).await.unwrap();
    assert!(!store.verify_email(&ada, &"v".repeat(64), t0()).await.unwrap(), "replaced");
    assert!(!store.verify_email(&ada, &"w".repeat(64), t0() + Duration::hours(24)).await.unwrap(), "expired");
    assert!(!stored(&*store, &ada).await.profile.email_verified);
    assert!(store.verify_email(&ada, &"w".repeat(64), t0()).await.unwrap());
    let verified = stored(&*store, &ada).await;
    assert!(verified.profile.email_verified);
    assert_eq!(verified.verify_token, None);
    assert!(!store.verify_email(&ada, &"w".repeat(64), t0()).await.unwrap(), "once");

    // Reset: the latest token only, once; it also verifies and clears every token.
    let grace = user("grace@example.com");
    create(&*store, &grace).await.unwrap();
    store.set_token(&grace, TokenPurpose::ResetPassword, &token("1", 1)).await.unwrap();
    store.set_token(&grace, TokenPurpose::ResetPassword, &token("2", 1)).await.unwrap();
    assert_eq!(stored(&*store, &grace).await.token(TokenPurpose::ResetPassword), Some(&token("2", 1)));
    assert!(!store.reset_password(&grace, &"1".repeat(64), "$argon2id$a", t0()).await.unwrap(), "replaced");
    assert!(
        !store
            .reset_password(&grace, &"2".repeat(64), "$argon2id$a", t0() + Duration::hours(1))
            .await
            .unwrap()
    );
    assert!(store.reset_password(&grace, &"2".repeat(64), "$argon2id$b", t0()).await.unwrap());
    let reset = stored(&*store, &grace).await;
    assert_eq!(reset.password_hash, "$argon2id$b");
    assert!(reset.profile.email_verified, "the mailed link proved the address");
    assert_eq!((reset.verify_token, reset.reset_token), (None, None));
    assert!(!store.reset_password(&grace, &"2".repeat(64), "$argon2id$c", t0()).await.unwrap(), "once");

    // A withdrawn token (its mail could not be sent) redeems nothing.
    store.set_token(&grace, TokenPurpose::ResetPassword, &StoredToken::withdrawn()).await.unwrap();
    assert!(!store.reset_password(&grace, "", "$argon2id$d", t0()).await.unwrap());
    assert!(!stored(&*store, &grace).await.reset_token.unwrap().admits("", t0()));

    // A deleted account takes its tokens with it.
    UserStore::delete(&*store, &ada).await.unwrap();
    assert!(matches!(
        store.set_token(&ada, TokenPurpose::ResetPassword, &token("3", 1)).await,
        Err(StoreError::Conflict)
    ));
}

async fn concurrent_redemptions_of_one_reset_token_admit_one(store: Arc<impl Store>) {
    let ada = user("ada@example.com");
    create(&*store, &ada).await.unwrap();
    let token = StoredToken { digest: "r".repeat(64), expires_at: t0() + Duration::hours(1) };
    store.set_token(&ada, TokenPurpose::ResetPassword, &token).await.unwrap();
    let attempts = (0..20).map(|i| {
        let (store, ada) = (Arc::clone(&store), ada.clone());
        tokio::spawn(async move {
            store.reset_password(&ada, &"r".repeat(64), &format!("$argon2id${i}"), t0()).await.unwrap()
        })
    });
    let winners =
        futures::future::join_all(attempts).await.into_iter().filter(|r| matches!(r, Ok(true))).count();
    assert_eq!(winners, 1);
}

async fn concurrent_registrations_of_one_email_admit_one(store: Arc<impl Store>) {
    let attempts = (0..10).map(|_| {
        let store = Arc::clone(&store);
        tokio::spawn(async move { create(&*store, &user("race@example.com")).await })
    });
    let results = futures::future::join_all(attempts).await;
    let created = results.into_iter().filter(|r| matches!(r, Ok(Ok(_)))).count();
    assert_eq!(created, 1);
}

async fn sessions_expire_on_both_limits(store: Arc<impl Store>) {
    let policy = SessionPolicy { absolute: Duration::days(31), idle: Duration::days(7) };
    let (_, session) = policy.start(user("s@example.com").profile, t0(), Some("Firefox".into()));
    SessionStore::create(&*store, &session).await.unwrap();
    assert!(matches!(SessionStore::create(&*store, &session).await, Err(StoreError::Conflict)));
    assert_eq!(SessionStore::get(&*store, &session.id, t0()).await.unwrap(), Some(session.clone()));
    let idle_end = t0() + Duration::days(7);
    assert!(
        SessionStore::get(&*store, &session.id, idle_end - Duration::seconds(1)).await.unwrap().is_some()
    );
    assert_eq!(SessionStore::get(&*store, &session.id, idle_end).await.unwrap(), None, "idle limit");

    // Refresh moves the idle limit; the absolute limit still ends the session.
    let now = t0() + Duration::days(6);
    let touched = store.touch(&session.id, now + Duration::days(7), now).await.unwrap().expect("live");
    assert_eq!(touched.idle_expires_at, now + Duration::days(7));
    assert!(SessionStore::get(&*store, &session.id, idle_end).await.unwrap().is_some());
    let mut later = now;
    while later + Duration::days(7) < t0() + Duration::days(31) {
        later += Duration::days(6);
        assert!(store.touch(&session.id, later + Duration::days(7), later).await.unwrap().is_some());
    }
    let absolute_end = t0() + Duration::days(31);
    assert_eq!(SessionStore::get(&*store, &session.id, absolute_end).await.unwrap(), None, "absolute limit");
    assert_eq!(store.touch(&session.id, absolute_end + Duration::days(7), absolute_end).await.unwrap(), None);
    assert!(
        !SessionStore::delete(&*store, &session.id, absolute_end).await.unwrap(),
        "deleting an expired session reports none live"
    );
}

async fn sessions_are_revoked_once(store: Arc<impl Store>) {
    let (_, a) = SessionPolicy::default().start(user("a@example.com").profile, t0(), None);
    let (_, b) = SessionPolicy::default().start(user("a@example.com").profile, t0(), None);
    SessionStore::create(&*store, &a).await.unwrap();
    SessionStore::create(&*store, &b).await.unwrap();
    assert!(SessionStore::delete(&*store, &a.id, t0()).await.unwrap());
    assert!(!SessionStore::delete(&*store, &a.id, t0()).await.unwrap());
    assert_eq!(SessionStore::get(&*store, &a.id, t0()).await.unwrap(), None);
    assert_eq!(store.touch(&a.id, t0() + Duration::days(7), t0()).await.unwrap(), None);
    assert!(SessionStore::get(&*store, &b.id, t0()).await.unwrap().is_some(), "other sessions untouched");
    assert_eq!(
        SessionStore::get(&*store, &SessionId::from_trusted("f".repeat(64)), t0()).await.unwrap(),
        None
    );
}

async fn allowances_admit_the_limit_per_window_and_restart_after(store: Arc<impl Store>) {
    let window = Duration::minutes(15);
    for expected in 1..=3 {
        let at = t0() + Duration::seconds(expected.into());
        let acquired = store.acquire("k", 3, window, at).await.unwrap();
        let start_end = t0() + Duration::seconds(1) + window;
        assert_eq!(
            acquired,
            Acquired::Admitted(shared::ports::Counter { count: expected, expires_at: start_end }),
            "the window starts at the first unit"
        );
    }
    let end = t0() + Duration::seconds(1) + window;
    assert_eq!(
        store.acquire("k", 3, window, t0() + Duration::seconds(9)).await.unwrap(),
        Acquired::Refused { until: end }
    );
    assert_eq!(
        store.acquire("k", 3, window, end - Duration::seconds(1)).await.unwrap(),
        Acquired::Refused { until: end }
    );
    assert!(
        matches!(store.acquire("other", 3, window, t0()).await.unwrap(), Acquired::Admitted(_)),
        "per key"
    );
    // The ended window's item may still be stored (TTL is late): it restarts at 1.
    let restarted = store.acquire("k", 3, window, end).await.unwrap();
    assert_eq!(restarted, Acquired::Admitted(shared::ports::Counter { count: 1, expires_at: end + window }));
    store.clear("k").await.unwrap();
    assert!(
        matches!(store.acquire("k", 1, window, end).await.unwrap(), Acquired::Admitted(c) if c.count == 1)
    );
    assert!(matches!(store.acquire("k", 1, window, end).await.unwrap(), Acquired::Refused { .. }));
    store.clear("never-set").await.unwrap();
}

async fn concurrent_acquires_admit_exactly_the_limit(store: Arc<impl Store>) {
    let attempts = (0..40).map(|_| {
        let store = Arc::clone(&store);
        tokio::spawn(async move { store.acquire("busy", 5, Duration::minutes(1), t0()).await.unwrap() })
    });
    let mut counts: Vec<u32> = futures::future::join_all(attempts)
        .await
        .into_iter()
        .filter_map(|r| match r.unwrap() {
            Acquired::Admitted(c) => Some(c.count),
            Acquired::Refused { .. } => None,
        })
        .collect();
    counts.sort_unstable();
    assert_eq!(counts, vec![1, 2, 3, 4, 5], "exactly the limit admitted, each with a distinct count");
}

async fn a_users_sessions_are_listed_oldest_first_and_live_only(store: Arc<impl Store>) {
    let ada = user("ada@example.com");
    let first = create(&*store, &ada).await.unwrap();
    let policy = SessionPolicy { absolute: Duration::days(31), idle: Duration::days(7) };
    let (_, later) = policy.start(ada.profile.clone(), t0() + Duration::hours(1), Some("Firefox/140".into()));
    SessionStore::create(&*store, &later).await.unwrap();
    let (_, other) = policy.start(user("grace@example.com").profile, t0(), None);
    SessionStore::create(&*store, &other).await.unwrap();

    let listed = SessionStore::for_user(&*store, &ada.profile.id, t0() + Duration::hours(2)).await.unwrap();
    assert_eq!(
        listed.iter().map(|s| s.id.clone()).collect::<Vec<_>>(),
        vec![first.clone(), later.id.clone()]
    );
    assert_eq!(listed[1], later, "user agent and times round-trip");

    let now = t0() + Duration::days(3);
    let touched = store.touch(&later.id, now + Duration::days(7), now).await.unwrap().unwrap();
    assert_eq!(touched.last_seen_at, now, "refresh records the last use");
    // The first session's idle limit passes; only the refreshed one is listed.
    let listed = SessionStore::for_user(&*store, &ada.profile.id, t0() + Duration::days(8)).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].last_seen_at, now);
    SessionStore::delete(&*store, &later.id, now).await.unwrap();
    assert!(SessionStore::for_user(&*store, &ada.profile.id, now).await.unwrap().len() == 1);
}

async fn deleting_a_user_leaves_others_and_frees_the_email(store: Arc<impl Store>) {
    let ada = user("ada@example.com");
    let grace = user("grace@example.com");
    create(&*store, &ada).await.unwrap();
    create(&*store, &grace).await.unwrap();
    let mut t = ticket("t1", t0() + Duration::minutes(5));
    t.user_id = ada.profile.id.clone();
    WsTickets::create(&*store, &t, &quota("q", 5)).await.unwrap();
    let mut kept = ticket("t2", t0() + Duration::minutes(5));
    kept.user_id = grace.profile.id.clone();
    WsTickets::create(&*store, &kept, &quota("q", 5)).await.unwrap();

    WsTickets::delete_for_user(&*store, &ada.profile.id).await.unwrap();
    assert_eq!(store.peek("t1", t0()).await.unwrap(), None);
    assert!(store.peek("t2", t0()).await.unwrap().is_some(), "another user's ticket stays");

    UserStore::delete(&*store, &ada).await.unwrap();
    assert_eq!(UserStore::get(&*store, &ada.profile.id).await.unwrap(), None);
    assert_eq!(store.find_by_email(&ada.profile.email).await.unwrap(), None);
    assert!(UserStore::get(&*store, &grace.profile.id).await.unwrap().is_some());
    create(&*store, &user("ada@example.com")).await.expect("the email registers again");
}

async fn a_users_conversations_are_deleted_and_tickets_detached(store: Arc<impl Store>) {
    a_conversation_of(&*store, "conv_1", "u1").await;
    a_conversation_of(&*store, "conv_2", "u1").await;
    a_conversation_of(&*store, "conv_3", "u2").await;
    SupportTickets::create(&*store, &new_ticket("tkt_1", "conv_1", "u1", 0, Some("key-1")))
        .await
        .unwrap()
        .unwrap();
    SupportTickets::create(&*store, &new_ticket("tkt_2", "conv_3", "u2", 1, None)).await.unwrap().unwrap();

    Conversations::delete_for_user(&*store, &UserId::from_trusted("u1")).await.unwrap();
    assert_eq!(Conversations::get(&*store, "conv_1").await.unwrap(), None);
    assert_eq!(store.transcript("conv_2").await.unwrap(), None);
    assert!(store.messages("conv_1", 0, 10).await.unwrap().is_empty());
    assert!(Conversations::get(&*store, "conv_3").await.unwrap().is_some(), "another user's stays");

    store.detach_user(&UserId::from_trusted("u1")).await.unwrap();
    let detached = SupportTickets::get(&*store, "tkt_1").await.unwrap().expect("the ticket stays");
    assert_eq!(detached.user_id.as_str(), DETACHED_OWNER);
    assert_eq!(detached.user_email, "");
    assert_eq!(detached.transcript.len(), 1, "the support team keeps the conversation");
    assert_eq!(store.mail("tkt_1", "user").await.unwrap(), None, "the mails held the address");
    assert!(SupportTickets::list(&*store, &UserId::from_trusted("u1"), None, 10).await.unwrap().is_empty());
    assert_eq!(store.by_key(&UserId::from_trusted("u1"), "key-1", t0()).await.unwrap(), None);
    let kept = SupportTickets::get(&*store, "tkt_2").await.unwrap().unwrap();
    assert_eq!(kept.user_id.as_str(), "u2");
    assert!(store.mail("tkt_2", "user").await.unwrap().is_some());
}

fn ticket(id: &str, expires_at: DateTime<Utc>) -> TicketRecord {
    TicketRecord {
        id: id.to_owned(),
        user_id: UserId::from_trusted("usr_t"),
        session_id: SessionId::from_trusted("sid_t"),
        expires_at,
    }
}

fn quota(key: &str, limit: u32) -> Quota {
    Quota { key: key.to_owned(), limit, window_end: t0() + Duration::minutes(1) }
}

/// What `$connect` with a ticket passes: spend it, within a cap of 10.
fn with_ticket(ticket: &str) -> ConnectGate {
    ConnectGate { ticket: Some(ticket.to_owned()), quota: None, max_per_user: 10 }
}

/// No ticket, no quota, only a cap.
fn capped(max_per_user: u32) -> ConnectGate {
    ConnectGate { ticket: None, quota: None, max_per_user }
}

/// A connection opened with `ticket`.
fn connection_for(id: &str, ticket: &TicketRecord) -> ConnectionRecord {
    ConnectionRecord {
        id: id.to_owned(),
        user_id: ticket.user_id.clone(),
        session_id: ticket.session_id.clone(),
        connected_at: t0(),
        expires_at: t0() + Duration::hours(2),
    }
}

async fn tickets_redeem_once_and_never_after_expiry(store: Arc<impl Store>) {
    let live = ticket(&"a".repeat(64), t0() + Duration::seconds(300));
    assert_eq!(WsTickets::create(&*store, &live, &quota("q", 20)).await.unwrap(), Admission::Admitted);
    assert_eq!(store.peek(&live.id, t0()).await.unwrap(), Some(live.clone()));
    assert_eq!(store.peek(&live.id, t0()).await.unwrap(), Some(live.clone()), "looking spends nothing");
    let first = connection_for("C1", &live);
    assert_eq!(store.open(&first, &with_ticket(&live.id), t0()).await.unwrap(), Opened::Stored);
    assert_eq!(store.peek(&live.id, t0()).await.unwrap(), None, "spent with the connection");
    assert_eq!(
        store.open(&connection_for("C2", &live), &with_ticket(&live.id), t0()).await.unwrap(),
        Opened::TicketRefused,
        "single use"
    );
    let user = &live.user_id;
    assert_eq!(
        Connections::for_user(&*store, user, t0()).await.unwrap(),
        vec![first],
        "only the first stored"
    );

    let expiring = ticket(&"b".repeat(64), t0() + Duration::seconds(300));
    WsTickets::create(&*store, &expiring, &quota("q", 20)).await.unwrap();
    let at_expiry = t0() + Duration::seconds(300);
    assert_eq!(store.peek(&expiring.id, at_expiry).await.unwrap(), None, "expired, though still stored");
    let late = connection_for("C3", &expiring);
    assert_eq!(
        store.open(&late, &with_ticket(&expiring.id), at_expiry).await.unwrap(),
        Opened::TicketRefused
    );
    assert_eq!(store.peek(&"c".repeat(64), t0()).await.unwrap(), None, "unknown");
    assert_eq!(store.open(&late, &with_ticket(&"c".repeat(64)), t0()).await.unwrap(), Opened::TicketRefused);
    assert_eq!(
        Connections::for_user(&*store, user, t0()).await.unwrap().len(),
        1,
        "no refused connection stored"
    );
}

async fn ticket_quota_admits_the_limit_and_stores_nothing_beyond(store: Arc<impl Store>) {
    for i in 0..3 {
        let t = ticket(&format!("{i:064}"), t0() + Duration::seconds(300));
        assert_eq!(
            WsTickets::create(&*store, &t, &quota("user-window", 3)).await.unwrap(),
            Admission::Admitted
        );
    }
    let over = ticket(&"f".repeat(64), t0() + Duration::seconds(300));
    assert_eq!(
        WsTickets::create(&*store, &over, &quota("user-window", 3)).await.unwrap(),
        Admission::OverQuota
    );
    assert_eq!(store.peek(&over.id, t0()).await.unwrap(), None, "a refused ticket is not stored");
    let next_window = ticket(&"e".repeat(64), t0() + Duration::seconds(300));
    assert_eq!(
        WsTickets::create(&*store, &next_window, &quota("user-next-window", 3)).await.unwrap(),
        Admission::Admitted
    );
}

async fn concurrent_redemptions_of_one_ticket_admit_one(store: Arc<impl Store>) {
    let t = ticket(&"d".repeat(64), t0() + Duration::seconds(300));
    WsTickets::create(&*store, &t, &quota("q", 20)).await.unwrap();
    let attempts = (0..50).map(|i| {
        let (store, t) = (Arc::clone(&store), t.clone());
        tokio::spawn(async move {
            store.open(&connection_for(&format!("C{i}"), &t), &with_ticket(&t.id), t0()).await.unwrap()
        })
    });
    let winners = futures::future::join_all(attempts)
        .await
        .into_iter()
        .filter(|r| matches!(r, Ok(Opened::Stored)))
        .count();
    assert_eq!(winners, 1);
    assert_eq!(
        Connections::for_user(&*store, &t.user_id, t0()).await.unwrap().len(),
        1,
        "one connection stored"
    );
}

async fn connections_are_found_by_user_and_session(store: Arc<impl Store>) {
    let conn = |id: &str, user: &str, session: &str, expires_at| ConnectionRecord {
        id: id.to_owned(),
        user_id: UserId::from_trusted(user),
        session_id: SessionId::from_trusted(session),
        connected_at: t0(),
        expires_at,
    };
    let later = t0() + Duration::hours(2);
    let a = conn("A1bc+/=", "u1", "s1", later);
    let b = conn("B2", "u1", "s2", later);
    let c = conn("C3", "u2", "s3", later);
    let stale = conn("D4", "u1", "s1", t0());
    for k in [&a, &b, &c, &stale] {
        assert_eq!(store.open(k, &capped(100), t0()).await.unwrap(), Opened::Stored);
    }
    assert_eq!(
        Connections::for_user(&*store, &UserId::from_trusted("u1"), t0()).await.unwrap(),
        vec![a.clone(), b.clone()]
    );
    assert_eq!(store.for_session(&SessionId::from_trusted("s1"), t0()).await.unwrap(), vec![a.clone()]);
    Connections::delete(&*store, &a.id).await.unwrap();
    Connections::delete(&*store, &a.id).await.unwrap();
    assert_eq!(Connections::for_user(&*store, &UserId::from_trusted("u1"), t0()).await.unwrap(), vec![b]);
    assert!(store.for_session(&SessionId::from_trusted("s1"), t0()).await.unwrap().is_empty());
}

async fn a_users_live_connections_are_capped(store: Arc<impl Store>) {
    let conn = |id: &str, user: &str, expires_at| ConnectionRecord {
        id: id.to_owned(),
        user_id: UserId::from_trusted(user),
        session_id: SessionId::from_trusted("s1"),
        connected_at: t0(),
        expires_at,
    };
    let later = t0() + Duration::hours(2);
    // One connection that has expired (its $disconnect never came) holds no place.
    assert_eq!(
        store.open(&conn("old", "u1", t0() + Duration::seconds(1)), &capped(3), t0()).await.unwrap(),
        Opened::Stored
    );
    let now = t0() + Duration::seconds(1);
    for id in ["a", "b", "c"] {
        assert_eq!(
            store.open(&conn(id, "u1", later), &capped(3), now).await.unwrap(),
            Opened::Stored,
            "{id}"
        );
    }
    assert_eq!(
        store.open(&conn("d", "u1", later), &capped(3), now).await.unwrap(),
        Opened::TooManyConnections
    );
    assert_eq!(
        store.open(&conn("e", "u2", later), &capped(3), now).await.unwrap(),
        Opened::Stored,
        "per user"
    );
    let live = |store: Arc<_>| async move {
        let ids: Vec<String> = Connections::for_user(&*store, &UserId::from_trusted("u1"), now)
            .await
            .unwrap()
            .into_iter()
            .map(|c: ConnectionRecord| c.id)
            .collect();
        ids
    };
    assert_eq!(live(store.clone()).await, vec!["a", "b", "c"], "nothing refused was stored");
    // The same connection stored again holds its one place.
    assert_eq!(store.open(&conn("c", "u1", later), &capped(3), now).await.unwrap(), Opened::Stored);
    // A closed connection frees its place.
    Connections::delete(&*store, "b").await.unwrap();
    assert_eq!(store.open(&conn("d", "u1", later), &capped(3), now).await.unwrap(), Opened::Stored);

    // A refused ticketed connect leaves the ticket unspent.
    let t = TicketRecord {
        id: "9".repeat(64),
        user_id: UserId::from_trusted("u1"),
        session_id: SessionId::from_trusted("s1"),
        expires_at: later,
    };
    WsTickets::create(&*store, &t, &quota("q-cap", 20)).await.unwrap();
    let gate = ConnectGate { max_per_user: 3, ..with_ticket(&t.id) };
    assert_eq!(store.open(&conn("f", "u1", later), &gate, now).await.unwrap(), Opened::TooManyConnections);
    assert!(store.peek(&t.id, now).await.unwrap().is_some(), "the ticket stays usable");

    // A bearer connect counts against the minting quota, in the same write.
    let bearer =
        |limit| ConnectGate { ticket: None, quota: Some(quota("q-bearer", limit)), max_per_user: 10 };
    assert_eq!(store.open(&conn("g", "u3", later), &bearer(1), now).await.unwrap(), Opened::Stored);
    assert_eq!(store.open(&conn("h", "u3", later), &bearer(1), now).await.unwrap(), Opened::OverQuota);
    assert_eq!(Connections::for_user(&*store, &UserId::from_trusted("u3"), now).await.unwrap().len(), 1);
}

async fn concurrent_connects_never_exceed_the_cap(store: Arc<impl Store>) {
    let attempts = (0..20).map(|i| {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            let c = ConnectionRecord {
                id: format!("K{i:02}"),
                user_id: UserId::from_trusted("u1"),
                session_id: SessionId::from_trusted("s1"),
                connected_at: t0(),
                expires_at: t0() + Duration::hours(2),
            };
            store.open(&c, &capped(5), t0()).await.unwrap()
        })
    });
    let stored = futures::future::join_all(attempts)
        .await
        .into_iter()
        .filter(|r| matches!(r, Ok(Opened::Stored)))
        .count();
    assert_eq!(stored, 5);
    assert_eq!(Connections::for_user(&*store, &UserId::from_trusted("u1"), t0()).await.unwrap().len(), 5);
}

async fn sessions_snapshots_are_marked_verified(store: Arc<impl Store>) {
    let ada = user("ada@example.com");
    let first = create(&*store, &ada).await.unwrap();
    let (_, second) = SessionPolicy::default().start(ada.profile.clone(), t0(), None);
    SessionStore::create(&*store, &second).await.unwrap();
    let (_, other) = SessionPolicy::default().start(user("grace@example.com").profile, t0(), None);
    SessionStore::create(&*store, &other).await.unwrap();
    store.mark_email_verified(&ada.profile.id, t0()).await.unwrap();
    for id in [&first, &second.id] {
        assert!(SessionStore::get(&*store, id, t0()).await.unwrap().unwrap().user.email_verified);
    }
    assert!(!SessionStore::get(&*store, &other.id, t0()).await.unwrap().unwrap().user.email_verified);
}

fn conversation(id: &str, user: &str, updated: i64, count: u32) -> ConversationRecord {
    ConversationRecord {
        id: id.to_owned(),
        user_id: UserId::from_trusted(user),
        title: format!("Title of {id}"),
        created_at: t0(),
        updated_at: t0() + Duration::seconds(updated),
        message_count: count,
        open_ticket: None,
    }
}

fn message(seq: u32) -> MessageRecord {
    MessageRecord {
        id: format!("msg_{seq}"),
        seq,
        role: match seq {
            3 => Role::Agent,
            _ if seq.is_multiple_of(2) => Role::Assistant,
            _ => Role::User,
        },
        // An agent's message carries their name.
        author: (seq == 3).then(|| "Grace Hopper ✓".to_owned()),
        content: format!("message {seq} ✓ with \"quotes\""),
        sources: if seq.is_multiple_of(2) {
            vec![Source { id: "a".into(), title: "A".into() }]
        } else {
            Vec::new()
        },
        suggest_escalation: seq == 4,
        created_at: t0() + Duration::seconds(seq.into()),
    }
}

async fn messages_append_in_order_and_page(store: Arc<impl Store>) {
    let first = conversation("conv_a", "u1", 0, 2);
    store.append(&first, &[message(1), message(2)], 0).await.unwrap();
    assert_eq!(Conversations::get(&*store, "conv_a").await.unwrap(), Some(first.clone()));
    assert!(matches!(store.append(&first, &[message(1), message(2)], 0).await, Err(StoreError::Conflict)));

    let second = conversation("conv_a", "u1", 10, 4);
    store.append(&second, &[message(3), message(4)], 2).await.unwrap();
    let stale = conversation("conv_a", "u1", 20, 6);
    assert!(
        matches!(store.append(&stale, &[message(5), message(6)], 2).await, Err(StoreError::Conflict)),
        "a writer that read an old count loses"
    );
    assert_eq!(Conversations::get(&*store, "conv_a").await.unwrap(), Some(second));
    let page = store.messages("conv_a", 0, 3).await.unwrap();
    assert_eq!(page, vec![message(1), message(2), message(3)]);
    assert_eq!(store.messages("conv_a", 3, 3).await.unwrap(), vec![message(4)], "nothing of the lost write");
    assert!(store.messages("conv_a", 4, 3).await.unwrap().is_empty());
    assert!(store.messages("conv_missing", 0, 3).await.unwrap().is_empty());
    assert_eq!(Conversations::get(&*store, "conv_missing").await.unwrap(), None);
}

async fn conversations_list_newest_first_per_user(store: Arc<impl Store>) {
    for (id, user, updated) in
        [("c1", "u1", 10), ("c2", "u1", 30), ("c3", "u1", 20), ("c4", "u2", 40), ("c5", "u1", 30)]
    {
        store.append(&conversation(id, user, updated, 2), &[message(1), message(2)], 0).await.unwrap();
    }
    let user = UserId::from_trusted("u1");
    let ids = |list: Vec<ConversationRecord>| list.into_iter().map(|c| c.id).collect::<Vec<_>>();
    assert_eq!(ids(Conversations::list(&*store, &user, None, 10).await.unwrap()), ["c5", "c2", "c3", "c1"]);
    let first = Conversations::list(&*store, &user, None, 2).await.unwrap();
    assert_eq!(ids(first.clone()), ["c5", "c2"]);
    let last = first.last().unwrap();
    let rest =
        Conversations::list(&*store, &user, Some(Cursor::new(last.updated_at, &last.id)), 10).await.unwrap();
    assert_eq!(ids(rest), ["c3", "c1"]);
    assert!(
        Conversations::list(&*store, &UserId::from_trusted("nobody"), None, 10).await.unwrap().is_empty()
    );
}

async fn a_conversation_of(store: &impl Store, id: &str, user: &str) {
    store.append(&conversation(id, user, 0, 2), &[message(1), message(2)], 0).await.unwrap();
}

fn new_ticket(id: &str, conversation: &str, user: &str, counter: u64, key: Option<&str>) -> NewTicket {
    let day = t0().date_naive();
    let mail = |recipient: Recipient, to: &str| MailRecord {
        ticket_id: id.to_owned(),
        mail_id: recipient.as_str().to_owned(),
        recipient,
        to: to.to_owned(),
        raw: format!("Subject: {id} to {to}\r\n\r\nbody \u{2713}").into_bytes(),
        status: MailStatus::Queued,
        attempts: 0,
        last_error: None,
        next_attempt_at: t0(),
        sent_message_id: None,
    };
    NewTicket {
        ticket: SupportTicket {
            id: id.to_owned(),
            number: format!("AB-{}-{:04}", day.format("%Y%m%d"), counter + 1),
            user_id: UserId::from_trusted(user),
            user_email: format!("{user}@example.com"),
            conversation_id: conversation.to_owned(),
            subject: "Subject".into(),
            description: "Description".into(),
            priority: Priority::High,
            status: shared::domain::TicketStatus::Open,
            created_at: t0(),
            updated_at: t0(),
            resolved_at: None,
            rating: None,
            revision: 0,
            transcript: vec![TranscriptLine {
                role: "user".into(),
                content: "help".into(),
                created_at: "2026-01-09T12:00:00Z".into(),
                sources: Vec::new(),
            }],
            mail_support: MailStatus::Queued,
            mail_user: MailStatus::Queued,
            message_id_support: None,
            message_id_user: None,
        },
        mails: vec![
            mail(Recipient::Support, "help@example.com"),
            mail(Recipient::User, &format!("{user}@example.com")),
        ],
        day,
        counter_expected: counter,
        idempotency: key.map(|k| IdempotencyKey {
            user_id: UserId::from_trusted(user),
            key: k.to_owned(),
            expires_at: t0() + Duration::hours(24),
        }),
    }
}

async fn tickets_are_written_whole_or_not_at_all(store: Arc<impl Store>) {
    a_conversation_of(&*store, "conv_1", "u1").await;
    a_conversation_of(&*store, "conv_2", "u1").await;
    a_conversation_of(&*store, "conv_3", "u2").await;
    let day = t0().date_naive();
    assert_eq!(store.counter(day).await.unwrap(), 0);
    let first = new_ticket("tkt_1", "conv_1", "u1", 0, Some("key-1"));
    assert_eq!(SupportTickets::create(&*store, &first).await.unwrap(), Ok(()));
    assert_eq!(SupportTickets::get(&*store, "tkt_1").await.unwrap(), Some(first.ticket.clone()));
    assert_eq!(store.counter(day).await.unwrap(), 1);
    assert_eq!(
        Conversations::get(&*store, "conv_1").await.unwrap().unwrap().open_ticket.as_deref(),
        Some("tkt_1")
    );
    assert_eq!(store.mail("tkt_1", "support").await.unwrap(), Some(first.mails[0].clone()));
    assert_eq!(
        store.by_key(&UserId::from_trusted("u1"), "key-1", t0()).await.unwrap().as_deref(),
        Some("tkt_1")
    );
    assert_eq!(
        store.by_key(&UserId::from_trusted("u2"), "key-1", t0()).await.unwrap(),
        None,
        "keys are per user"
    );
    assert_eq!(
        store.by_key(&UserId::from_trusted("u1"), "key-1", t0() + Duration::hours(24)).await.unwrap(),
        None
    );

    // Each conflict leaves everything as it was: no ticket, no mail, no number used.
    let stale_counter = new_ticket("tkt_2", "conv_2", "u1", 0, None);
    assert_eq!(SupportTickets::create(&*store, &stale_counter).await.unwrap(), Err(CreateConflict::Counter));
    let same_conversation = new_ticket("tkt_3", "conv_1", "u1", 1, None);
    assert_eq!(
        SupportTickets::create(&*store, &same_conversation).await.unwrap(),
        Err(CreateConflict::ConversationHasTicket)
    );
    let same_key = new_ticket("tkt_4", "conv_2", "u1", 1, Some("key-1"));
    assert_eq!(SupportTickets::create(&*store, &same_key).await.unwrap(), Err(CreateConflict::KeySeen));
    let foreign_conversation = new_ticket("tkt_5", "conv_3", "u1", 1, None);
    assert_eq!(
        SupportTickets::create(&*store, &foreign_conversation).await.unwrap(),
        Err(CreateConflict::ConversationHasTicket)
    );
    for id in ["tkt_2", "tkt_3", "tkt_4", "tkt_5"] {
        assert_eq!(SupportTickets::get(&*store, id).await.unwrap(), None, "{id}");
        assert_eq!(store.mail(id, "user").await.unwrap(), None, "{id}");
    }
    assert_eq!(store.counter(day).await.unwrap(), 1);
    assert_eq!(Conversations::get(&*store, "conv_2").await.unwrap().unwrap().open_ticket, None);

    let second = new_ticket("tkt_6", "conv_2", "u1", 1, Some("key-2"));
    assert_eq!(SupportTickets::create(&*store, &second).await.unwrap(), Ok(()));
    assert_eq!(store.counter(day).await.unwrap(), 2);
    let ids = |list: Vec<SupportTicket>| list.into_iter().map(|t| t.id).collect::<Vec<_>>();
    let user = UserId::from_trusted("u1");
    let mut newest_first = vec!["tkt_6", "tkt_1"];
    newest_first.sort_by(|a, b| b.cmp(a));
    assert_eq!(
        ids(SupportTickets::list(&*store, &user, None, 10).await.unwrap()),
        newest_first,
        "same second: by id, descending"
    );
    let page = SupportTickets::list(&*store, &user, None, 1).await.unwrap();
    let rest = SupportTickets::list(&*store, &user, Some(Cursor::new(page[0].created_at, &page[0].id)), 10)
        .await
        .unwrap();
    assert_eq!(ids(rest), newest_first[1..]);
    assert!(SupportTickets::list(&*store, &UserId::from_trusted("u2"), None, 10).await.unwrap().is_empty());
}

async fn mails_move_through_queued_to_sent_or_failed(store: Arc<impl Store>) {
    a_conversation_of(&*store, "conv_m", "um").await;
    let new = new_ticket("tkt_m", "conv_m", "um", 0, None);
    SupportTickets::create(&*store, &new).await.unwrap().unwrap();
    let due = store.due_mails(t0(), 10).await.unwrap();
    assert_eq!(due.len(), 2);
    assert!(
        store.due_mails(t0() - Duration::seconds(1), 10).await.unwrap().is_empty(),
        "not due before its time"
    );

    // One worker claims a mail; a second one with the same view loses.
    let later = t0() + Duration::minutes(5);
    assert!(store.claim_mail(&due[0], later).await.unwrap());
    assert!(!store.claim_mail(&due[0], later).await.unwrap());
    assert_eq!(store.due_mails(t0(), 10).await.unwrap().len(), 1, "a claimed mail is not due");

    let ses_id = "<0100019a-abc-000000@email.amazonses.com>".to_owned();
    let sent = MailRecord {
        status: MailStatus::Sent,
        attempts: 1,
        next_attempt_at: later,
        sent_message_id: Some(ses_id.clone()),
        ..due[0].clone()
    };
    store.update_mail(&sent).await.unwrap();
    let failing = MailRecord {
        status: MailStatus::Queued,
        attempts: 1,
        last_error: Some("SES said no".into()),
        next_attempt_at: t0() + Duration::minutes(1),
        ..due[1].clone()
    };
    store.update_mail(&failing).await.unwrap();
    assert!(store.due_mails(t0(), 10).await.unwrap().is_empty());
    assert_eq!(store.due_mails(t0() + Duration::minutes(1), 10).await.unwrap(), vec![failing.clone()]);
    let gave_up = MailRecord { status: MailStatus::Failed, attempts: 5, ..failing.clone() };
    store.update_mail(&gave_up).await.unwrap();
    assert!(
        store.due_mails(t0() + Duration::hours(1), 10).await.unwrap().is_empty(),
        "failed mails are not retried"
    );
    let ticket = SupportTickets::get(&*store, "tkt_m").await.unwrap().unwrap();
    let by_recipient =
        |r: Recipient| if r == Recipient::Support { ticket.mail_support } else { ticket.mail_user };
    assert_eq!(by_recipient(sent.recipient), MailStatus::Sent, "the ticket carries each mail's status");
    assert_eq!(by_recipient(gave_up.recipient), MailStatus::Failed);
    // And the id SES sent it with, which later mails to that recipient thread under.
    let sent_ids = |r: Recipient| {
        if r == Recipient::Support {
            ticket.message_id_support.clone()
        } else {
            ticket.message_id_user.clone()
        }
    };
    assert_eq!(sent_ids(sent.recipient), Some(ses_id), "the ticket keeps the sent mail's id");
    assert_eq!(sent_ids(gave_up.recipient), None, "an unsent mail has none");
    assert_eq!(store.mail("tkt_m", &sent.mail_id).await.unwrap(), Some(sent));
    assert_eq!(store.mail("tkt_m", &gave_up.mail_id).await.unwrap(), Some(gave_up));
}

async fn concurrent_tickets_get_distinct_numbers(store: Arc<impl Store>) {
    for i in 0..20 {
        a_conversation_of(&*store, &format!("conv_c{i}"), &format!("uc{i}")).await;
    }
    let day = t0().date_naive();
    let attempts = (0..20).map(|i| {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            loop {
                let counter = store.counter(day).await.unwrap();
                let new =
                    new_ticket(&format!("tkt_c{i}"), &format!("conv_c{i}"), &format!("uc{i}"), counter, None);
                match SupportTickets::create(&*store, &new).await.unwrap() {
                    Ok(()) => return new.ticket.number,
                    Err(CreateConflict::Counter) => continue,
                    Err(other) => panic!("{other:?}"),
                }
            }
        })
    });
    let mut numbers: Vec<String> =
        futures::future::join_all(attempts).await.into_iter().map(Result::unwrap).collect();
    numbers.sort();
    numbers.dedup();
    assert_eq!(numbers.len(), 20, "{numbers:?}");
    assert_eq!(store.counter(day).await.unwrap(), 20);
}

async fn events_are_numbered_per_user_and_replayed_in_order(store: Arc<impl Store>) {
    let (ada, bob) = (UserId::generate(), UserId::generate());
    assert_eq!(store.last_seq(&ada).await.unwrap(), 0);
    let keep = t0() + Duration::hours(24);
    for n in 1..=5u64 {
        assert_eq!(EventLog::record(&*store, &ada, &format!(r#"{{"n":{n}}}"#), keep).await.unwrap(), n);
    }
    assert_eq!(EventLog::record(&*store, &bob, r#"{"n":1}"#, keep).await.unwrap(), 1, "numbers are per user");
    assert_eq!(store.last_seq(&ada).await.unwrap(), 5);
    let seqs = |events: Vec<shared::domain::LoggedEvent>| events.iter().map(|e| e.seq).collect::<Vec<_>>();
    assert_eq!(seqs(store.after(&ada, 0, 100, t0()).await.unwrap()), [1, 2, 3, 4, 5]);
    assert_eq!(seqs(store.after(&ada, 2, 2, t0()).await.unwrap()), [3, 4]);
    assert_eq!(seqs(store.after(&ada, 5, 10, t0()).await.unwrap()), Vec::<u64>::new());
    let third = store.after(&ada, 2, 1, t0()).await.unwrap().remove(0);
    assert_eq!((third.payload.as_str(), third.user_id.clone()), (r#"{"n":3}"#, ada.clone()));
    assert_eq!(store.after(&ada, 0, 10, keep).await.unwrap(), vec![], "expired events are not replayed");

    // Numbers keep growing after every event has expired; deletion forgets them and the count.
    assert_eq!(EventLog::record(&*store, &ada, "{}", keep + Duration::hours(24)).await.unwrap(), 6);
    assert_eq!(seqs(store.after(&ada, 0, 10, keep).await.unwrap()), [6]);
    EventLog::delete_for_user(&*store, &ada).await.unwrap();
    assert_eq!(store.after(&ada, 0, 10, t0()).await.unwrap(), vec![]);
    assert_eq!(store.last_seq(&ada).await.unwrap(), 0);
    assert_eq!(seqs(store.after(&bob, 0, 10, t0()).await.unwrap()), [1], "another user's events stay");
}

async fn concurrent_events_get_distinct_numbers(store: Arc<impl Store>) {
    let user = UserId::generate();
    let keep = t0() + Duration::hours(24);
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let (store, user) = (store.clone(), user.clone());
            tokio::spawn(async move { EventLog::record(&*store, &user, "{}", keep).await.unwrap() })
        })
        .collect();
    let mut numbers = Vec::new();
    for task in tasks {
        numbers.push(task.await.unwrap());
    }
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=10).collect::<Vec<u64>>());
}

async fn ticket_changes_are_conditional_and_whole(store: Arc<impl Store>) {
    use shared::domain::{Append, Rating, Score, TicketChange, TicketStatus, TicketUpdate};
    a_conversation_of(&*store, "conv_l", "u1").await;
    let new = new_ticket("tkt_l", "conv_l", "u1", 0, None);
    SupportTickets::create(&*store, &new).await.unwrap().unwrap();
    let opened = SupportTickets::get(&*store, "tkt_l").await.unwrap().unwrap();
    assert_eq!((opened.status, opened.revision, opened.updated_at), (TicketStatus::Open, 0, t0()));

    // The user writes: the message, the ticket's move and a queued mail, together.
    let at = t0() + Duration::minutes(5);
    let waiting = opened.apply(&TicketChange::UserWrote, at).unwrap().unwrap();
    let mail = MailRecord { mail_id: "message-1-support".into(), ..new.mails[0].clone() };
    let mut reply = message(3);
    (reply.role, reply.author) = (Role::User, None);
    let append = Append {
        conversation: ConversationRecord {
            open_ticket: Some("tkt_l".into()),
            ..conversation("conv_l", "u1", 300, 3)
        },
        messages: vec![reply.clone()],
        expected_count: 2,
    };
    let update =
        TicketUpdate { ticket: waiting.clone(), mails: vec![mail.clone()], append: Some(append.clone()) };
    store.update(&update).await.unwrap();
    assert_eq!(SupportTickets::get(&*store, "tkt_l").await.unwrap(), Some(waiting.clone()));
    assert_eq!(store.mail("tkt_l", "message-1-support").await.unwrap(), Some(mail.clone()));
    assert_eq!(store.mail("tkt_l", "support").await.unwrap(), Some(new.mails[0].clone()), "the first stays");
    assert_eq!(store.messages("conv_l", 0, 10).await.unwrap().last(), Some(&reply));
    let due: Vec<String> = store.due_mails(at, 10).await.unwrap().into_iter().map(|m| m.mail_id).collect();
    assert!(due.contains(&"message-1-support".to_owned()), "{due:?}");

    // A stale revision or a stale message count writes nothing at all.
    let stale = TicketUpdate {
        ticket: waiting.clone(),
        mails: vec![MailRecord { mail_id: "x".into(), ..mail.clone() }],
        append: None,
    };
    assert!(matches!(store.update(&stale).await, Err(StoreError::Conflict)));
    let mut next = waiting.apply(&TicketChange::AgentWrote, at).unwrap().unwrap();
    let stale_count = TicketUpdate { ticket: next.clone(), mails: Vec::new(), append: Some(append) };
    assert!(matches!(store.update(&stale_count).await, Err(StoreError::Conflict)));
    assert_eq!(SupportTickets::get(&*store, "tkt_l").await.unwrap(), Some(waiting.clone()));
    assert_eq!(store.mail("tkt_l", "x").await.unwrap(), None);

    // Resolved tickets come due for closing when their window ends; a closed one frees its
    // conversation and keeps its rating.
    next = waiting.apply(&TicketChange::Resolve, at).unwrap().unwrap();
    store.update(&TicketUpdate { ticket: next.clone(), mails: Vec::new(), append: None }).await.unwrap();
    assert_eq!(store.resolved_before(at - Duration::seconds(1), 10).await.unwrap(), vec![]);
    assert_eq!(store.resolved_before(at, 10).await.unwrap(), vec![next.clone()]);
    let rating =
        Rating { score: Score::Bad, comment: "slow ✓".into(), rated_at: "2026-01-09T13:00:00Z".into() };
    let rated = next.apply(&TicketChange::Rate(rating), at).unwrap().unwrap();
    store.update(&TicketUpdate { ticket: rated.clone(), mails: Vec::new(), append: None }).await.unwrap();
    let closed = rated.apply(&TicketChange::Close, at + Duration::days(8)).unwrap().unwrap();
    store.update(&TicketUpdate { ticket: closed.clone(), mails: Vec::new(), append: None }).await.unwrap();
    assert_eq!(SupportTickets::get(&*store, "tkt_l").await.unwrap(), Some(closed));
    assert_eq!(store.resolved_before(at + Duration::days(8), 10).await.unwrap(), vec![], "closed is not due");
    assert_eq!(Conversations::get(&*store, "conv_l").await.unwrap().unwrap().open_ticket, None);
}

macro_rules! contract {
    ($adapter:ident, $make:expr) => {
        contract!(@cases $adapter, $make, [
            users_round_trip_and_unique_email,
            concurrent_registrations_of_one_email_admit_one,
            sessions_expire_on_both_limits,
            sessions_are_revoked_once,
            allowances_admit_the_limit_per_window_and_restart_after,
            concurrent_acquires_admit_exactly_the_limit,
            mailed_tokens_are_one_per_purpose_and_work_once,
            concurrent_redemptions_of_one_reset_token_admit_one,
            a_users_live_connections_are_capped,
            concurrent_connects_never_exceed_the_cap,
            sessions_snapshots_are_marked_verified,
            tickets_redeem_once_and_never_after_expiry,
            ticket_quota_admits_the_limit_and_stores_nothing_beyond,
            concurrent_redemptions_of_one_ticket_admit_one,
            connections_are_found_by_user_and_session,
            messages_append_in_order_and_page,
            conversations_list_newest_first_per_user,
            tickets_are_written_whole_or_not_at_all,
            mails_move_through_queued_to_sent_or_failed,
            concurrent_tickets_get_distinct_numbers,
            a_users_sessions_are_listed_oldest_first_and_live_only,
            deleting_a_user_leaves_others_and_frees_the_email,
            a_users_conversations_are_deleted_and_tickets_detached,
            events_are_numbered_per_user_and_replayed_in_order,
            concurrent_events_get_distinct_numbers,
            ticket_changes_are_conditional_and_whole,
        ]);
    };
    (@cases $adapter:ident, $make:expr, [$($case:ident),* $(,)?]) => {
        mod $adapter {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let (store, _guard) = $make;
                    super::$case(store).await;
                }
            )*
        }
    };
}

/// A store on a fresh file, with the directory that holds it (deleted when dropped).
fn sqlite_store() -> (Arc<shared::adapters::sqlite::SqliteStore>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    (Arc::new(shared::adapters::sqlite::SqliteStore::open(&dir.path().join("app.db")).unwrap()), dir)
}

contract!(sqlite, sqlite_store());
contract!(dynamodb, (Arc::new(e2e::moto::fresh_store().await), ()));
