//! One contract for every store adapter: the same cases run against SQLite (a temp file) and
//! DynamoDB (moto, fresh tables per test).

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use shared::auth::{SessionId, SessionPolicy};
use shared::domain::{DisplayName, Email, UserId, UserProfile};
use shared::ports::{
    Admission, ConnectionRecord, Connections, ConversationRecord, Conversations, MessageRecord, Quota,
    RateLimits, Role, SessionStore, Source, StoreError, TicketRecord, UserRecord, UserStore, WsTickets,
};

trait Store: UserStore + SessionStore + RateLimits + WsTickets + Connections + Conversations + 'static {}
impl<T: UserStore + SessionStore + RateLimits + WsTickets + Connections + Conversations + 'static> Store
    for T
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
        },
        password_hash:
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g".into(),
    }
}

/// Creates the account with a first session, as registration does; returns that session's id.
async fn create(store: &impl Store, u: &UserRecord) -> Result<SessionId, StoreError> {
    let (_, session) = SessionPolicy::default().start(u.profile.clone(), t0());
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
    let (_, twin_session) = SessionPolicy::default().start(twin.profile.clone(), t0());
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

    store.set_password_hash(&ada, "$argon2id$new").await.unwrap();
    assert_eq!(
        store.find_by_email(&ada.profile.email).await.unwrap().unwrap().password_hash,
        "$argon2id$new"
    );
    assert_eq!(
        UserStore::get(&*store, &ada.profile.id).await.unwrap().unwrap().password_hash,
        "$argon2id$new"
    );
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
    let (_, session) = policy.start(user("s@example.com").profile, t0());
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
    let (_, a) = SessionPolicy::default().start(user("a@example.com").profile, t0());
    let (_, b) = SessionPolicy::default().start(user("a@example.com").profile, t0());
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

async fn counters_count_within_a_window_and_restart_after(store: Arc<impl Store>) {
    let window = Duration::minutes(15);
    assert_eq!(store.current("k", t0()).await.unwrap(), None);
    for expected in 1..=3 {
        let c = store.hit("k", window, t0() + Duration::seconds(expected.into())).await.unwrap();
        assert_eq!(c.count, expected);
        assert_eq!(c.expires_at, t0() + Duration::seconds(1) + window, "the window starts at the first hit");
    }
    assert_eq!(store.current("k", t0()).await.unwrap().unwrap().count, 3);
    let end = t0() + Duration::seconds(1) + window;
    assert_eq!(store.current("k", end).await.unwrap(), None, "ended windows read as absent");
    let restarted = store.hit("k", window, end).await.unwrap();
    assert_eq!(restarted.count, 1);
    assert_eq!(restarted.expires_at, end + window);
    assert_eq!(store.current("other", end).await.unwrap(), None);
    store.clear("k").await.unwrap();
    assert_eq!(store.current("k", end).await.unwrap(), None);
    store.clear("never-set").await.unwrap();
}

async fn concurrent_hits_are_all_counted(store: Arc<impl Store>) {
    let hits = (0..20).map(|_| {
        let store = Arc::clone(&store);
        tokio::spawn(async move { store.hit("busy", Duration::minutes(1), t0()).await.unwrap().count })
    });
    let mut counts: Vec<u32> =
        futures::future::join_all(hits).await.into_iter().map(Result::unwrap).collect();
    counts.sort_unstable();
    assert_eq!(counts, (1..=20).collect::<Vec<_>>(), "every hit saw a distinct count");
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

async fn tickets_redeem_once_and_never_after_expiry(store: Arc<impl Store>) {
    let live = ticket(&"a".repeat(64), t0() + Duration::seconds(300));
    assert_eq!(WsTickets::create(&*store, &live, &quota("q", 20)).await.unwrap(), Admission::Admitted);
    assert_eq!(store.redeem(&live.id, t0()).await.unwrap(), Some(live.clone()));
    assert_eq!(store.redeem(&live.id, t0()).await.unwrap(), None, "single use");

    let expiring = ticket(&"b".repeat(64), t0() + Duration::seconds(300));
    WsTickets::create(&*store, &expiring, &quota("q", 20)).await.unwrap();
    let at_expiry = t0() + Duration::seconds(300);
    assert_eq!(store.redeem(&expiring.id, at_expiry).await.unwrap(), None, "expired, though still stored");
    assert_eq!(store.redeem(&"c".repeat(64), t0()).await.unwrap(), None, "unknown");
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
    assert_eq!(store.redeem(&over.id, t0()).await.unwrap(), None, "a refused ticket is not stored");
    let next_window = ticket(&"e".repeat(64), t0() + Duration::seconds(300));
    assert_eq!(
        WsTickets::create(&*store, &next_window, &quota("user-next-window", 3)).await.unwrap(),
        Admission::Admitted
    );
}

async fn concurrent_redemptions_of_one_ticket_admit_one(store: Arc<impl Store>) {
    let t = ticket(&"d".repeat(64), t0() + Duration::seconds(300));
    WsTickets::create(&*store, &t, &quota("q", 20)).await.unwrap();
    let attempts = (0..50).map(|_| {
        let (store, id) = (Arc::clone(&store), t.id.clone());
        tokio::spawn(async move { store.redeem(&id, t0()).await.unwrap() })
    });
    let winners =
        futures::future::join_all(attempts).await.into_iter().filter(|r| matches!(r, Ok(Some(_)))).count();
    assert_eq!(winners, 1);
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
        store.put(k).await.unwrap();
    }
    assert_eq!(store.for_user(&UserId::from_trusted("u1"), t0()).await.unwrap(), vec![a.clone(), b.clone()]);
    assert_eq!(store.for_session(&SessionId::from_trusted("s1"), t0()).await.unwrap(), vec![a.clone()]);
    Connections::delete(&*store, &a.id).await.unwrap();
    Connections::delete(&*store, &a.id).await.unwrap();
    assert_eq!(store.for_user(&UserId::from_trusted("u1"), t0()).await.unwrap(), vec![b]);
    assert!(store.for_session(&SessionId::from_trusted("s1"), t0()).await.unwrap().is_empty());
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
        role: if seq.is_multiple_of(2) { Role::Assistant } else { Role::User },
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
    assert_eq!(ids(store.list(&user, None, 10).await.unwrap()), ["c5", "c2", "c3", "c1"]);
    let first = store.list(&user, None, 2).await.unwrap();
    assert_eq!(ids(first.clone()), ["c5", "c2"]);
    let last = first.last().unwrap();
    let rest = store.list(&user, Some((last.updated_at, last.id.clone())), 10).await.unwrap();
    assert_eq!(ids(rest), ["c3", "c1"]);
    assert!(store.list(&UserId::from_trusted("nobody"), None, 10).await.unwrap().is_empty());
}

macro_rules! contract {
    ($adapter:ident, $make:expr) => {
        contract!(@cases $adapter, $make, [
            users_round_trip_and_unique_email,
            concurrent_registrations_of_one_email_admit_one,
            sessions_expire_on_both_limits,
            sessions_are_revoked_once,
            counters_count_within_a_window_and_restart_after,
            concurrent_hits_are_all_counted,
            tickets_redeem_once_and_never_after_expiry,
            ticket_quota_admits_the_limit_and_stores_nothing_beyond,
            concurrent_redemptions_of_one_ticket_admit_one,
            connections_are_found_by_user_and_session,
            messages_append_in_order_and_page,
            conversations_list_newest_first_per_user,
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
