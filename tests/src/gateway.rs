//! A local gateway in process, on a loopback port, with its own temporary data dir.

use std::collections::HashMap;
use std::sync::Arc;

use local_gateway::{Gateway, GatewayConfig};
use reqwest::header::{HeaderMap, SET_COOKIE};
use serde_json::Value;
use tempfile::TempDir;

/// A password every test account uses (tests never depend on its value being secret).
pub const PASSWORD: &str = "correct horse battery staple";

/// A gateway for one test.
pub struct TestGateway {
    gateway: Option<Gateway>,
    dir: TempDir,
    settings: HashMap<String, String>,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// A client without a cookie jar: tests send cookies explicitly.
    pub http: reqwest::Client,
}

/// A signed-in account as a client holds it.
#[derive(Debug, Clone)]
pub struct Account {
    /// Email used.
    pub email: String,
    /// Bearer token.
    pub access_token: String,
    /// `name=value` of the session cookie, ready for a `Cookie` header.
    pub cookie: String,
    /// The user id.
    pub user_id: String,
}

impl TestGateway {
    /// A gateway with default settings.
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// A gateway with these function settings (e.g. `LOGIN_MAX_FAILURES`).
    pub async fn start_with(settings: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let settings: HashMap<String, String> =
            settings.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let gateway = launch(&dir, &settings).await;
        let url = gateway.url();
        Self { gateway: Some(gateway), dir, settings, url, http: reqwest::Client::new() }
    }

    /// Stops the gateway and starts a new one on the same data dir (as after a restart).
    pub async fn restart(&mut self) {
        if let Some(g) = self.gateway.take() {
            g.stop().await.expect("stop");
        }
        let gateway = launch(&self.dir, &self.settings).await;
        self.url = gateway.url();
        self.gateway = Some(gateway);
    }

    /// The running gateway.
    pub fn gateway(&self) -> &Gateway {
        self.gateway.as_ref().expect("gateway running")
    }

    /// The signing key the gateway generated (to forge otherwise-valid tokens).
    pub fn signing_key_pem(&self) -> String {
        std::fs::read_to_string(self.dir.path().join(local_gateway::keys::KEY_FILE)).expect("key file")
    }

    /// The data dir.
    pub fn data_dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// `url` + `path`.
    pub fn at(&self, path: &str) -> String {
        format!("{}{}", self.url, path)
    }

    /// POSTs JSON.
    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.http.post(self.at(path)).json(body).send().await.expect("request")
    }

    /// POSTs with only a session cookie (refresh, logout by cookie).
    pub async fn post_cookie(&self, path: &str, cookie: &str) -> reqwest::Response {
        self.http.post(self.at(path)).header("cookie", cookie).send().await.expect("request")
    }

    /// Registers `email` with [`PASSWORD`] and returns the signed-in account.
    pub async fn register(&self, email: &str) -> Account {
        let response = self
            .post_json("/api/auth/register", &serde_json::json!({"email": email, "password": PASSWORD}))
            .await;
        assert_eq!(response.status(), 201, "register {email}");
        account(email, response).await
    }

    /// Signs in `email` with [`PASSWORD`].
    pub async fn login(&self, email: &str) -> Account {
        let response = self
            .post_json("/api/auth/login", &serde_json::json!({"email": email, "password": PASSWORD}))
            .await;
        assert_eq!(response.status(), 200, "login {email}");
        account(email, response).await
    }

    /// `GET /api/auth/me` with this `Authorization` value.
    pub async fn me(&self, authorization: &str) -> reqwest::Response {
        self.http
            .get(self.at("/api/auth/me"))
            .header("authorization", authorization)
            .send()
            .await
            .expect("request")
    }
}

/// A connected WebSocket client.
pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

impl TestGateway {
    /// `ws://…/ws` with this query.
    pub fn ws_url(&self, query: &str) -> String {
        format!("{}/ws{query}", self.url.replacen("http://", "ws://", 1))
    }

    /// `POST /api/websocket/ticket` with this account's token.
    pub async fn mint_response(&self, account: &Account) -> reqwest::Response {
        self.http
            .post(self.at("/api/websocket/ticket"))
            .bearer_auth(&account.access_token)
            .send()
            .await
            .expect("request")
    }

    /// A fresh ticket for this account.
    pub async fn mint(&self, account: &Account) -> String {
        let response = self.mint_response(account).await;
        assert_eq!(response.status(), 201, "mint");
        let body: Value = response.json().await.expect("json");
        body["ticket"].as_str().expect("ticket").to_owned()
    }

    /// Opens `/ws` with these extra headers; the refusal's HTTP status on failure.
    pub async fn connect(&self, query: &str, headers: &[(&str, &str)]) -> Result<Socket, u16> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = self.ws_url(query).into_client_request().expect("ws request");
        for (name, value) in headers {
            request.headers_mut().insert(
                reqwest::header::HeaderName::from_bytes(name.as_bytes()).expect("name"),
                value.parse().expect("value"),
            );
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok((socket, _)) => Ok(socket),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => Err(response.status().as_u16()),
            Err(e) => panic!("websocket handshake failed unexpectedly: {e}"),
        }
    }

    /// Opens `/ws?ticket=…`.
    pub async fn connect_ticket(&self, ticket: &str) -> Result<Socket, u16> {
        self.connect(&format!("?ticket={ticket}"), &[]).await
    }
}

async fn launch(dir: &TempDir, settings: &HashMap<String, String>) -> Gateway {
    let map = settings.clone();
    Gateway::start(GatewayConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        data_dir: dir.path().to_path_buf(),
        allowed_origins: Vec::new(),
        settings: Arc::new(move |k: &str| map.get(k).cloned()),
    })
    .await
    .expect("gateway starts")
}

/// The session cookie (`name=value`) a response sets, if any.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").to_owned())
        .find(|nv| nv.starts_with("__Host-session=") && nv.len() > "__Host-session=".len())
}

async fn account(email: &str, response: reqwest::Response) -> Account {
    let cookie = session_cookie(response.headers()).expect("session cookie");
    let body: Value = response.json().await.expect("json");
    Account {
        email: email.to_owned(),
        access_token: body["access_token"].as_str().expect("access_token").to_owned(),
        cookie,
        user_id: body["user"]["id"].as_str().expect("user id").to_owned(),
    }
}
