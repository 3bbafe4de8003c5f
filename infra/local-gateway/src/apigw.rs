//! What API Gateway (HTTP API, payload format 2.0) does around a function: turn an HTTP request
//! into the event JSON, run the handler through `lambda_http`'s own adapter (the code path
//! `lambda_http::run` uses), and turn the response JSON back into HTTP.

use std::convert::Infallible;

use axum::body::Bytes;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use lambda_http::request::LambdaRequest;
use lambda_http::{Adapter, Context, LambdaEvent, Request, Service, service_fn};
use serde_json::{Map, Value, json};
use shared::http::HttpFunction;

/// Where a request came from, as API Gateway reports it.
pub struct Caller<'a> {
    /// Peer address.
    pub source_ip: String,
    /// The `Host` the client used.
    pub host: &'a str,
}

/// The API Gateway v2 event for this request, as JSON.
pub fn event(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
    route_key: &str,
    caller: &Caller<'_>,
) -> Value {
    let mut single: Map<String, Value> = Map::new();
    let mut cookies: Vec<Value> = Vec::new();
    for name in headers.keys() {
        let values: Vec<&str> = headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).collect();
        if name == header::COOKIE {
            // API Gateway moves cookies out of the headers into `cookies`, one per entry.
            cookies.extend(
                values
                    .iter()
                    .flat_map(|v| v.split(';'))
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(|c| json!(c)),
            );
        } else {
            single.insert(name.as_str().to_owned(), json!(values.join(",")));
        }
    }
    let raw_query = uri.query().unwrap_or("");
    // HTTP APIs join repeated parameters with commas.
    let mut query: Map<String, Value> = Map::new();
    for (k, values) in query_params(uri) {
        query.insert(k, json!(values.join(",")));
    }
    let (body, base64) = match std::str::from_utf8(body) {
        _ if body.is_empty() => (Value::Null, false),
        Ok(text) => (json!(text), false),
        Err(_) => (json!(STANDARD.encode(body)), true),
    };
    let now = chrono::Utc::now();
    let path = uri.path();
    let mut event = json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": single,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": caller.host,
            "domainPrefix": caller.host.split('.').next().unwrap_or(caller.host),
            "http": {
                "method": method.as_str(),
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": caller.source_ip,
                "userAgent": headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or(""),
            },
            "requestId": uuid::Uuid::new_v4().to_string(),
            "routeKey": route_key,
            "stage": "$default",
            "time": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
            "timeEpoch": now.timestamp_millis(),
        },
        "isBase64Encoded": base64,
    });
    if !cookies.is_empty() {
        event["cookies"] = Value::Array(cookies);
    }
    if !query.is_empty() {
        event["queryStringParameters"] = Value::Object(query);
    }
    let proxied = route_key
        .strip_suffix("/{proxy+}")
        .and_then(|r| r.split_once(' '))
        .and_then(|(_, prefix)| path.strip_prefix(prefix))
        .and_then(|rest| rest.strip_prefix('/'));
    if let Some(rest) = proxied {
        event["pathParameters"] = json!({ "proxy": rest });
    }
    if !body.is_null() {
        event["body"] = body;
    }
    event
}

/// Decoded query parameters in order of first appearance, repeated names gathered.
pub fn query_params(uri: &Uri) -> Vec<(String, Vec<String>)> {
    let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
    let mut params: Vec<(String, Vec<String>)> = Vec::new();
    for pair in uri.query().unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (decode(k), decode(v));
        match params.iter_mut().find(|(name, _)| *name == k) {
            Some((_, values)) => values.push(v),
            None => params.push((k, vec![v])),
        }
    }
    params
}

/// Invokes `function` with `event` exactly as the Lambda runtime would and returns the response
/// JSON the function would hand back to API Gateway.
pub async fn invoke(function: &dyn HttpFunction, event: Value) -> Result<Value, String> {
    let payload: LambdaRequest = serde_json::from_value(event).map_err(|e| format!("event rejected: {e}"))?;
    let mut adapter =
        Adapter::from(service_fn(
            |req: Request| async move { Ok::<_, Infallible>(function.handle(req).await) },
        ));
    let mut context = Context::default();
    context.request_id = uuid::Uuid::new_v4().to_string();
    let Ok(response) = adapter.call(LambdaEvent::new(payload, context)).await;
    serde_json::to_value(response).map_err(|e| format!("response not serializable: {e}"))
}

/// The HTTP response API Gateway would send for a function's response JSON.
pub fn http_response(value: &Value) -> Result<http::Response<Vec<u8>>, String> {
    let status = value["statusCode"]
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
        .and_then(|s| StatusCode::from_u16(s).ok())
        .ok_or("statusCode missing or invalid")?;
    let mut response = http::Response::new(Vec::new());
    *response.status_mut() = status;
    let headers = response.headers_mut();
    for (field, multi) in [("headers", false), ("multiValueHeaders", true)] {
        let Some(map) = value[field].as_object() else {
            continue;
        };
        for (name, v) in map {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|e| e.to_string())?;
            let values: Vec<&str> = if multi {
                v.as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
            } else {
                v.as_str().into_iter().collect()
            };
            for v in values {
                headers.append(&name, HeaderValue::from_str(v).map_err(|e| e.to_string())?);
            }
        }
    }
    for cookie in value["cookies"].as_array().into_iter().flatten().filter_map(Value::as_str) {
        headers.append(header::SET_COOKIE, HeaderValue::from_str(cookie).map_err(|e| e.to_string())?);
    }
    if let Some(body) = value["body"].as_str() {
        *response.body_mut() = if value["isBase64Encoded"].as_bool() == Some(true) {
            STANDARD.decode(body).map_err(|e| e.to_string())?
        } else {
            body.as_bytes().to_vec()
        };
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_are_decoded_and_joined() {
        let uri: Uri = "/api/x?a=1&b=hello%20world&a=2&c=%zz&d=%C3%A9".parse().unwrap();
        let caller = Caller { source_ip: "127.0.0.1".into(), host: "localhost" };
        let e = event(&Method::GET, &uri, &HeaderMap::new(), &Bytes::new(), "ANY /api/{proxy+}", &caller);
        assert_eq!(e["queryStringParameters"]["a"], "1,2");
        assert_eq!(e["queryStringParameters"]["b"], "hello world");
        assert_eq!(e["queryStringParameters"]["c"], "%zz");
        assert_eq!(e["queryStringParameters"]["d"], "é");
        assert_eq!(e["pathParameters"]["proxy"], "x");
        assert_eq!(e["rawQueryString"], "a=1&b=hello%20world&a=2&c=%zz&d=%C3%A9");
    }

    #[test]
    fn cookies_leave_the_headers() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, "a=1; b=2".parse().unwrap());
        h.append(header::COOKIE, "c=3".parse().unwrap());
        let caller = Caller { source_ip: "127.0.0.1".into(), host: "localhost" };
        let e = event(&Method::GET, &"/".parse().unwrap(), &h, &Bytes::new(), "$default", &caller);
        assert_eq!(e["cookies"], json!(["a=1", "b=2", "c=3"]));
        assert!(e["headers"].get("cookie").is_none());
    }
}
