//! A local gateway in process, on a loopback port, with its own temporary data dir, on the
//! backend `E2E_BACKEND` names: `sqlite` (default) or `aws` (DynamoDB and SES on moto, fresh
//! tables and sender identity per gateway, pushes through the Management API).

use std::collections::HashMap;
use std::sync::Arc;

use local_gateway::{AwsBackend, Backend, Gateway, GatewayConfig};
use reqwest::header::{HeaderMap, SET_COOKIE};
use serde_json::Value;
use shared::config::Tables;
use shared::ports::Stores;
use tempfile::TempDir;

/// A password every test account uses (tests never depend on its value being secret).
pub const PASSWORD: &str = "correct horse battery staple";

/// Waits for the next text frame (bounded, so a missing frame fails instead of hanging); `None`
/// once the socket closes.
pub async fn next_text(socket: &mut Socket) -> Option<String> {
    use futures::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        let frame = tokio::time::timeout(std::time::Duration::from_secs(5), socket.next());
        match frame.await.expect("a frame within 5 s") {
            Some(Ok(Message::Text(text))) => return Some(text.to_string()),
            Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
            Some(Ok(_)) => {}
        }
    }
}

/// Which adapters a test gateway runs on.
#[derive(Debug, Clone)]
pub enum Mode {
    /// SQLite file and outbox folder.
    Sqlite,
    /// DynamoDB and SES on moto: these tables, this sender.
    Aws {
        /// The gateway's tables (kept across restarts).
        tables: Box<Tables>,
        /// Its sender address, on a domain of its own (to find its mail among moto's).
        sender: String,
        /// Where its SDK calls go instead of moto, with production timeouts and retries.
        endpoint: Option<String>,
    },
}

impl Mode {
    fn from_env() -> Self {
        match std::env::var("E2E_BACKEND").as_deref() {
            Ok("aws") => {
                let unique = uuid::Uuid::new_v4().simple().to_string();
                Self::Aws {
                    tables: Box::new(Tables::with_prefix(&format!("gw{unique}"))),
                    sender: format!("support@{unique}.example"),
                    endpoint: None,
                }
            }
            Ok("sqlite") | Err(_) => Self::Sqlite,
            Ok(other) => panic!("E2E_BACKEND={other}: expected sqlite or aws"),
        }
    }
}

/// A message the gateway's mail transport accepted.
#[derive(Debug, Clone)]
pub struct SentMail {
    /// The `To:` address.
    pub to: String,
    /// The MIME message.
    pub raw: String,
}

/// A gateway for one test.
pub struct TestGateway {
    gateway: Option<Gateway>,
    dir: TempDir,
    settings: HashMap<String, String>,
    /// The backend it runs on.
    pub mode: Mode,
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
        Self::start_in(Mode::from_env(), settings).await
    }

    /// A gateway on the AWS adapters whose SDK calls go to `endpoint` (a fault-injecting proxy in
    /// front of moto), with the production timeouts and retries.
    pub async fn start_behind(endpoint: &str, settings: &[(&str, &str)]) -> Self {
        let unique = uuid::Uuid::new_v4().simple().to_string();
        let mode = Mode::Aws {
            tables: Box::new(Tables::with_prefix(&format!("gw{unique}"))),
            sender: format!("support@{unique}.example"),
            endpoint: Some(endpoint.to_owned()),
        };
        Self::start_in(mode, settings).await
    }

    async fn start_in(mode: Mode, settings: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        // Every test client comes from 127.0.0.1, so the per-address allowances would count all
        // of a test's users as one visitor; a test of those limits sets them itself.
        let mut settings: HashMap<String, String> =
            [("REGISTRATIONS_PER_ADDRESS", "1000"), ("LOGINS_PER_ADDRESS", "1000")]
                .into_iter()
                .chain(settings.iter().copied())
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
        if let Mode::Aws { sender, .. } = &mode {
            settings.insert("MAIL_FROM".into(), format!("Support <{sender}>"));
        }
        let gateway = launch(&dir, &settings, &mode, true).await;
        let url = gateway.url();
        Self { gateway: Some(gateway), dir, settings, mode, url, http: reqwest::Client::new() }
    }

    /// Stops the gateway and starts a new one on the same data dir (as after a restart).
    pub async fn restart(&mut self) {
        if let Some(g) = self.gateway.take() {
            g.stop().await.expect("stop");
        }
        let gateway = launch(&self.dir, &self.settings, &self.mode, false).await;
        self.url = gateway.url();
        self.gateway = Some(gateway);
    }

    /// The gateway's stores, opened separately (to look at or plant state).
    pub fn stores(&self) -> Stores {
        match &self.mode {
            Mode::Sqlite => Stores::single(Arc::new(
                shared::adapters::sqlite::SqliteStore::open(&self.dir.path().join("app.db")).expect("sqlite"),
            )),
            Mode::Aws { tables, .. } => Stores::single(Arc::new(
                shared::adapters::dynamodb::DynamoStore::new(crate::moto::client(), (**tables).clone()),
            )),
        }
    }

    /// Every mail the gateway sent (outbox files, or what SES on moto accepted from its sender),
    /// sorted by recipient and content.
    pub async fn mails(&self) -> Vec<SentMail> {
        let mut mails = self.mails_as_sent().await;
        mails.sort_by(|a, b| a.to.cmp(&b.to).then(a.raw.cmp(&b.raw)));
        mails
    }

    /// Every mail the gateway sent, oldest first.
    pub async fn mails_as_sent(&self) -> Vec<SentMail> {
        let raws: Vec<String> = match &self.mode {
            Mode::Sqlite => {
                let mut files: Vec<(std::time::SystemTime, std::path::PathBuf)> =
                    std::fs::read_dir(self.dir.path().join("outbox"))
                        .map(|entries| {
                            entries
                                .map(|e| e.expect("entry").path())
                                .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                                .map(|p| {
                                    (std::fs::metadata(&p).and_then(|m| m.modified()).expect("mtime"), p)
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                files.sort();
                files.into_iter().map(|(_, p)| std::fs::read_to_string(p).expect("eml")).collect()
            }
            // moto lists them in the order it accepted them.
            Mode::Aws { sender, .. } => crate::moto::sent_raw_mail(sender)
                .await
                .into_iter()
                .filter_map(|m| m["raw_data"].as_str().map(str::to_owned))
                .collect(),
        };
        raws.into_iter()
            .map(|raw| {
                let to = raw
                    .lines()
                    .find_map(|l| l.strip_prefix("To: "))
                    .map(|t| t.trim().to_owned())
                    .unwrap_or_default();
                SentMail { to, raw }
            })
            .collect()
    }

    /// The mails about tickets: every mail but the account's own link mails (verification, reset).
    pub async fn ticket_mails(&self) -> Vec<SentMail> {
        let link = |m: &SentMail| {
            let text = crate::decoded(&m.raw);
            text.contains("/verify-email?token=") || text.contains("/reset-password?token=")
        };
        self.mails().await.into_iter().filter(|m| !link(m)).collect()
    }

    /// Makes the mail service refuse every mail: the outbox folder becomes a file, or the SES
    /// sender identity is deleted.
    pub async fn break_mail(&self) {
        match &self.mode {
            Mode::Sqlite => {
                let outbox = self.dir.path().join("outbox");
                let _ = std::fs::remove_dir_all(&outbox);
                std::fs::write(&outbox, b"not a folder").expect("block the outbox");
            }
            Mode::Aws { sender, .. } => {
                let domain = sender.split('@').nth(1).expect("sender domain");
                crate::moto::ses()
                    .delete_email_identity()
                    .email_identity(domain)
                    .send()
                    .await
                    .expect("delete");
            }
        }
    }

    /// Undoes [`Self::break_mail`].
    pub async fn heal_mail(&self) {
        match &self.mode {
            Mode::Sqlite => std::fs::remove_file(self.dir.path().join("outbox")).expect("unblock the outbox"),
            Mode::Aws { sender, .. } => {
                let domain = sender.split('@').nth(1).expect("sender domain");
                crate::moto::ses()
                    .create_email_identity()
                    .email_identity(domain)
                    .send()
                    .await
                    .expect("create");
            }
        }
    }

    /// Everything the backend stores, as bytes to search (files, or every table's items).
    pub async fn stored_bytes(&self) -> Vec<u8> {
        match &self.mode {
            Mode::Sqlite => {
                let mut all = Vec::new();
                for entry in std::fs::read_dir(self.dir.path()).expect("data dir") {
                    let path = entry.expect("entry").path();
                    if path.is_file() {
                        all.extend(std::fs::read(path).expect("file"));
                    }
                }
                all
            }
            Mode::Aws { tables, .. } => {
                let client = crate::moto::client();
                let mut all = Vec::new();
                for spec in shared::adapters::dynamodb::schema::specs(tables) {
                    let items = client.scan().table_name(spec.name).send().await.expect("scan");
                    all.extend(format!("{:?}", items.items()).into_bytes());
                }
                all
            }
        }
    }

    /// Every stored row or item, one string each, across every table of the backend.
    pub async fn stored_rows(&self) -> Vec<String> {
        match &self.mode {
            Mode::Sqlite => {
                let db = rusqlite::Connection::open(self.dir.path().join("app.db")).expect("sqlite");
                let mut names =
                    db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").expect("tables");
                let names: Vec<String> =
                    names.query_map([], |r| r.get(0)).expect("tables").map(|n| n.expect("name")).collect();
                let mut rows = Vec::new();
                for table in names {
                    let mut select = db.prepare(&format!("SELECT * FROM \"{table}\"")).expect("select");
                    let columns = select.column_count();
                    let found = select
                        .query_map([], |r| {
                            let values: Vec<String> = (0..columns)
                                .map(|i| match r.get_ref(i) {
                                    Ok(
                                        rusqlite::types::ValueRef::Text(t)
                                        | rusqlite::types::ValueRef::Blob(t),
                                    ) => String::from_utf8_lossy(t).into_owned(),
                                    Ok(v) => format!("{v:?}"),
                                    Err(e) => e.to_string(),
                                })
                                .collect();
                            Ok(format!("{table}: {}", values.join(" | ")))
                        })
                        .expect("rows");
                    rows.extend(found.map(|r| r.expect("row")));
                }
                rows
            }
            Mode::Aws { tables, .. } => {
                let client = crate::moto::client();
                let mut rows = Vec::new();
                for spec in shared::adapters::dynamodb::schema::specs(tables) {
                    let items = client.scan().table_name(spec.name).send().await.expect("scan");
                    rows.extend(items.items().iter().map(|item| format!("{}: {item:?}", spec.name)));
                }
                rows
            }
        }
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

    /// POSTs JSON with this account's bearer token.
    pub async fn post_as(&self, who: &Account, path: &str, body: &Value) -> reqwest::Response {
        self.http.post(self.at(path)).bearer_auth(&who.access_token).json(body).send().await.expect("request")
    }

    /// GETs with this account's bearer token.
    pub async fn get_as(&self, who: &Account, path: &str) -> reqwest::Response {
        self.http.get(self.at(path)).bearer_auth(&who.access_token).send().await.expect("request")
    }

    /// The JSON body of [`Self::get_as`], whatever the status.
    pub async fn get_json(&self, who: &Account, path: &str) -> Value {
        self.get_as(who, path).await.json().await.expect("json")
    }

    /// Asks `content` in a new conversation (`POST /api/chat/messages`); returns its id.
    pub async fn start_conversation(&self, who: &Account, content: &str) -> String {
        let question = serde_json::json!({ "content": content });
        let body: Value =
            self.post_as(who, "/api/chat/messages", &question).await.json().await.expect("json");
        body["conversation_id"].as_str().expect("conversation_id").to_owned()
    }

    /// `POST /api/escalations` with this body and, if given, this `Idempotency-Key`.
    pub async fn escalate(&self, who: &Account, body: &Value, key: Option<&str>) -> reqwest::Response {
        let mut request =
            self.http.post(self.at("/api/escalations")).bearer_auth(&who.access_token).json(body);
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        request.send().await.expect("request")
    }

    /// Registers `email` with [`PASSWORD`] and returns the signed-in account.
    pub async fn register(&self, email: &str) -> Account {
        let response = self
            .post_json("/api/auth/register", &serde_json::json!({"email": email, "password": PASSWORD}))
            .await;
        assert_eq!(response.status(), 201, "register {email}");
        account(email, response).await
    }

    /// Registers `email` and confirms the address with the link the verification mail carries.
    pub async fn register_verified(&self, email: &str) -> Account {
        let account = self.register(email).await;
        self.verify(&account).await;
        account
    }

    /// The token of the latest link mail of `kind` (`verify-email`, `reset-password`) sent to
    /// `email`.
    pub async fn mailed_token(&self, email: &str, page: &str) -> String {
        let marker = format!("/{page}?token=");
        let mails = self.mails_as_sent().await;
        let mail = mails
            .iter()
            .rev()
            .filter(|m| m.to == email)
            .find(|m| crate::decoded(&m.raw).contains(&marker))
            .unwrap_or_else(|| panic!("no {page} mail to {email}"));
        crate::link_token(&mail.raw, &marker)
    }

    /// Confirms the account's address with the link of its latest verification mail.
    pub async fn verify(&self, account: &Account) {
        let token = self.mailed_token(&account.email, "verify-email").await;
        let response = self.post_json("/api/auth/email/verify", &serde_json::json!({ "token": token })).await;
        assert_eq!(response.status(), 204, "verify {}", account.email);
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

async fn launch(dir: &TempDir, settings: &HashMap<String, String>, mode: &Mode, first: bool) -> Gateway {
    let map = settings.clone();
    let backend = match mode {
        Mode::Sqlite => Backend::Sqlite,
        Mode::Aws { tables, endpoint, .. } => Backend::Aws(Box::new(AwsBackend {
            sdk: match endpoint {
                None => crate::moto::sdk_config(),
                Some(url) => crate::moto::production_sdk_config(url).await,
            },
            tables: (**tables).clone(),
            create_tables: first,
        })),
    };
    Gateway::start(GatewayConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        data_dir: dir.path().to_path_buf(),
        allowed_origins: Vec::new(),
        settings: Arc::new(move |k: &str| map.get(k).cloned()),
        backend,
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
