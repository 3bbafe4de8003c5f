//! Every sample event in `events/` runs through its function's handler, via the same
//! `lambda_http` adapter Lambda uses, with the exact status and key fields asserted.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use local_gateway::apigw;
use login::Login;
use serde_json::Value;
use shared::adapters::sqlite::SqliteStore;
use shared::auth::SigningKey;
use shared::config::{HttpConfig, LoginConfig};
use shared::ports::Stores;

/// What one event must produce.
struct Expect {
    file: &'static str,
    status: u64,
    code: Option<&'static str>,
}

const fn ok(file: &'static str, status: u64) -> Expect {
    Expect { file, status, code: None }
}

const fn fails(file: &'static str, status: u64, code: &'static str) -> Expect {
    Expect { file, status, code: Some(code) }
}

/// In order: later events use the credentials earlier ones produced.
const LOGIN: &[Expect] = &[
    ok("register.json", 201),
    fails("register-duplicate-email.json", 409, "email_taken"),
    fails("register-invalid-fields.json", 400, "validation_failed"),
    fails("register-wrong-types.json", 400, "validation_failed"),
    fails("register-malformed-json.json", 400, "bad_request"),
    fails("register-wrong-content-type.json", 415, "unsupported_media_type"),
    ok("login.json", 200),
    fails("login-wrong-password.json", 401, "invalid_credentials"),
    fails("login-unknown-email.json", 401, "invalid_credentials"),
    ok("me.json", 200),
    fails("me-no-token.json", 401, "unauthenticated"),
    fails("me-forged-token.json", 401, "unauthenticated"),
    ok("refresh.json", 200),
    fails("refresh-foreign-origin.json", 403, "origin_not_allowed"),
    fails("refresh-no-cookie.json", 401, "session_invalid"),
    ok("logout.json", 204),
    // The same credentials after logout.
    fails("me.json", 401, "unauthenticated"),
    fails("refresh.json", 401, "session_invalid"),
    fails("unknown-route.json", 404, "not_found"),
    fails("wrong-method.json", 405, "method_not_allowed"),
];

fn events_dir(function: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("events").join(function)
}

fn login_function(dir: &Path) -> Login {
    let (key, _) = SigningKey::generate("events-1").unwrap();
    let settings = |var: &str| match var {
        "ALLOWED_ORIGINS" => Some("https://app.example.com".to_owned()),
        _ => None,
    };
    let http = HttpConfig::from_source(&settings, Some(&key)).unwrap();
    let config = LoginConfig::with_key(&settings, key).unwrap();
    let store = Arc::new(SqliteStore::open(&dir.join("app.db")).unwrap());
    Login::new(config, http, &Stores::single(store), e2e::no_sockets(), Arc::new(shared::SystemClock))
}

#[test]
fn every_event_file_has_an_expectation() {
    let files: BTreeSet<String> = std::fs::read_dir(events_dir("login"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".json"))
        .collect();
    let covered: BTreeSet<String> = LOGIN.iter().map(|e| e.file.to_owned()).collect();
    assert_eq!(files, covered, "every event is run, and every expectation has its file");
}

#[tokio::test]
async fn login_events_produce_their_documented_outcomes() {
    let dir = tempfile::tempdir().unwrap();
    let login = Arc::new(login_function(dir.path()));
    let (mut access_token, mut session_token) = (String::new(), String::new());
    for expect in LOGIN {
        let text = std::fs::read_to_string(events_dir("login").join(expect.file)).unwrap();
        let text = text.replace("${ACCESS_TOKEN}", &access_token).replace("${SESSION_TOKEN}", &session_token);
        let event: Value = serde_json::from_str(&text).unwrap();
        let handler = Arc::clone(&login);
        let response = apigw::invoke(
            move |req| {
                let handler = Arc::clone(&handler);
                async move { handler.handle(req).await }
            },
            event,
        )
        .await
        .unwrap();
        let name = expect.file;
        assert_eq!(response["statusCode"], expect.status, "{name}: {response}");
        assert!(response["headers"]["x-request-id"].is_string(), "{name}");
        let body: Value = response["body"]
            .as_str()
            .filter(|b| !b.is_empty())
            .map(|b| serde_json::from_str(b).unwrap())
            .unwrap_or(Value::Null);
        if let Some(code) = expect.code {
            assert_eq!(response["headers"]["content-type"], "application/problem+json", "{name}");
            assert_eq!(body["code"], code, "{name}: {body}");
            continue;
        }
        match name {
            "register.json" | "login.json" => {
                assert_eq!(body["user"]["email"], "sample@example.com", "{name}");
                assert_eq!(body["user"]["display_name"], "Sample User", "{name}");
                assert_eq!(response["headers"]["cache-control"], "no-store", "{name}");
                // Set-Cookie travels in the v2 `cookies` field, not in the headers.
                assert!(response["headers"].get("set-cookie").is_none(), "{name}");
                let cookie = response["cookies"][0].as_str().expect("a session cookie");
                assert!(cookie.contains("HttpOnly") && cookie.contains("Secure"), "{cookie}");
                access_token = body["access_token"].as_str().unwrap().to_owned();
                session_token =
                    cookie.split(';').next().unwrap().trim_start_matches("__Host-session=").to_owned();
            }
            "me.json" => assert_eq!(body["user"]["email"], "sample@example.com"),
            "refresh.json" => {
                assert_eq!(body["token_type"], "Bearer");
                assert_eq!(response["headers"]["access-control-allow-origin"], "https://app.example.com");
            }
            "logout.json" => {
                assert!(response["cookies"][0].as_str().unwrap().contains("Max-Age=0"), "cookie cleared");
            }
            other => panic!("no positive check for {other}"),
        }
    }
}
