//! The `Cookie` header: fuzzed `Cookie` values (one to three headers) and `Origin` go
//! 1. to `CookieSettings::read`, compared with a plain RFC 6265 `cookie-string` reading (the first
//!    `name=value` pair with the session cookie's name wins; other pairs and attributes ignored),
//!    and to `SessionToken::parse`; a `Set-Cookie` the API writes must read back; and
//! 2. into the real `login` handler's cookie routes (`POST /api/auth/refresh`,
//!    `POST /api/auth/logout` without a bearer token): a foreign `Origin` is refused before any
//!    store call; otherwise the store sees exactly one lookup, by the SHA-256 of the cookie value,
//!    and only if the value has the shape the API issues; an unknown session clears the cookie.
#![no_main]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::header::{COOKIE, ORIGIN, SET_COOKIE};
use http::{HeaderMap, HeaderValue, Method};
use lambda_http::Body;
use libfuzzer_sys::fuzz_target;
use shared::auth::SessionToken;
use shared::http::{CookieSettings, HttpFunction};
use support_fuzz::{Call, Unstructured, check_response, fixture, sha256_hex};

/// The session cookie's value as RFC 6265 §5.4 / the `cookie` crate read a `Cookie` header.
fn expected(headers: &HeaderMap, name: &str) -> Option<String> {
    for value in headers.get_all(COOKIE) {
        let Ok(text) = value.to_str() else { continue };
        for pair in text.split(';') {
            let Some((n, v)) = pair.split_once('=') else { continue };
            if n.trim() == name && !name.is_empty() {
                return Some(v.trim().to_owned());
            }
        }
    }
    None
}

fuzz_target!(|data: &[u8]| {
    let fx = fixture();
    let mut u = Unstructured::new(data);
    let Ok(name) = u.choose(&["__Host-session", "session", "a"]).copied() else { return };
    let settings = CookieSettings { name: name.to_owned(), ..CookieSettings::default() };
    let Ok(token_bytes) = u.arbitrary::<[u8; 32]>() else { return };
    let Ok(origin_choice) = u.int_in_range(0..=2u8) else { return };
    let Ok(origin_raw) = u.arbitrary::<&[u8]>() else { return };
    let Ok(count) = u.int_in_range(1..=3usize) else { return };
    let mut headers = HeaderMap::new();
    for _ in 0..count {
        let Ok(raw) = u.arbitrary::<&[u8]>() else { break };
        if let Ok(value) = HeaderValue::from_bytes(raw) {
            headers.append(COOKIE, value);
        }
    }

    // 1. The parser alone.
    let read = settings.read(&headers);
    assert_eq!(read, expected(&headers, name), "{headers:?}");
    if let Some(value) = &read {
        assert!(!value.contains(';'));
        if let Some(token) = SessionToken::parse(value) {
            assert_eq!(token.expose(), value);
            assert_eq!(token.id().as_str(), sha256_hex(value.as_bytes()));
        }
    }
    // A cookie the API set is read back, whatever other cookies follow it.
    let token = URL_SAFE_NO_PAD.encode(token_bytes);
    let set = settings.set(&token, 60);
    let pair = set.split(';').next().expect("a Set-Cookie starts with its pair");
    assert_eq!(pair, format!("{name}={token}"));
    let mut with_ours = HeaderMap::new();
    with_ours.append(COOKIE, HeaderValue::from_str(pair).expect("pair is a header value"));
    for value in headers.get_all(COOKIE) {
        with_ours.append(COOKIE, value.clone());
    }
    assert_eq!(settings.read(&with_ours).as_deref(), Some(token.as_str()));
    assert!(SessionToken::parse(&token).is_some());

    // 2. The handler, with the default cookie name the fixture's `login` uses.
    let session_cookie = fx.http.cookie.read(&headers);
    let origin = match origin_choice {
        0 => None,
        1 => Some(HeaderValue::from_static(support_fuzz::ORIGIN)),
        _ => HeaderValue::from_bytes(origin_raw).ok(),
    };
    let origin_ok = origin.as_ref().is_none_or(|o| fx.http.cors.is_allowed(o));
    for path in ["/api/auth/refresh", "/api/auth/logout"] {
        let mut req =
            http::Request::builder().method(Method::POST).uri(path).body(Body::Empty).expect("request");
        *req.headers_mut() = headers.clone();
        if let Some(o) = &origin {
            req.headers_mut().insert(ORIGIN, o.clone());
        }
        fx.stub.take_calls();
        let response = fx.block_on(fx.login.handle(req));
        let code = check_response(&response);
        let calls = fx.stub.take_calls();
        if !origin_ok {
            assert_eq!(code, "origin_not_allowed");
            assert!(calls.is_empty(), "{calls:?}");
            continue;
        }
        let expected_calls = match session_cookie.as_deref().and_then(SessionToken::parse) {
            Some(t) => {
                let id = sha256_hex(t.expose().as_bytes());
                vec![if path.ends_with("refresh") { Call::SessionTouch(id) } else { Call::SessionDelete(id) }]
            }
            None => Vec::new(),
        };
        assert_eq!(calls, expected_calls);
        // The stub knows no session by cookie: always refused, and the cookie is cleared.
        assert_eq!(code, if path.ends_with("refresh") { "session_invalid" } else { "unauthenticated" });
        let cleared = response.headers().get(SET_COOKIE).and_then(|v| v.to_str().ok()).unwrap_or("");
        assert!(cleared.starts_with("__Host-session=;") && cleared.contains("Max-Age=0"), "{cleared}");
    }
});
