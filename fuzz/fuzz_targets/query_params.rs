//! Query parameters and path ids (API Gateway splits the query string; nothing here parses one by
//! hand), and the `Idempotency-Key` header: the fuzzed values go
//! 1. to the pure parsers — `parse_limit`, `parse_message_cursor`, `Cursor::parse`,
//!    `plausible_id`, `parse_key` — checked for range and for
//!    round-tripping through the cursor encoder; and
//! 2. into the real `chat`, `escalation` and `login` handlers (`GET /api/chat/messages`,
//!    `GET /api/chat/conversations`, `GET /api/escalations`, `GET /api/escalations/{id}`,
//!    `POST /api/escalations` with `Idempotency-Key`, `DELETE /api/auth/sessions/{id}`), whose
//!    answer must be exactly what the parsers predict, with only parsed values reaching the store.
#![no_main]

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderValue, Method};
use lambda_http::{Body, Request, RequestExt};
use libfuzzer_sys::fuzz_target;
use shared::clock::epoch;
use shared::domain::{
    Cursor, DEFAULT_PAGE, MAX_PAGE, parse_key, parse_limit, parse_message_cursor, plausible_id,
};
use shared::http::HttpFunction;
use shared::services::{CONVERSATIONS, TICKETS};
use support_fuzz::{Call, Unstructured, arbitrary, check_response, fixture};

fn check_limit(raw: Option<&str>) -> Result<u32, &'static str> {
    let parsed = parse_limit(raw);
    match (raw, parsed) {
        (None, r) => assert_eq!(r, Ok(DEFAULT_PAGE)),
        (Some(v), Ok(n)) => {
            assert!((1..=MAX_PAGE).contains(&n));
            assert_eq!(v.parse::<u32>(), Ok(n));
        }
        (Some(_), Err(_)) => {}
    }
    parsed
}

fn check_message_cursor(raw: Option<&str>) -> Result<u32, &'static str> {
    let parsed = parse_message_cursor(raw);
    match (raw, parsed) {
        (None, r) => assert_eq!(r, Ok(0)),
        (Some(c), Ok(n)) => {
            let text = String::from_utf8(URL_SAFE_NO_PAD.decode(c).expect("accepted cursor is base64url"))
                .expect("accepted cursor is UTF-8");
            assert_eq!(text.strip_prefix("m:").map(str::parse::<u32>), Some(Ok(n)), "{text:?}");
            // What the API issues for this position parses back to it.
            let issued = URL_SAFE_NO_PAD.encode(format!("m:{n}"));
            assert_eq!(parse_message_cursor(Some(&issued)), Ok(n));
        }
        (Some(_), Err(_)) => {}
    }
    parsed
}

fn check_position_cursor(kind: &str, raw: Option<&str>) -> Result<Option<Cursor>, &'static str> {
    let parsed = Cursor::parse(kind, raw);
    match (raw, &parsed) {
        (None, r) => assert_eq!(r, &Ok(None)),
        (Some(_), Ok(None)) => panic!("a given cursor parsed to no position"),
        (Some(_), Ok(Some(cursor))) => {
            let again = cursor.encode(kind);
            let Ok(Some(back)) = Cursor::parse(kind, Some(&again)) else {
                panic!("the re-issued cursor {again:?} does not parse");
            };
            assert_eq!((epoch(back.at), &back.id), (epoch(cursor.at), &cursor.id), "cursor round trip");
            for other in [CONVERSATIONS, TICKETS, "m"].into_iter().filter(|k| *k != kind) {
                assert!(Cursor::parse(other, Some(&again)).is_err(), "{kind} cursor accepted as {other}");
            }
            assert!(parse_message_cursor(Some(&again)).is_err());
        }
        (Some(_), Err(_)) => {}
    }
    parsed
}

fn check_plausible(raw: &str) -> bool {
    let ok = plausible_id(raw);
    if ok {
        assert!((1..=64).contains(&raw.len()));
        assert!(raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
    }
    ok
}

fn check_key(raw: &str) -> Result<String, &'static str> {
    let parsed = parse_key(raw);
    if let Ok(k) = &parsed {
        assert_eq!(k, raw);
        assert!((1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()));
    }
    parsed
}

/// A query value: absent, arbitrary, or (to get past base64) an encoded `kind:rest` cursor.
fn value(u: &mut Unstructured<'_>) -> arbitrary::Result<Option<String>> {
    Ok(match u.int_in_range(0..=3u8)? {
        0 => None,
        1 => Some(u.arbitrary::<String>()?),
        2 => {
            let kind = *u.choose(&["m", "c", "t", "x"])?;
            let rest: String = u.arbitrary()?;
            Some(URL_SAFE_NO_PAD.encode(format!("{kind}:{rest}")))
        }
        _ => Some(u.int_in_range(0..=120u32)?.to_string()),
    })
}

fn request(method: Method, path: &str, params: &[(&str, &Option<String>)]) -> Option<Request> {
    let body = if method == Method::POST {
        Body::Text(r#"{"conversation_id":"conv_1"}"#.into())
    } else {
        Body::Empty
    };
    let mut req = http::Request::builder().method(method).uri(path).body(body).ok()?;
    let bearer = format!("Bearer {}", fixture().access_token);
    req.headers_mut().insert(AUTHORIZATION, HeaderValue::from_str(&bearer).expect("bearer"));
    req.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let query: HashMap<String, Vec<String>> =
        params.iter().filter_map(|(k, v)| Some(((*k).to_owned(), vec![(*v).clone()?]))).collect();
    Some(req.with_query_string_parameters(query))
}

fn expect(code: &str, calls: &[Call], expected_code: &str, expected_calls: &[Call]) {
    assert_eq!(code, expected_code, "store calls: {calls:?}");
    assert_eq!(calls, expected_calls);
}

fuzz_target!(|data: &[u8]| {
    let fx = fixture();
    let mut u = Unstructured::new(data);
    let Ok(route) = u.int_in_range(0..=5u8) else { return };
    let (Ok(a), Ok(b), Ok(c)) = (value(&mut u), value(&mut u), value(&mut u)) else { return };
    fx.stub.take_calls();

    match route {
        // GET /api/chat/messages?conversation_id=a&limit=b&cursor=c
        0 => {
            let id = a.as_deref().filter(|id| !id.is_empty());
            let limit = check_limit(b.as_deref());
            let after = check_message_cursor(c.as_deref());
            let plausible = id.is_some_and(check_plausible);
            let Some(req) = request(
                Method::GET,
                "/api/chat/messages",
                &[("conversation_id", &a), ("limit", &b), ("cursor", &c)],
            ) else {
                return;
            };
            let code = check_response(&fx.block_on(fx.chat.handle(req)));
            let calls = fx.stub.take_calls();
            let (session_get, rest) = calls.split_first().expect("the token was checked");
            assert!(matches!(session_get, Call::SessionGet(_)));
            if id.is_none() || limit.is_err() || after.is_err() {
                expect(&code, rest, "validation_failed", &[]);
            } else if !plausible {
                expect(&code, rest, "not_found", &[]);
            } else {
                expect(&code, rest, "not_found", &[Call::ConversationGet(id.unwrap_or_default().to_owned())]);
            }
        }
        // GET /api/chat/conversations and GET /api/escalations ?limit=a&cursor=b
        1 | 2 => {
            let (kind, path) = if route == 1 {
                (CONVERSATIONS, "/api/chat/conversations")
            } else {
                (TICKETS, "/api/escalations")
            };
            let limit = check_limit(a.as_deref());
            let before = check_position_cursor(kind, b.as_deref());
            let Some(req) = request(Method::GET, path, &[("limit", &a), ("cursor", &b)]) else { return };
            let response = fx.block_on(async {
                if route == 1 { fx.chat.handle(req).await } else { fx.escalation.handle(req).await }
            });
            let code = check_response(&response);
            let calls = fx.stub.take_calls();
            let rest = &calls[1..];
            match (limit, before) {
                (Ok(limit), Ok(before)) => {
                    let call = if route == 1 {
                        Call::ConversationList(before, limit + 1)
                    } else {
                        Call::TicketList(before, limit + 1)
                    };
                    expect(&code, rest, "unavailable", &[call]);
                }
                _ => expect(&code, rest, "validation_failed", &[]),
            }
        }
        // GET /api/escalations/{a}
        3 => {
            let id = a.unwrap_or_default();
            let Some(req) = request(Method::GET, &format!("/api/escalations/{id}"), &[]) else { return };
            let path = req.uri().path().to_owned();
            let code = check_response(&fx.block_on(fx.escalation.handle(req)));
            let calls = fx.stub.take_calls();
            match path.strip_prefix("/api/escalations/") {
                Some(id) if !id.contains('/') && !id.is_empty() => {
                    let expected: &[Call] =
                        if check_plausible(id) { &[Call::TicketGet(id.to_owned())] } else { &[] };
                    expect(&code, &calls[1..], "not_found", expected);
                }
                // Not a path of the route table: 404 before anything is read.
                _ => {
                    assert_eq!(code, "not_found", "{path}");
                    assert!(calls.is_empty(), "{path}: {calls:?}");
                }
            }
        }
        // POST /api/escalations with Idempotency-Key: a (as bytes)
        4 => {
            let raw = a.unwrap_or_default();
            let Some(mut req) = request(Method::POST, "/api/escalations", &[]) else { return };
            let Ok(header) = HeaderValue::from_bytes(raw.as_bytes()) else { return };
            let key_ok = header.to_str().ok().map(check_key).is_some_and(|k| k.is_ok());
            req.headers_mut().insert("idempotency-key", header);
            let response = fx.block_on(fx.escalation.handle(req));
            let code = check_response(&response);
            let calls = fx.stub.take_calls();
            if key_ok {
                expect(&code, &calls[1..], "not_found", &[Call::Transcript("conv_1".into())]);
            } else {
                expect(&code, &calls[1..], "validation_failed", &[]);
                assert!(support_fuzz::body_text(&response).contains(r#""field":"Idempotency-Key""#));
            }
        }
        // DELETE /api/auth/sessions/{a}
        _ => {
            let id = a.unwrap_or_default();
            let Some(req) = request(Method::DELETE, &format!("/api/auth/sessions/{id}"), &[]) else { return };
            let id = req.uri().path().strip_prefix("/api/auth/sessions/").unwrap_or_default().to_owned();
            let code = check_response(&fx.block_on(fx.login.handle(req)));
            let calls = fx.stub.take_calls();
            // A path the route table does not have is 404 before anything is read.
            if id.is_empty() || id.contains('/') {
                assert_eq!(code, "not_found");
                assert!(calls.is_empty(), "{calls:?}");
                return;
            }
            let well_formed = id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit());
            // A well-formed id goes on to list the user's sessions (the stub is unavailable).
            expect(&code, &calls[1..], if well_formed { "unavailable" } else { "not_found" }, &[]);
        }
    }
});
