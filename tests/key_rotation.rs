//! A signing-key rotation as the README describes it, against Secrets Manager on moto, with no
//! deploy: login and chat read their keys from the two secrets at cold start and again once
//! `KEYS_REFRESH_SECONDS` have passed (a manual clock moves time). Old key A and new key B:
//! accepted A → accepted A and B → login signs with B (A's tokens still accepted) → accepted B
//! only (A's tokens refused, B's accepted). Tokens are the functions' own, never forged.

use std::sync::Arc;

use aws_sdk_secretsmanager::Client;
use chrono::{Duration, Utc};
use lambda_http::{Body, Request};
use serde_json::json;
use shared::Clock;
use shared::adapters::secrets::SecretsManagerKeys;
use shared::auth::{KeyRing, PublicKeys, SigningKey};
use shared::clock::ManualClock;
use shared::config::{Source, token_settings};
use shared::http::HttpFunction;
use shared::ports::Stores;
use shared::runtime::Wiring;

/// `KEYS_REFRESH_SECONDS` here: the template's default is 300; a minute keeps every token of
/// the test inside its 15 minutes, so a refusal can only come from the keys.
const REFRESH: Duration = Duration::seconds(60);

/// One secret name per test run, on moto.
struct Secrets {
    client: Client,
    public_keys: String,
    signing_key: String,
}

impl Secrets {
    async fn create(accepted: &[&SigningKey], signing: (&SigningKey, &str)) -> Self {
        let client = Client::new(&e2e::moto::sdk_config());
        let run = uuid::Uuid::new_v4().simple().to_string();
        let secrets =
            Self { client, public_keys: format!("{run}-public-keys"), signing_key: format!("{run}-signing") };
        for (name, value) in
            [(&secrets.public_keys, jwks(accepted)), (&secrets.signing_key, signing_secret(signing))]
        {
            secrets
                .client
                .create_secret()
                .name(name)
                .secret_string(value)
                .send()
                .await
                .expect("create secret");
        }
        secrets
    }

    async fn put(&self, name: &str, value: String) {
        self.client.put_secret_value().secret_id(name).secret_string(value).send().await.expect("put secret");
    }
}

fn jwks(keys: &[&SigningKey]) -> String {
    PublicKeys::new(keys.iter().map(|k| k.public_key().clone())).expect("keys").to_jwks()
}

fn signing_secret((key, pem): (&SigningKey, &str)) -> String {
    json!({ "kid": key.kid(), "pem": pem }).to_string()
}

/// A function's key ring as `runtime::lambda` builds it: read from the secrets now.
async fn ring(secrets: &Secrets, signs: bool, clock: &Arc<ManualClock>) -> Arc<KeyRing> {
    let source = SecretsManagerKeys::from_sdk(
        &e2e::moto::sdk_config(),
        &secrets.public_keys,
        signs.then_some(secrets.signing_key.as_str()),
    );
    let settings = token_settings(&|_: &str| None).expect("defaults");
    Arc::new(KeyRing::fetch(settings, Arc::new(source), REFRESH, signs, clock.clone()).await.expect("keys"))
}

fn request(method: &str, path: &str, token: Option<&str>, body: Option<serde_json::Value>) -> Request {
    let mut b = http::Request::builder().method(method).uri(path).header("content-type", "application/json");
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    b.body(body.map_or(Body::Empty, |v| Body::Text(v.to_string()))).expect("request")
}

/// The `kid` a token names.
fn kid(token: &str) -> String {
    e2e::tokens::parts(token).0["kid"].as_str().expect("kid").to_owned()
}

#[tokio::test]
async fn a_signing_key_rotates_without_a_deploy() {
    let (a, a_pem) = SigningKey::generate("key-a").unwrap();
    let (b, b_pem) = SigningKey::generate("key-b").unwrap();
    let secrets = Secrets::create(&[&a], (&a, &a_pem)).await;
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let stores = Stores::single(Arc::new(e2e::moto::fresh_store().await));
    let outbox = tempfile::tempdir().unwrap();
    let settings: Arc<dyn Source + Send + Sync> = Arc::new(e2e::world::settings("support@example.com"));
    let wiring = |keys| {
        Wiring::new(settings.clone(), stores.clone(), clock.clone())
            .with_push(e2e::no_sockets())
            .with_mail(Arc::new(shared::adapters::outbox::Outbox::new(outbox.path().to_owned())))
            .with_keys(keys)
    };
    let login = login::Login::build(&wiring(ring(&secrets, true, &clock).await)).unwrap();
    let chat = chat::Chat::build(&wiring(ring(&secrets, false, &clock).await)).unwrap();

    let credentials = json!({"email": "rotate@example.com", "password": "correct horse battery"});
    let r = login.handle(request("POST", "/api/auth/register", None, Some(credentials.clone()))).await;
    assert_eq!(r.status(), 201);
    let token_a = e2e::world::body(&r)["access_token"].as_str().unwrap().to_owned();
    assert_eq!(kid(&token_a), "key-a");
    let sign_in = || async {
        let r = login.handle(request("POST", "/api/auth/login", None, Some(credentials.clone()))).await;
        assert_eq!(r.status(), 200);
        e2e::world::body(&r)["access_token"].as_str().unwrap().to_owned()
    };
    let accepted = |token: String| {
        let chat = &chat;
        let login = &login;
        async move {
            let by_chat =
                chat.handle(request("GET", "/api/chat/conversations", Some(&token), None)).await.status();
            let by_login = login.handle(request("GET", "/api/auth/me", Some(&token), None)).await.status();
            assert_eq!(by_chat, by_login, "chat and login agree on {}", kid(&token));
            by_chat.as_u16()
        }
    };
    assert_eq!(accepted(token_a.clone()).await, 200);

    // 1. B joins the accepted keys; login still signs with A.
    secrets.put(&secrets.public_keys, jwks(&[&a, &b])).await;
    clock.advance(REFRESH + Duration::seconds(1));
    assert_eq!(kid(&sign_in().await), "key-a", "the signing key has not changed yet");

    // 2. Login switches to B. Until the refresh interval passes it keeps signing with A: the
    //    interval is the bound on how long a change takes.
    secrets.put(&secrets.signing_key, signing_secret((&b, &b_pem))).await;
    assert_eq!(kid(&sign_in().await), "key-a", "the keys in hand are used until they are stale");
    clock.advance(REFRESH + Duration::seconds(1));
    let token_b = sign_in().await;
    assert_eq!(kid(&token_b), "key-b");
    assert_eq!(accepted(token_b.clone()).await, 200, "B's tokens are accepted everywhere");
    assert_eq!(accepted(token_a.clone()).await, 200, "A's tokens still live out their 15 minutes");

    // 3. A is dropped: its tokens are refused once the functions refresh, B's are not.
    secrets.put(&secrets.public_keys, jwks(&[&b])).await;
    assert_eq!(accepted(token_a.clone()).await, 200, "not before the refresh interval");
    clock.advance(REFRESH + Duration::seconds(1));
    assert_eq!(accepted(token_a).await, 401, "A is no longer accepted");
    assert_eq!(accepted(token_b).await, 200);
    assert_eq!(kid(&sign_in().await), "key-b");
}

#[tokio::test]
async fn a_key_store_outage_keeps_the_keys_in_hand() {
    let (a, a_pem) = SigningKey::generate("key-a").unwrap();
    let secrets = Secrets::create(&[&a], (&a, &a_pem)).await;
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let keys = ring(&secrets, true, &clock).await;
    let token = keys
        .issuer()
        .await
        .unwrap()
        .issue(
            &shared::domain::UserId::from_trusted("usr_1"),
            &shared::domain::SessionId::from_trusted("0".repeat(64)),
            clock.now(),
        )
        .unwrap()
        .token;
    // The secret disappears (deleted, or the role lost access): the refresh fails, the keys stay.
    secrets
        .client
        .delete_secret()
        .secret_id(&secrets.public_keys)
        .force_delete_without_recovery(true)
        .send()
        .await
        .unwrap();
    clock.advance(REFRESH + Duration::seconds(1));
    assert!(keys.verifier().await.verify(&token, clock.now()).is_ok());
    assert_eq!(keys.accepted(), vec!["key-a".to_owned()]);
}
