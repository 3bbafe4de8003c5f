//! A fault-injecting proxy in front of moto: the SDK talks to it as it would to DynamoDB, and it
//! forwards every request to moto except those matching a rule, which get the fault instead:
//! DynamoDB's answer for an internal error or for throttling, or no answer at all (the SDK's
//! attempt and operation timeouts fire). Rules match an operation (`X-Amz-Target`) and a table
//! name in the body, so a test can fail exactly "writes to the connections table".

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, Response, StatusCode, Uri};

/// What a matching request gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 500 `InternalServerError` (the SDK retries it, then gives up).
    Unavailable,
    /// 400 `ThrottlingException` (retried with backoff, then given up).
    Throttled,
    /// No answer: the request hangs until the client gives up.
    Timeout,
}

/// Which requests fail, and how.
#[derive(Debug, Clone)]
struct Rule {
    operations: Vec<String>,
    table: String,
    fault: Fault,
}

#[derive(Clone)]
struct Proxy {
    upstream: String,
    http: reqwest::Client,
    rules: Arc<Mutex<Vec<Rule>>>,
    faulted: Arc<Mutex<Vec<String>>>,
    tokens: Arc<Mutex<Vec<Option<String>>>>,
}

/// A running proxy.
pub struct FaultProxy {
    /// `http://127.0.0.1:PORT`, to use as the SDK endpoint.
    pub url: String,
    proxy: Proxy,
}

impl FaultProxy {
    /// Listens on a free loopback port and forwards to moto.
    pub async fn start() -> Self {
        let proxy = Proxy {
            upstream: crate::moto::endpoint(),
            http: reqwest::Client::new(),
            rules: Arc::default(),
            faulted: Arc::default(),
            tokens: Arc::default(),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let app = Router::new().fallback(forward).with_state(proxy.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, proxy }
    }

    /// From now on, DynamoDB `operations` (e.g. `PutItem`) naming `table` get `fault`.
    pub fn fail(&self, operations: &[&str], table: &str, fault: Fault) {
        self.proxy.rules.lock().unwrap().push(Rule {
            operations: operations.iter().map(|o| (*o).to_owned()).collect(),
            table: table.to_owned(),
            fault,
        });
    }

    /// Removes every rule: the store recovers.
    pub fn heal(&self) {
        self.proxy.rules.lock().unwrap().clear();
    }

    /// The operations that got a fault so far (one entry per attempt).
    pub fn faulted(&self) -> Vec<String> {
        self.proxy.faulted.lock().unwrap().clone()
    }

    /// The `ClientRequestToken` of each faulted attempt, in order.
    pub fn faulted_tokens(&self) -> Vec<Option<String>> {
        self.proxy.tokens.lock().unwrap().clone()
    }
}

/// Every DynamoDB write operation.
pub const WRITES: &[&str] = &["PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"];

async fn forward(
    State(proxy): State<Proxy>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    let operation = headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .and_then(|t| t.rsplit('.').next())
        .unwrap_or_default()
        .to_owned();
    let text = String::from_utf8_lossy(&body);
    let fault = proxy
        .rules
        .lock()
        .unwrap()
        .iter()
        .find(|r| r.operations.contains(&operation) && text.contains(&format!("\"{}\"", r.table)))
        .map(|r| r.fault);
    if let Some(fault) = fault {
        proxy.faulted.lock().unwrap().push(operation);
        let token = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|b| b["ClientRequestToken"].as_str().map(str::to_owned));
        proxy.tokens.lock().unwrap().push(token);
        let (status, kind) = match fault {
            Fault::Unavailable => (StatusCode::INTERNAL_SERVER_ERROR, "InternalServerError"),
            Fault::Throttled => (StatusCode::BAD_REQUEST, "ThrottlingException"),
            Fault::Timeout => {
                tokio::time::sleep(Duration::from_secs(30)).await;
                (StatusCode::GATEWAY_TIMEOUT, "InternalServerError")
            }
        };
        let body = format!(r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{kind}","message":"injected"}}"#);
        return Response::builder()
            .status(status)
            .header("content-type", "application/x-amz-json-1.0")
            .header("x-amzn-errortype", kind)
            .body(Body::from(body))
            .expect("response");
    }
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let mut request = proxy.http.request(method, format!("{}{path}", proxy.upstream)).body(body);
    for (name, value) in &headers {
        if name != "host" && name != "content-length" {
            request = request.header(name, value);
        }
    }
    match request.send().await {
        Ok(answer) => {
            let mut response = Response::builder().status(answer.status());
            for (name, value) in answer.headers() {
                if name != "content-length" && name != "transfer-encoding" {
                    response = response.header(name, value);
                }
            }
            response.body(Body::from(answer.bytes().await.unwrap_or_default())).expect("response")
        }
        Err(e) => Response::builder()
            .status(StatusCode::BAD_GATEWAY)
            .body(Body::from(e.to_string()))
            .expect("response"),
    }
}
