//! A loopback Lambda Runtime API (the subset a function's runtime client uses): `next` hands out
//! one event at a time, `response` and `error` take the answer back.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::{get, post};
use tokio::sync::{Mutex, mpsc, oneshot};

/// How long a function may take to ask for its first event or to answer one.
const PATIENCE: Duration = Duration::from_secs(10);

/// What the function sent back for one invocation.
type Answer = std::result::Result<String, String>;

struct Shared {
    events: Mutex<mpsc::Receiver<(String, String)>>,
    first_next: Mutex<Option<oneshot::Sender<Instant>>>,
    answers: mpsc::Sender<(String, Answer, Instant)>,
}

/// One Runtime API server on a free loopback port, for one function process.
pub struct RuntimeApi {
    address: String,
    events: mpsc::Sender<(String, String)>,
    first_next: Mutex<Option<oneshot::Receiver<Instant>>>,
    answers: Mutex<mpsc::Receiver<(String, Answer, Instant)>>,
    server: tokio::task::JoinHandle<()>,
}

impl RuntimeApi {
    /// Binds and serves.
    pub async fn start() -> Result<Self> {
        let (events_tx, events_rx) = mpsc::channel(1);
        let (first_tx, first_rx) = oneshot::channel();
        let (answers_tx, answers_rx) = mpsc::channel(1);
        let shared = Arc::new(Shared {
            events: Mutex::new(events_rx),
            first_next: Mutex::new(Some(first_tx)),
            answers: answers_tx,
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?.to_string();
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.ok();
        });
        Ok(Self {
            address,
            events: events_tx,
            first_next: Mutex::new(Some(first_rx)),
            answers: Mutex::new(answers_rx),
            server,
        })
    }

    /// `host:port`, for `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// When the function first asked for an event (`None` if it never did in time).
    pub async fn first_next(&self) -> Option<Instant> {
        let rx = self.first_next.lock().await.take()?;
        tokio::time::timeout(PATIENCE, rx).await.ok()?.ok()
    }

    /// Hands out one event and waits for its answer: the time between the two, and the body.
    pub async fn invoke(&self, event: String) -> Result<(Duration, String)> {
        let id = uuid::Uuid::new_v4().to_string();
        let handed = Instant::now();
        self.events.send((id.clone(), event)).await.context("runtime API closed")?;
        let mut answers = self.answers.lock().await;
        let (answered, answer, at) = tokio::time::timeout(PATIENCE, answers.recv())
            .await
            .context("no answer in time")?
            .context("closed")?;
        if answered != id {
            bail!("answer for {answered}, expected {id}");
        }
        match answer {
            Ok(body) => Ok((at - handed, body)),
            Err(error) => bail!("the function reported an error: {error}"),
        }
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn next(State(shared): State<Arc<Shared>>) -> (StatusCode, HeaderMap, String) {
    if let Some(first) = shared.first_next.lock().await.take() {
        first.send(Instant::now()).ok();
    }
    let Some((id, event)) = shared.events.lock().await.recv().await else {
        return (StatusCode::GONE, HeaderMap::new(), String::new());
    };
    let mut headers = HeaderMap::new();
    let deadline = chrono::Utc::now().timestamp_millis() + 30_000;
    let values = [
        ("lambda-runtime-aws-request-id", id),
        ("lambda-runtime-deadline-ms", deadline.to_string()),
        (
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:us-east-1:123456789012:function:cold-start".to_owned(),
        ),
        ("lambda-runtime-trace-id", "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0".to_owned()),
        ("content-type", "application/json".to_owned()),
    ];
    for (name, value) in values {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    (StatusCode::OK, headers, event)
}

async fn response(State(shared): State<Arc<Shared>>, Path(id): Path<String>, body: String) -> StatusCode {
    shared.answers.send((id, Ok(body), Instant::now())).await.ok();
    StatusCode::ACCEPTED
}

async fn error(State(shared): State<Arc<Shared>>, Path(id): Path<String>, body: String) -> StatusCode {
    shared.answers.send((id, Err(body), Instant::now())).await.ok();
    StatusCode::ACCEPTED
}

async fn init_error(body: String) -> StatusCode {
    eprintln!("init error: {body}");
    StatusCode::ACCEPTED
}
