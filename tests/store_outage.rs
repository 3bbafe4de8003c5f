//! A store outage is a 503 with `Retry-After`, never a 401 or 403, and never a half-written
//! account: the login function on DynamoDB tables that do not exist (moto answers
//! ResourceNotFound) and on an endpoint nobody listens on.

use std::sync::Arc;

use chrono::Utc;
use lambda_http::{Body, Request};
use login::Login;
use shared::adapters::dynamodb::DynamoStore;
use shared::auth::SigningKey;
use shared::config::{HttpConfig, LoginConfig, Tables};
use shared::domain::{SessionId, UserId};
use shared::http::HttpFunction;
use shared::ports::Stores;

fn missing_tables() -> Tables {
    Tables::with_prefix(&format!("missing{}", uuid::Uuid::new_v4().simple()))
}

/// Login's settings, with this signing key.
fn settings(pem: String) -> impl Fn(&str) -> Option<String> {
    move |var: &str| match var {
        "AUTH_SIGNING_KEY" => Some(pem.clone()),
        "AUTH_SIGNING_KEY_ID" => Some("outage".to_owned()),
        "PASSWORD_RESET_URL" => Some("https://app.example/reset-password".to_owned()),
        "EMAIL_VERIFY_URL" => Some("https://app.example/verify-email".to_owned()),
        "MAIL_FROM" => Some("support@example.com".to_owned()),
        _ => None,
    }
}

fn login_on(store: DynamoStore, pem: &str) -> Login {
    let settings = settings(pem.to_owned());
    let http = HttpConfig::from_source(&settings, true).unwrap();
    let config = LoginConfig::from_source(&settings).unwrap();
    let outbox = tempfile::tempdir().unwrap().keep();
    Login::new(
        config,
        http,
        &Stores::single(Arc::new(store)),
        e2e::no_sockets(),
        Arc::new(shared::adapters::outbox::Outbox::new(outbox)),
        Arc::new(shared::SystemClock),
    )
}

fn post(path: &str, body: &str) -> Request {
    http::Request::builder()
        .method("POST")
        .uri(path)
        .header("content-type", "application/json")
        .body(Body::Text(body.to_owned()))
        .unwrap()
}

async fn assert_unavailable(login: &Login, req: Request) {
    let response = login.handle(req).await;
    assert_eq!(response.status(), 503);
    assert!(response.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
    let Body::Text(body) = response.body() else { panic!("problem body") };
    assert!(body.contains("\"code\":\"unavailable\""), "{body}");
}

async fn outage_cases(store: DynamoStore) {
    let (_, pem) = SigningKey::generate("outage").unwrap();
    // A token the function itself would have issued: verification passes, the session lookup fails.
    let issuer = HttpConfig::from_source(&settings(pem.clone()), true).unwrap().keys.issuer().await.unwrap();
    let token = issuer
        .issue(&UserId::from_trusted("usr_1"), &SessionId::from_trusted("0".repeat(64)), Utc::now())
        .unwrap();
    let login = login_on(store, &pem);
    let credentials = r#"{"email":"outage@example.com","password":"correct horse battery"}"#;
    assert_unavailable(&login, post("/api/auth/register", credentials)).await;
    assert_unavailable(&login, post("/api/auth/login", credentials)).await;
    let me = http::Request::builder()
        .uri("/api/auth/me")
        .header("authorization", format!("Bearer {}", token.token))
        .body(Body::Empty)
        .unwrap();
    assert_unavailable(&login, me).await;
    let mut refresh = post("/api/auth/refresh", "");
    refresh.headers_mut().insert("cookie", format!("__Host-session={}", "a".repeat(43)).parse().unwrap());
    assert_unavailable(&login, refresh).await;
}

#[tokio::test]
async fn missing_tables_answer_503() {
    outage_cases(DynamoStore::new(e2e::moto::client(), missing_tables())).await;
}

#[tokio::test]
async fn unreachable_endpoint_answers_503() {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .endpoint_url("http://127.0.0.1:9")
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "test"))
        .build();
    outage_cases(DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(config), missing_tables())).await;
}

#[tokio::test]
async fn a_failed_registration_writes_no_account() {
    // The users table exists, the sessions table does not: the account and its first session
    // are one transaction, so the 503 leaves no account behind and a retry can register.
    let store = e2e::moto::fresh_store().await;
    let mut tables = missing_tables();
    tables.users = store.tables().users.clone();
    let (_, pem) = SigningKey::generate("outage").unwrap();
    let broken = login_on(DynamoStore::new(e2e::moto::client(), tables), &pem);
    let credentials = r#"{"email":"half@example.com","password":"correct horse battery"}"#;
    assert_unavailable(&broken, post("/api/auth/register", credentials)).await;
    let email = shared::domain::Email::parse("half@example.com").unwrap();
    assert_eq!(shared::ports::UserStore::find_by_email(&store, &email).await.unwrap(), None);
    let healthy = login_on(store, &pem);
    assert_eq!(healthy.handle(post("/api/auth/register", credentials)).await.status(), 201);
}
