//! WebSocket events as API Gateway delivers them to `ws-connect` (deserialised from the event
//! JSON, as the Lambda runtime does), into the real `WsConnect::handle`:
//! - `$default` with a fuzzed frame body (text or base64 flag): the answer is always a 200 with
//!   exactly one of `pong`, `error/bad_frame`, `error/unknown_action`, and `pong` only for a JSON
//!   frame whose `action` is `"ping"`;
//! - `$connect` with fuzzed `?ticket=`, `Authorization`, `Origin` and connection id: a connection
//!   is stored only for an allowed (or absent) origin with a valid bearer token and no ticket; a
//!   ticket reaches the store only in the shape the API issues, by its SHA-256; every refusal is a
//!   problem+json with the status it says.
#![no_main]

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use aws_lambda_events::encodings::Body;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use shared::auth::secret::Secret;
use support_fuzz::{Call, ORIGIN, Unstructured, arbitrary, fixture, sha256_hex};

/// The client frame as `ws-connect` declares it (a copy: the type is private).
#[derive(Deserialize)]
struct Frame {
    action: String,
}

fn body(response: &ApiGatewayProxyResponse) -> &str {
    match &response.body {
        Some(Body::Text(s)) => s,
        other => panic!("ws-connect answered a non-text body {other:?}"),
    }
}

fn default_route(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let fx = fixture();
    let route = match u.int_in_range(0..=3u8)? {
        0 => Value::Null,
        1 => json!(u.arbitrary::<String>()?),
        _ => json!("$default"),
    };
    if route.as_str().is_some_and(|r| r == "$connect" || r == "$disconnect") {
        return Ok(());
    }
    let base64 = u.ratio(1, 8)?;
    let text: Option<String> = if u.ratio(1, 16)? { None } else { Some(u.arbitrary()?) };
    let event = json!({
        "requestContext": {"routeKey": route, "connectionId": "conn-1", "requestId": "r-1", "connectedAt": 0, "requestTimeEpoch": 0},
        "body": text,
        "isBase64Encoded": base64,
    });
    let event: ApiGatewayWebsocketProxyRequest = serde_json::from_value(event).expect("event");
    let response = fx.block_on(fx.ws.handle(event));
    assert_eq!(response.status_code, 200);
    let frame = body(&response);
    let mirror = text.as_deref().filter(|_| !base64).map(serde_json::from_str::<Frame>);
    let expected = match mirror {
        Some(Ok(f)) if f.action == "ping" => r#"{"type":"pong"}"#,
        Some(Ok(_)) => r#"{"type":"error","code":"unknown_action"}"#,
        _ => r#"{"type":"error","code":"bad_frame"}"#,
    };
    assert_eq!(frame, expected, "frame {text:?} (base64 {base64})");
    if frame.contains("pong") {
        // A pong answers a JSON object (or array) whose action is "ping".
        if let Ok(value) = serde_json::from_str::<Value>(text.as_deref().unwrap_or_default()) {
            let action = value.get("action").or_else(|| value.get(0));
            assert_eq!(action.and_then(Value::as_str), Some("ping"), "{value}");
        }
    }
    Ok(())
}

fn connect(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let fx = fixture();
    let connection_id = match u.int_in_range(0..=4u8)? {
        0 => String::new(),
        1 => u.arbitrary()?,
        _ => "conn-1".to_owned(),
    };
    let mut headers = Map::new();
    match u.int_in_range(0..=3u8)? {
        0 => {}
        1 => _ = headers.insert("Origin".into(), json!(u.arbitrary::<String>()?)),
        _ => _ = headers.insert("Origin".into(), json!(ORIGIN)),
    }
    let bearer = match u.int_in_range(0..=4u8)? {
        0 => None,
        1 => Some(u.arbitrary::<String>()?),
        2 => Some(format!("Bearer {}", fx.bad_tokens[usize::from(u.arbitrary::<bool>()?)])),
        _ => Some(format!("Bearer {}", fx.access_token)),
    };
    if let Some(b) = &bearer {
        headers.insert("Authorization".into(), json!(b));
    }
    let ticket: Option<String> = match u.int_in_range(0..=3u8)? {
        0 => None,
        1 => Some(u.arbitrary()?),
        2 => Some(URL_SAFE_NO_PAD.encode(u.arbitrary::<[u8; 32]>()?)),
        _ => Some(String::new()),
    };
    let mut query = Map::new();
    if let Some(t) = &ticket {
        query.insert("ticket".into(), json!(t));
    }
    if u.ratio(1, 4)? {
        query.insert(u.arbitrary()?, json!(u.arbitrary::<String>()?));
    }
    let event = json!({
        "requestContext": {"routeKey": "$connect", "connectionId": connection_id, "requestId": "r-1", "connectedAt": 0, "requestTimeEpoch": 0},
        "headers": headers,
        "queryStringParameters": query,
    });
    // What API Gateway could not have sent (a header value with control characters) stops here.
    let event = match serde_json::from_value::<ApiGatewayWebsocketProxyRequest>(event.clone()) {
        Ok(event) => event,
        Err(e) => {
            let mut without_headers = event;
            without_headers["headers"] = json!({});
            serde_json::from_value::<ApiGatewayWebsocketProxyRequest>(without_headers)
                .unwrap_or_else(|_| panic!("event refused for something else than its headers: {e}"));
            return Ok(());
        }
    };
    let origin_ok = event.headers.get("origin").is_none_or(|o| fx.http.cors.is_allowed(o));
    let ticket = event.query_string_parameters.first("ticket").map(str::to_owned);
    let bearer_ok = event.headers.get_all("authorization").iter().count() == 1
        && event
            .headers
            .get("authorization")
            .is_some_and(|v| v == format!("Bearer {}", fx.access_token).as_str());

    fx.stub.take_calls();
    let response = fx.block_on(fx.ws.handle(event));
    let calls = fx.stub.take_calls();
    let connected = calls.contains(&Call::ConnectionPut(connection_id.clone()));
    if response.status_code == 200 {
        assert!(connected && origin_ok && ticket.is_none() && bearer_ok, "accepted: {calls:?}");
        assert!(!connection_id.is_empty());
        return Ok(());
    }
    assert!(!connected, "stored a refused connection");
    let problem: Value = serde_json::from_str(body(&response)).expect("problem+json");
    assert_eq!(problem["status"].as_i64(), Some(response.status_code));
    assert_eq!(
        response.headers.get("content-type").map(|v| v.as_bytes()),
        Some(&b"application/problem+json"[..])
    );
    let code = problem["code"].as_str().unwrap_or_default();
    if connection_id.is_empty() {
        assert_eq!(code, "bad_request");
        assert!(calls.is_empty());
    } else if !origin_ok {
        assert_eq!(code, "origin_not_allowed");
        assert!(calls.is_empty());
    } else if let Some(t) = ticket {
        assert_eq!(code, "unauthenticated");
        let expected: Vec<Call> = match Secret::parse(&t) {
            Some(_) => vec![Call::TicketPeek(sha256_hex(t.as_bytes()))],
            None => Vec::new(),
        };
        assert_eq!(calls, expected, "ticket {t:?}");
    } else {
        assert_eq!(code, "unauthenticated");
        assert!(!bearer_ok, "valid bearer refused");
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let _ = if u.ratio(1, 2).unwrap_or(true) { default_route(&mut u) } else { connect(&mut u) };
});
