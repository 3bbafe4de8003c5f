//! What API Gateway's WebSocket API does around `ws-connect`: `GET /ws` upgrades only after the
//! `$connect` event (query string, headers, a generated connection id) returned 200; each text
//! frame becomes a `$default` event whose response body is sent back; a close becomes
//! `$disconnect`. Frames pushed through `@connections` reach the socket through [`Sockets`].

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};
use shared::error::ApiError;

use crate::problem;
use crate::sockets::{Outgoing, Sockets};

/// API Gateway's limit on one WebSocket message.
const MAX_MESSAGE: usize = 128 * 1024;
/// How long a closing socket waits for the other side's part of the closing handshake.
const CLOSE_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// The `ws-connect` handler as the gateway calls it.
pub type WsHandler = Arc<
    dyn Fn(ApiGatewayWebsocketProxyRequest) -> Pin<Box<dyn Future<Output = ApiGatewayProxyResponse> + Send>>
        + Send
        + Sync,
>;

/// What the WebSocket routes need.
#[derive(Clone)]
pub struct WsState {
    /// `ws-connect`.
    pub handler: WsHandler,
    /// Open sockets.
    pub sockets: Sockets,
}

/// The connection's fixed facts, repeated in every event.
struct Connection {
    id: String,
    connected_at_ms: i64,
    source_ip: String,
    user_agent: String,
    host: String,
}

/// A connection id shaped like API Gateway's (base64 of 11 random bytes, e.g. `L0SM9cOFvHcCIhw=`).
fn connection_id() -> String {
    STANDARD.encode(&uuid::Uuid::new_v4().as_bytes()[..11])
}

fn event(conn: &Connection, route: &str, event_type: &str, extra: Map<String, Value>) -> Value {
    let now = chrono::Utc::now();
    let mut context = json!({
        "routeKey": route,
        "eventType": event_type,
        "extendedRequestId": uuid::Uuid::new_v4().to_string(),
        "requestTime": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
        "messageDirection": "IN",
        "stage": "local",
        "connectedAt": conn.connected_at_ms,
        "requestTimeEpoch": now.timestamp_millis(),
        "identity": { "sourceIp": conn.source_ip, "userAgent": conn.user_agent },
        "requestId": uuid::Uuid::new_v4().to_string(),
        "domainName": conn.host,
        "connectionId": conn.id,
        "apiId": "local",
    });
    let mut event = json!({ "requestContext": Value::Null, "isBase64Encoded": false });
    for (k, v) in extra {
        if k == "requestContext" {
            if let (Some(ctx), Value::Object(more)) = (context.as_object_mut(), v) {
                ctx.extend(more);
            }
        } else {
            event[k] = v;
        }
    }
    event["requestContext"] = context;
    event
}

/// What `ws-connect` answered: status, body, headers.
struct Answer {
    status: u16,
    body: Option<String>,
    headers: Map<String, Value>,
}

/// Runs `ws-connect` on an event as the Lambda runtime would (JSON in, JSON out).
async fn invoke(handler: &WsHandler, event: Value) -> Result<Answer, String> {
    let request: ApiGatewayWebsocketProxyRequest =
        serde_json::from_value(event).map_err(|e| format!("event rejected: {e}"))?;
    let response = serde_json::to_value(handler(request).await).map_err(|e| e.to_string())?;
    let status =
        response["statusCode"].as_u64().and_then(|s| u16::try_from(s).ok()).ok_or("no statusCode")?;
    Ok(Answer {
        status,
        body: response["body"].as_str().filter(|b| !b.is_empty()).map(str::to_owned),
        headers: response["headers"].as_object().cloned().unwrap_or_default(),
    })
}

fn connect_extras(headers: &HeaderMap, uri: &Uri) -> Map<String, Value> {
    let mut single = Map::new();
    let mut multi = Map::new();
    for name in headers.keys() {
        let values: Vec<&str> = headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).collect();
        single.insert(name.as_str().to_owned(), json!(values.join(",")));
        multi.insert(name.as_str().to_owned(), json!(values));
    }
    // REST-style events: the last value of a repeated parameter, and all of them.
    let mut query = Map::new();
    let mut multi_query = Map::new();
    for (k, values) in crate::apigw::query_params(uri) {
        query.insert(k.clone(), json!(values.last()));
        multi_query.insert(k, json!(values));
    }
    let mut extra = Map::new();
    extra.insert("headers".into(), Value::Object(single));
    extra.insert("multiValueHeaders".into(), Value::Object(multi));
    if !query.is_empty() {
        extra.insert("queryStringParameters".into(), Value::Object(query));
        extra.insert("multiValueQueryStringParameters".into(), Value::Object(multi_query));
    }
    extra
}

/// `GET /ws`: `$connect` first; upgrade only on 200, else answer with the function's status.
pub async fn upgrade(
    State(state): State<WsState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    uri: Uri,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    // Checked before $connect so a plain GET never consumes a ticket.
    let Ok(upgrade) = upgrade else {
        return problem(ApiError::BadRequest("This endpoint only accepts WebSocket upgrades."));
    };
    let header_str =
        |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let conn = Connection {
        id: connection_id(),
        connected_at_ms: chrono::Utc::now().timestamp_millis(),
        source_ip: peer.ip().to_string(),
        user_agent: header_str(header::USER_AGENT),
        host: header_str(header::HOST),
    };
    let connect = event(&conn, "$connect", "CONNECT", connect_extras(&headers, &uri));
    match invoke(&state.handler, connect).await {
        Ok(Answer { status: 200, .. }) => {}
        Ok(refused) => {
            let status = StatusCode::from_u16(refused.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            // The function's headers too: its content type, the challenge, `Retry-After`.
            let mut response = (status, refused.body.unwrap_or_default()).into_response();
            for (name, value) in &refused.headers {
                let value = value.as_str().and_then(|v| header::HeaderValue::from_str(v).ok());
                if let (Ok(name), Some(value)) = (header::HeaderName::from_bytes(name.as_bytes()), value) {
                    response.headers_mut().insert(name, value);
                }
            }
            return response;
        }
        Err(e) => {
            tracing::error!(error = %e, "ws-connect invocation failed");
            return problem(ApiError::Internal);
        }
    }
    let outgoing = state.sockets.register(&conn.id, conn.source_ip.clone(), conn.user_agent.clone());
    upgrade.max_message_size(MAX_MESSAGE).on_upgrade(move |socket| serve(socket, conn, outgoing, state))
}

async fn serve(
    mut socket: WebSocket,
    conn: Connection,
    mut outgoing: tokio::sync::mpsc::UnboundedReceiver<Outgoing>,
    state: WsState,
) {
    // Whether a close frame went either way, so the closing handshake is to be completed.
    let closing = loop {
        tokio::select! {
            incoming = socket.recv() => {
                let (body, base64) = match incoming {
                    Some(Ok(Message::Text(text))) => (text.to_string(), false),
                    Some(Ok(Message::Binary(bytes))) => (STANDARD.encode(&bytes), true),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Close(_))) => break true,
                    Some(Err(_)) | None => break false,
                };
                let mut extra = Map::new();
                extra.insert("body".into(), json!(body));
                extra.insert("isBase64Encoded".into(), json!(base64));
                extra.insert("requestContext".into(), json!({ "messageId": uuid::Uuid::new_v4().to_string() }));
                match invoke(&state.handler, event(&conn, "$default", "MESSAGE", extra)).await {
                    Ok(Answer { body: Some(reply), .. }) => {
                        if socket.send(Message::Text(reply.into())).await.is_err() {
                            break false;
                        }
                    }
                    Ok(Answer { body: None, .. }) => {}
                    Err(e) => tracing::error!(error = %e, "ws-connect invocation failed"),
                }
            }
            frame = outgoing.recv() => match frame {
                Some(Outgoing::Text(text)) => {
                    if socket.send(Message::Text(text.into())).await.is_err() {
                        break false;
                    }
                }
                Some(Outgoing::Close) | None => {
                    let close = CloseFrame { code: close_code::NORMAL, reason: "".into() };
                    break socket.send(Message::Close(Some(close))).await.is_ok();
                }
            },
        }
    };
    // Forgotten first: nothing more may be pushed to a closing socket.
    state.sockets.remove(&conn.id);
    if closing {
        finish_close(&mut socket).await;
    }
    // As API Gateway does: the connection ends, then `$disconnect` runs.
    drop(socket);
    let mut extra = Map::new();
    extra.insert("requestContext".into(), json!({ "disconnectStatusCode": 1000, "disconnectReason": "" }));
    if let Err(e) = invoke(&state.handler, event(&conn, "$disconnect", "DISCONNECT", extra)).await {
        tracing::error!(error = %e, "ws-connect invocation failed");
    }
}

/// Completes the closing handshake (RFC 6455 §5.5.1) before the socket is dropped: reading on
/// sends tungstenite's queued answer to the client's close frame, or waits for the client's answer
/// to ours, and ends once the connection is closed. Without it a client sees the TCP connection
/// end unanswered (a browser reports code 1006). Bounded, so a silent peer cannot hold the task.
async fn finish_close(socket: &mut WebSocket) {
    let drain = async { while let Some(Ok(_)) = socket.recv().await {} };
    let _ = tokio::time::timeout(CLOSE_GRACE, drain).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_ids_look_like_api_gateways() {
        let id = connection_id();
        assert_eq!(id.len(), 16);
        assert!(id.ends_with('='));
        assert_ne!(id, connection_id());
    }

    #[test]
    fn connect_event_carries_query_and_headers() {
        let mut headers = HeaderMap::new();
        headers.insert(header::ORIGIN, "http://127.0.0.1:3000".parse().unwrap());
        let conn = Connection {
            id: "abc=".into(),
            connected_at_ms: 1,
            source_ip: "127.0.0.1".into(),
            user_agent: "t".into(),
            host: "h".into(),
        };
        let uri: Uri = "/ws?ticket=a%2Bb".parse().unwrap();
        let e = event(&conn, "$connect", "CONNECT", connect_extras(&headers, &uri));
        assert_eq!(e["queryStringParameters"]["ticket"], "a+b");
        assert_eq!(e["headers"]["origin"], "http://127.0.0.1:3000");
        assert_eq!(e["requestContext"]["connectionId"], "abc=");
        assert_eq!(e["requestContext"]["routeKey"], "$connect");
        let parsed: ApiGatewayWebsocketProxyRequest = serde_json::from_value(e).unwrap();
        assert_eq!(parsed.query_string_parameters.first("ticket"), Some("a+b"));
    }
}
