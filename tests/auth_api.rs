//! The auth API through the local gateway on loopback: the contract, the security rules and the
//! acceptance cases of the spine issue. Every negative case starts from a real credential.

use e2e::gateway::{Account, PASSWORD, TestGateway, session_cookie};
use e2e::tokens;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn problem(response: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status().as_u16(), status, "status for {code}");
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    assert!(response.headers().contains_key("x-request-id"));
    let body: Value = response.json().await.expect("problem json");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["status"], status);
    assert_eq!(body["type"], format!("/problems/{code}"));
    body
}

fn bearer(account: &Account) -> String {
    format!("Bearer {}", account.access_token)
}

#[tokio::test]
async fn register_login_me_and_the_response_contract() {
    let gw = TestGateway::start().await;
    let response = gw
        .post_json(
            "/api/auth/register",
            &json!({"email": "  Ada@Example.COM ", "password": PASSWORD, "display_name": " Ada "}),
        )
        .await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(response.headers()["content-type"], "application/json; charset=utf-8");
    let set_cookie = response.headers()["set-cookie"].to_str().unwrap().to_owned();
    for attr in ["__Host-session=", "HttpOnly", "Secure", "Path=/", "SameSite=Lax", "Max-Age=2678400"] {
        assert!(set_cookie.contains(attr), "{set_cookie} lacks {attr}");
    }
    assert!(!set_cookie.contains("Domain"));
    let registered: Value = response.json().await.unwrap();
    assert_eq!(registered["user"]["email"], "ada@example.com");
    assert_eq!(registered["user"]["display_name"], "Ada");
    assert_eq!(registered["token_type"], "Bearer");
    assert_eq!(registered["expires_in"], 900);
    assert!(registered["user"]["id"].as_str().is_some_and(|id| !id.is_empty()));
    assert!(registered["user"]["created_at"].as_str().unwrap().ends_with('Z'));

    let first_cookie = session_cookie(&reqwest::header::HeaderMap::from_iter([(
        reqwest::header::SET_COOKIE,
        set_cookie.parse().unwrap(),
    )]))
    .unwrap();
    let account = gw.login("ada@example.com").await;
    assert_ne!(account.cookie, first_cookie, "every login starts a new session");
    assert_eq!(account.user_id, registered["user"]["id"]);

    let me = gw.me(&bearer(&account)).await;
    assert_eq!(me.status(), 200);
    let me: Value = me.json().await.unwrap();
    assert_eq!(me["user"], registered["user"]);
    assert!(me["session"]["expires_at"].as_str().unwrap().ends_with('Z'));
}

#[tokio::test]
async fn tokens_and_sessions_survive_a_restart() {
    let mut gw = TestGateway::start().await;
    let account = gw.register("restart@example.com").await;
    gw.restart().await;
    assert_eq!(gw.me(&bearer(&account)).await.status(), 200, "same access token after restart");
    let refreshed = gw.post_cookie("/api/auth/refresh", &account.cookie).await;
    assert_eq!(refreshed.status(), 200, "same session cookie after restart");
    let body: Value = refreshed.json().await.unwrap();
    let token = body["access_token"].as_str().unwrap();
    assert_eq!(gw.me(&format!("Bearer {token}")).await.status(), 200);
}

#[tokio::test]
async fn wrong_password_and_unknown_email_are_indistinguishable() {
    let gw = TestGateway::start().await;
    gw.register("known@example.com").await;
    let hasher = gw.gateway().login().accounts().hasher().clone();

    let before = hasher.verifications();
    let wrong = gw
        .post_json("/api/auth/login", &json!({"email": "known@example.com", "password": "not the password"}))
        .await;
    assert_eq!(hasher.verifications() - before, 1);
    let before = hasher.verifications();
    let unknown = gw
        .post_json("/api/auth/login", &json!({"email": "nobody@example.com", "password": "not the password"}))
        .await;
    assert_eq!(hasher.verifications() - before, 1, "the unknown-email path runs one verification too");

    assert_eq!(wrong.status(), 401);
    assert_eq!(unknown.status(), 401);
    assert_eq!(wrong.headers()["www-authenticate"], unknown.headers()["www-authenticate"]);
    let (a, b) = (wrong.bytes().await.unwrap(), unknown.bytes().await.unwrap());
    assert_eq!(a, b, "byte-identical bodies");
    assert!(String::from_utf8_lossy(&a).contains("\"code\":\"invalid_credentials\""));
    // The positive twin: the right password works.
    gw.login("known@example.com").await;
}

#[tokio::test]
async fn every_altered_token_is_refused_with_invalid_token() {
    let gw = TestGateway::start().await;
    let account = gw.register("tokens@example.com").await;
    let token = account.access_token.clone();
    assert_eq!(gw.me(&format!("Bearer {token}")).await.status(), 200, "the base token is valid");

    let pem = gw.signing_key_pem();
    let (header, claims) = tokens::parts(&token);
    let kid = header["kid"].as_str().unwrap().to_owned();
    let now = chrono::Utc::now().timestamp();
    let resigned = |edit: &dyn Fn(&mut Value)| {
        let mut c = claims.clone();
        edit(&mut c);
        tokens::sign_eddsa(&pem, &kid, &c)
    };
    let (_, other_pem) = shared::auth::SigningKey::generate(&kid).unwrap();
    let public_x = {
        let jwks = shared::auth::PublicKeys::new([shared::auth::SigningKey::from_pem(&kid, &pem)
            .unwrap()
            .public_key()
            .clone()])
        .unwrap()
        .to_jwks();
        let v: Value = serde_json::from_str(&jwks).unwrap();
        v["keys"][0]["x"].as_str().unwrap().to_owned()
    };

    let cases: Vec<(&str, String)> = vec![
        ("tampered payload", tokens::tampered_payload(&token, |c| c["sub"] = "usr_someone_else".into())),
        ("tampered signature", tokens::tampered_signature(&token)),
        ("alg none", tokens::alg_none(&token)),
        ("HS256 keyed with the public key", tokens::hs256(&token, public_x.as_bytes())),
        ("HS256 keyed with a guess", tokens::hs256(&token, b"secret")),
        ("wrong audience", resigned(&|c| c["aud"] = "someone-else".into())),
        ("wrong issuer", resigned(&|c| c["iss"] = "evil".into())),
        (
            "expired",
            resigned(&|c| {
                c["iat"] = (now - 1000).into();
                c["exp"] = (now - 100).into();
            }),
        ),
        (
            "issued in the future",
            resigned(&|c| {
                c["iat"] = (now + 600).into();
                c["exp"] = (now + 900).into();
            }),
        ),
        ("lifetime over 15 minutes", resigned(&|c| c["exp"] = (now + 3600).into())),
        ("not valid before a later time (nbf)", resigned(&|c| c["nbf"] = (now + 300).into())),
        ("a critical header extension", tokens::sign_eddsa_critical(&pem, &kid, &claims, &["exp"])),
        ("exp as a string", resigned(&|c| c["exp"] = (now + 600).to_string().into())),
        (
            "missing sid",
            resigned(&|c| {
                c.as_object_mut().unwrap().remove("sid");
            }),
        ),
        ("unknown session", resigned(&|c| c["sid"] = "0".repeat(64).into())),
        ("sub of another user", resigned(&|c| c["sub"] = "usr_other".into())),
        ("signed by another key with the same kid", tokens::sign_eddsa(&other_pem, &kid, &claims)),
        ("unknown kid", tokens::sign_eddsa(&pem, "other-kid", &claims)),
        ("made-up string", "not-a-token".to_owned()),
        ("three made-up segments", "aaa.bbb.ccc".to_owned()),
    ];
    for (name, forged) in cases {
        let response = gw.me(&format!("Bearer {forged}")).await;
        assert_eq!(response.status(), 401, "{name}");
        assert_eq!(
            response.headers()["www-authenticate"],
            r#"Bearer realm="api", error="invalid_token""#,
            "{name}"
        );
        problem(response, 401, "unauthenticated").await;
    }

    let none = gw.http.get(gw.at("/api/auth/me")).send().await.unwrap();
    assert_eq!(none.headers()["www-authenticate"], r#"Bearer realm="api""#, "no token: bare challenge");
    problem(none, 401, "unauthenticated").await;
    let basic = gw.me("Basic dXNlcjpwYXNz").await;
    assert_eq!(basic.headers()["www-authenticate"], r#"Bearer realm="api""#);

    assert_eq!(gw.me(&format!("Bearer {token}")).await.status(), 200, "the base token still works");
    let past_nbf = resigned(&|c| c["nbf"] = (now - 5).into());
    assert_eq!(gw.me(&format!("Bearer {past_nbf}")).await.status(), 200, "an nbf already reached is fine");
}

#[tokio::test]
async fn logout_revokes_the_token_and_the_cookie_at_once() {
    let gw = TestGateway::start().await;
    let account = gw.register("logout@example.com").await;
    let other = gw.login("logout@example.com").await;

    let out = gw
        .http
        .post(gw.at("/api/auth/logout"))
        .header("authorization", bearer(&account))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    assert!(out.headers()["set-cookie"].to_str().unwrap().contains("Max-Age=0"), "cookie cleared");

    let me = gw.me(&bearer(&account)).await;
    assert_eq!(me.headers()["www-authenticate"], r#"Bearer realm="api", error="invalid_token""#);
    problem(me, 401, "unauthenticated").await;
    let refresh = gw.post_cookie("/api/auth/refresh", &account.cookie).await;
    assert!(refresh.headers()["set-cookie"].to_str().unwrap().contains("Max-Age=0"), "dead cookie cleared");
    problem(refresh, 401, "session_invalid").await;
    let again = gw
        .http
        .post(gw.at("/api/auth/logout"))
        .header("authorization", bearer(&account))
        .send()
        .await
        .unwrap();
    problem(again, 401, "unauthenticated").await;

    // Another session of the same user is untouched; logging out by cookie works too.
    assert_eq!(gw.me(&bearer(&other)).await.status(), 200);
    let by_cookie = gw.post_cookie("/api/auth/logout", &other.cookie).await;
    assert_eq!(by_cookie.status(), 204);
    problem(gw.me(&bearer(&other)).await, 401, "unauthenticated").await;
    let by_cookie_again = gw.post_cookie("/api/auth/logout", &other.cookie).await;
    problem(by_cookie_again, 401, "unauthenticated").await;
}

#[tokio::test]
async fn refresh_issues_a_new_token_only_for_allowed_or_absent_origins() {
    let gw = TestGateway::start().await;
    let account = gw.register("refresh@example.com").await;
    let refresh = |origin: Option<String>| {
        let mut req = gw.http.post(gw.at("/api/auth/refresh")).header("cookie", &account.cookie);
        if let Some(o) = origin {
            req = req.header("origin", o);
        }
        req.send()
    };
    let own = refresh(Some(gw.url.clone())).await.unwrap();
    assert_eq!(own.status(), 200);
    assert_eq!(own.headers()["access-control-allow-origin"], gw.url.as_str());
    assert_eq!(own.headers()["access-control-allow-credentials"], "true");
    assert_eq!(own.headers()["cache-control"], "no-store");
    let body: Value = own.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(gw.me(&format!("Bearer {}", body["access_token"].as_str().unwrap())).await.status(), 200);

    assert_eq!(refresh(None).await.unwrap().status(), 200, "non-browser clients send no Origin");
    let foreign = refresh(Some("https://evil.example".into())).await.unwrap();
    assert!(foreign.headers().get("access-control-allow-origin").is_none());
    problem(foreign, 403, "origin_not_allowed").await;
    let foreign_logout = gw
        .http
        .post(gw.at("/api/auth/logout"))
        .header("cookie", &account.cookie)
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    problem(foreign_logout, 403, "origin_not_allowed").await;
    assert_eq!(refresh(None).await.unwrap().status(), 200, "the refused calls changed nothing");

    problem(gw.http.post(gw.at("/api/auth/refresh")).send().await.unwrap(), 401, "session_invalid").await;
    let bogus = gw.post_cookie("/api/auth/refresh", "__Host-session=bogus").await;
    problem(bogus, 401, "session_invalid").await;
}

#[tokio::test]
async fn repeated_failures_lock_the_account_with_retry_after() {
    let gw = TestGateway::start().await;
    gw.register("victim@example.com").await;
    gw.register("bystander@example.com").await;
    let attempt = |email: &'static str, password: &'static str| {
        gw.http.post(gw.at("/api/auth/login")).json(&json!({"email": email, "password": password})).send()
    };
    for _ in 0..5 {
        problem(attempt("victim@example.com", "wrong password").await.unwrap(), 401, "invalid_credentials")
            .await;
    }
    let locked = attempt("victim@example.com", "wrong password").await.unwrap();
    let retry_after: u64 = locked.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry_after), "{retry_after}");
    problem(locked, 429, "too_many_attempts").await;
    problem(attempt("victim@example.com", PASSWORD).await.unwrap(), 429, "too_many_attempts").await;
    // Unknown emails are throttled the same way (no enumeration through the throttle).
    for _ in 0..5 {
        attempt("ghost@example.com", "wrong password").await.unwrap();
    }
    problem(attempt("ghost@example.com", "wrong password").await.unwrap(), 429, "too_many_attempts").await;
    // Other accounts are unaffected; a success after a few failures resets the count.
    gw.login("bystander@example.com").await;
    for _ in 0..4 {
        attempt("bystander@example.com", "wrong password").await.unwrap();
    }
    gw.login("bystander@example.com").await;
    for _ in 0..4 {
        problem(
            attempt("bystander@example.com", "wrong password").await.unwrap(),
            401,
            "invalid_credentials",
        )
        .await;
    }
    gw.login("bystander@example.com").await;
}

#[tokio::test]
async fn bad_input_gets_a_4xx_problem_and_writes_nothing() {
    let gw = TestGateway::start().await;
    let email = "bad-input@example.com";
    let post_raw = |content_type: &'static str, body: Vec<u8>| {
        gw.http.post(gw.at("/api/auth/register")).header("content-type", content_type).body(body).send()
    };
    problem(post_raw("application/json", b"{\"email\": ".to_vec()).await.unwrap(), 400, "bad_request").await;
    problem(post_raw("application/json", b"[]".to_vec()).await.unwrap(), 400, "bad_request").await;
    problem(
        post_raw("text/plain", format!(r#"{{"email":"{email}","password":"{PASSWORD}"}}"#).into_bytes())
            .await
            .unwrap(),
        415,
        "unsupported_media_type",
    )
    .await;
    let types = problem(
        gw.post_json("/api/auth/register", &json!({"email": email, "password": 1234567890123_u64})).await,
        400,
        "validation_failed",
    )
    .await;
    assert_eq!(types["errors"][0]["field"], "password");
    let fields = problem(
        gw.post_json(
            "/api/auth/register",
            &json!({"email": "not-an-email", "password": "short", "display_name": "x".repeat(101)}),
        )
        .await,
        400,
        "validation_failed",
    )
    .await;
    let named: Vec<&str> =
        fields["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(named, ["email", "password", "display_name"]);
    let mut big = format!(r#"{{"email":"{email}","password":"{PASSWORD}","display_name":""#).into_bytes();
    big.resize(2 * 1024 * 1024, b'a');
    big.extend_from_slice(b"\"}");
    problem(post_raw("application/json", big).await.unwrap(), 413, "payload_too_large").await;
    let huge_auth = format!("Bearer {}", "a".repeat(20 * 1024));
    let response = gw
        .http
        .post(gw.at("/api/auth/register"))
        .header("authorization", &huge_auth)
        .json(&json!({"email": "x", "password": "y"}))
        .send()
        .await
        .unwrap();
    problem(response, 400, "validation_failed").await;
    problem(gw.me(&huge_auth).await, 401, "unauthenticated").await;

    // Nothing above created the account: registering it now is a 201, not a 409.
    gw.register(email).await;
    problem(
        gw.post_json("/api/auth/register", &json!({"email": "BAD-INPUT@example.com", "password": PASSWORD}))
            .await,
        409,
        "email_taken",
    )
    .await;
}

#[tokio::test]
async fn routes_methods_and_preflight() {
    let gw = TestGateway::start().await;
    problem(gw.http.get(gw.at("/api/nothing")).send().await.unwrap(), 404, "not_found").await;
    problem(gw.http.get(gw.at("/api/auth/nothing")).send().await.unwrap(), 404, "not_found").await;
    let wrong = gw.http.get(gw.at("/api/auth/login")).send().await.unwrap();
    assert_eq!(wrong.headers()["allow"], "POST, OPTIONS");
    problem(wrong, 405, "method_not_allowed").await;
    let trace = gw
        .http
        .request(reqwest::Method::from_bytes(b"TRACE").unwrap(), gw.at("/api/auth/me"))
        .send()
        .await
        .unwrap();
    problem(trace, 405, "method_not_allowed").await;

    let preflight = gw
        .http
        .request(reqwest::Method::OPTIONS, gw.at("/api/auth/login"))
        .header("origin", &gw.url)
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), StatusCode::NO_CONTENT);
    assert_eq!(preflight.headers()["access-control-allow-origin"], gw.url.as_str());
    assert!(preflight.headers()["access-control-allow-methods"].to_str().unwrap().contains("POST"));
    let foreign = gw
        .http
        .request(reqwest::Method::OPTIONS, gw.at("/api/auth/login"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(foreign.headers().get("access-control-allow-origin").is_none());
    problem(foreign, 403, "origin_not_allowed").await;

    let health = gw.http.get(gw.at("/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
}
