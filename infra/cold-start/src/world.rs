//! The world a function binary runs in under the harness, written once for the benchmark and for
//! `invoke`: fresh tables on moto, the SES sender identity, the sample user with a session and a
//! real access token, and each function's environment as Lambda would give it — the variables
//! `template.yaml` sets for that function (with this world's values: loopback endpoints, a
//! generated key kept in moto's Secrets Manager as the stack keeps it, the sample events'
//! origin) plus the ones Lambda itself sets.

use std::os::fd::AsFd;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow};
use aws_sdk_sesv2::config::{Credentials, Region};
use chrono::{DateTime, Utc};
use shared::adapters::dynamodb::{DynamoStore, schema};
use shared::auth::secret::{MailToken, Secret};
use shared::auth::{PasswordHasher, PublicKeys, SessionPolicy, SigningKey, TokenIssuer};
use shared::config::Tables;
use shared::domain::{
    ConversationRecord, DisplayName, Email, Password, ReplyAddresses, SessionRecord, StoredToken,
    TicketRecord, TokenPurpose, UserId, UserProfile, UserRecord,
};
use shared::ports::{Admission, Conversations, SessionStore, UserStore, WsTickets};
use shared::services::minting_quota;
use tokio::process::{Child, Command};

use crate::runtime::RuntimeApi;

/// The functions, by binary name (`template.yaml`'s `Binary`).
pub const FUNCTIONS: [&str; 7] =
    ["login", "ws-ticket", "ws-connect", "chat", "escalation", "mail-retry", "mail-inbound"];

/// The account the sample events sign in as (`events/login/register.json`, `login.json`).
pub const SAMPLE_EMAIL: &str = "sample@example.com";
/// Its password.
pub const SAMPLE_PASSWORD: &str = "correct horse battery staple";
/// Its display name.
pub const SAMPLE_NAME: &str = "Sample User";
/// The browser origin every sample event sends (`AllowedOrigins`).
pub const ORIGIN: &str = "https://app.example.com";
/// `MailFromName`, `MailFromAddress`; the SES identity covering it is the domain
/// (`MailIdentityType: Domain`, the template's default).
pub const MAIL_FROM: &str = "Support <support@example.com>";
/// The verified SES identity.
pub const MAIL_IDENTITY: &str = "example.com";
/// The WebSocket API's URL as the sample events name it (`ws123`, stage `prod`).
pub const WEBSOCKET_URL: &str = "wss://ws123.execute-api.us-east-1.amazonaws.com/prod";
/// `InboundMailDomain`: replies by mail are on, so the functions that sign reply addresses read
/// the reply key's secret at cold start, as such a stack's do.
pub const REPLY_DOMAIN: &str = "reply.example.com";
/// The S3 action's object key prefix (`template.yaml`'s `ObjectKeyPrefix`).
pub const INBOUND_PREFIX: &str = "mail/";
/// The key id the login function signs with.
const KID: &str = "local-1";

/// Whether the sample user exists before the event, and whether its address is confirmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Account {
    /// No account yet (`login/register.json`).
    Absent,
    /// Registered, the verification link not yet followed: a live verification token.
    Unverified,
    /// Registered and confirmed.
    Verified,
}

/// The signed-in sample user.
pub struct SignedIn {
    /// The stored account.
    pub record: UserRecord,
    /// Its session.
    pub session: SessionRecord,
    /// A real access token for that session (15 minutes).
    pub access_token: String,
    /// The session cookie's value (`__Host-session`).
    pub session_token: String,
    /// The verification token mailed at registration, while unverified.
    pub verify_token: Option<String>,
}

/// Tables on moto, the sender identity, the keys, and (unless [`Account::Absent`]) the user.
pub struct World {
    /// The store over this world's tables.
    pub store: Arc<DynamoStore>,
    /// The sample user, signed in.
    pub user: Option<SignedIn>,
    endpoint: String,
    s3: aws_sdk_s3::Client,
    replies: ReplyAddresses,
    secrets: Names,
    /// The same key as a JWKS and a PEM, and whether the functions get it that way (fixed keys,
    /// as the local gateway has them) instead of from the secrets.
    fixed: (String, String),
    fixed_keys: bool,
}

/// What this world's stack would have made or been given: the secrets holding its keys
/// (`PublicKeysSecretName`, `SigningKeySecretName`, `InboundReplyKeySecretName`) and the
/// inbound bucket.
struct Names {
    public_keys: String,
    signing_key: String,
    reply_key: String,
    inbound_bucket: String,
}

impl World {
    /// Creates the tables (named `<prefix><random>-…`), verifies the sender identity in SES and
    /// writes the account.
    pub async fn create(endpoint: &str, prefix: &str, account: Account) -> Result<Self> {
        let name = format!("{prefix}{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
        let tables = Tables::with_prefix(&name);
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(endpoint)
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("test", "test", None, None, "cold-start"))
            .load()
            .await;
        let store = Arc::new(DynamoStore::from_sdk(&sdk, tables.clone()));
        schema::create_tables(store.client(), &tables)
            .await
            .with_context(|| format!("creating tables on moto at {endpoint}"))?;
        verify_sender(&aws_sdk_sesv2::Client::new(&sdk)).await?;

        let (key, pem) = SigningKey::generate(KID)?;
        let jwks = PublicKeys::new([key.public_key().clone()])?.to_jwks();
        let secrets = Names {
            public_keys: format!("{name}-public-keys"),
            signing_key: format!("{name}-signing-key"),
            reply_key: format!("{name}-reply-key"),
            inbound_bucket: format!("{name}-inbound"),
        };
        let sm = aws_sdk_secretsmanager::Client::new(&sdk);
        let signing = serde_json::json!({ "kid": KID, "pem": pem }).to_string();
        // 64 hex characters of fresh randomness, as the README's `openssl rand -hex 32` makes.
        let reply_key = Secret::generate().digest();
        for (name, value) in [
            (&secrets.public_keys, &jwks),
            (&secrets.signing_key, &signing),
            (&secrets.reply_key, &reply_key),
        ] {
            sm.create_secret()
                .name(name)
                .secret_string(value)
                .send()
                .await
                .with_context(|| format!("creating the secret {name} on moto"))?;
        }
        let s3 = s3_client(&sdk);
        s3.create_bucket()
            .bucket(&secrets.inbound_bucket)
            .send()
            .await
            .with_context(|| format!("creating the bucket {} on moto", secrets.inbound_bucket))?;
        let issuer = TokenIssuer::new(key, "support-backend", "support-api", chrono::Duration::minutes(15));
        let user = match account {
            Account::Absent => None,
            Account::Unverified | Account::Verified => {
                Some(sign_up(&store, &issuer, account == Account::Verified).await?)
            }
        };
        Ok(Self {
            store,
            user,
            endpoint: endpoint.to_owned(),
            s3,
            replies: ReplyAddresses::new(reply_key.as_bytes(), REPLY_DOMAIN),
            secrets,
            fixed: (jwks, pem),
            fixed_keys: false,
        })
    }

    /// Gives the functions the key in their environment instead of the secrets' names (the
    /// benchmark's `--fixed-keys`, to measure what reading the secrets adds to a cold start).
    pub fn use_fixed_keys(&mut self) {
        self.fixed_keys = true;
    }

    /// The signed-in user, or an error saying the event needs one.
    pub fn signed_in(&self) -> Result<&SignedIn> {
        self.user.as_ref().context("this event needs the sample user, and this setup has none")
    }

    /// The signed reply address of a ticket's mails, under this world's reply key.
    pub fn reply_address(&self, ticket_id: &str) -> String {
        self.replies.for_ticket(ticket_id)
    }

    /// Stores a received message as SES receiving's S3 action does: `mail/<message id>` in the
    /// inbound bucket.
    pub async fn store_received(&self, message_id: &str, raw: &[u8]) -> Result<()> {
        self.s3
            .put_object()
            .bucket(&self.secrets.inbound_bucket)
            .key(format!("{INBOUND_PREFIX}{message_id}"))
            .body(raw.to_vec().into())
            .send()
            .await
            .with_context(|| format!("storing {message_id} in the inbound bucket on moto"))?;
        Ok(())
    }

    /// Deletes the tables this world created.
    pub async fn drop_tables(&self) -> Result<()> {
        for spec in schema::specs(self.store.tables()) {
            self.store.client().delete_table().table_name(spec.name).send().await?;
        }
        Ok(())
    }

    /// A WebSocket ticket for the user's session, stored as `ws-ticket` stores one; `expired`
    /// makes one that ran out a second ago (still stored: DynamoDB's TTL is not prompt).
    pub async fn ws_ticket(&self, expired: bool) -> Result<String> {
        let user = self.signed_in()?;
        let now = Utc::now();
        let id = &user.record.profile.id;
        let ticket = Secret::generate();
        let expires_at =
            if expired { now - chrono::Duration::seconds(1) } else { now + chrono::Duration::minutes(5) };
        let record = TicketRecord {
            id: ticket.digest(),
            user_id: id.clone(),
            session_id: user.session.id.clone(),
            expires_at,
        };
        match WsTickets::create(&*self.store, &record, &minting_quota(id, 20, now)).await? {
            Admission::Admitted => Ok(ticket.expose().to_owned()),
            Admission::OverQuota => Err(anyhow!("ticket quota used up")),
        }
    }

    /// Another live session of the user (as a second sign-in opens): its public id, as
    /// `GET /api/auth/sessions` lists it.
    pub async fn other_session(&self) -> Result<String> {
        let user = self.signed_in()?;
        let (_, session) = SessionPolicy::default().start(
            user.record.profile.clone(),
            Utc::now(),
            Some("Mozilla/5.0 (another browser)".into()),
        );
        SessionStore::create(&*self.store, &session).await?;
        Ok(session.id.public_id())
    }

    /// A password-reset token, as the reset mail carries it.
    pub async fn reset_token(&self) -> Result<String> {
        let user = self.signed_in()?;
        let (token, stored) = mail_token(&user.record.profile.id, Utc::now() + chrono::Duration::hours(1));
        UserStore::set_token(&*self.store, &user.record, TokenPurpose::ResetPassword, &stored).await?;
        Ok(token)
    }

    /// Another user's conversation, `conv_foreign0000000000000000000`, which the
    /// `*-foreign-conversation.json` events name (the answer is 404, as for a missing one).
    pub async fn foreign_conversation(&self) -> Result<()> {
        let now = Utc::now();
        let foreign = ConversationRecord {
            id: "conv_foreign0000000000000000000".into(),
            user_id: UserId::from_trusted("usr_someone_else"),
            title: "Not yours".into(),
            created_at: now,
            updated_at: now,
            message_count: 0,
            open_ticket: None,
        };
        Conversations::append(&*self.store, &foreign, &[], 0).await?;
        Ok(())
    }

    /// The environment `function` starts with: Lambda's own variables, then the template's.
    pub fn env(&self, function: &str) -> Vec<(String, String)> {
        let memory = memory_size(function).to_string();
        let mut env: Vec<(String, String)> = [
            // What Lambda sets (the credentials are the role's; here moto's).
            ("AWS_REGION", "us-east-1"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_SESSION_TOKEN", "test"),
            ("AWS_LAMBDA_FUNCTION_NAME", function),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", &memory),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            ("AWS_LAMBDA_LOG_GROUP_NAME", &format!("/aws/lambda/{function}")),
            ("AWS_LAMBDA_LOG_STREAM_NAME", "2026/01/09/[$LATEST]local"),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand"),
            ("LAMBDA_TASK_ROOT", "/var/task"),
            ("_HANDLER", "bootstrap"),
            ("TZ", ":UTC"),
            // Not Lambda's: every AWS endpoint on the loopback moto, and no instance-metadata probe.
            ("AWS_ENDPOINT_URL", &self.endpoint),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .to_vec();
        let template = template_env(function, self.store.tables(), &self.endpoint, &self.secrets);
        env.extend(template.into_iter().map(|(k, v)| (k.to_owned(), v)));
        if self.fixed_keys && env.iter().any(|(k, _)| k == "AUTH_PUBLIC_KEYS_SECRET") {
            env.retain(|(k, _)| !k.starts_with("AUTH_") || !k.ends_with("_SECRET"));
            let (jwks, pem) = &self.fixed;
            env.push(("AUTH_PUBLIC_KEYS".into(), jwks.clone()));
            if function == "login" {
                env.push(("AUTH_SIGNING_KEY".into(), pem.clone()));
                env.push(("AUTH_SIGNING_KEY_ID".into(), KID.into()));
            }
        }
        env
    }

    /// Execs a function binary against this Runtime API, as Lambda's init does: only the
    /// function's environment (`overrides` last), its logs to this process's stderr or nowhere.
    pub fn spawn(
        &self,
        function: &str,
        binary: &Path,
        api: &RuntimeApi,
        overrides: &[(&str, &str)],
        logs: bool,
    ) -> Result<Child> {
        let logs = || -> Result<Stdio> {
            Ok(if logs {
                Stdio::from(std::io::stderr().as_fd().try_clone_to_owned()?)
            } else {
                Stdio::null()
            })
        };
        let mut command = Command::new(binary);
        command
            .env_clear()
            .envs(self.env(function))
            .envs(overrides.iter().copied())
            .env("AWS_LAMBDA_RUNTIME_API", api.address())
            .stdin(Stdio::null())
            .stdout(logs()?)
            .stderr(logs()?)
            .kill_on_drop(true);
        command.spawn().with_context(|| format!("exec {}", binary.display()))
    }
}

/// The variables `template.yaml` gives `function` (Globals, then its own), with this world's
/// values: the parameters at their defaults, `AllowedOrigins` the events' origin, the key
/// secrets created here, the tables and every endpoint on moto.
fn template_env(
    function: &str,
    tables: &Tables,
    endpoint: &str,
    secrets: &Names,
) -> Vec<(&'static str, String)> {
    let mut env: Vec<(&'static str, String)> = vec![
        ("RUST_LOG", "info".into()),
        ("AUTH_ISSUER", "support-backend".into()),
        ("AUTH_AUDIENCE", "support-api".into()),
        ("ALLOWED_ORIGINS", ORIGIN.into()),
        ("SESSION_COOKIE_SAMESITE", "Lax".into()),
        ("USERS_TABLE", tables.users.clone()),
        ("SESSIONS_TABLE", tables.sessions.clone()),
        ("RATE_LIMITS_TABLE", tables.rate_limits.clone()),
        ("WS_TICKETS_TABLE", tables.ws_tickets.clone()),
        ("CONNECTIONS_TABLE", tables.connections.clone()),
        ("CONVERSATIONS_TABLE", tables.conversations.clone()),
        ("SUPPORT_TICKETS_TABLE", tables.support_tickets.clone()),
        ("EVENTS_TABLE", tables.events.clone()),
        ("MAIL_FROM", MAIL_FROM.into()),
        ("SUPPORT_EMAIL", "help@example.com".into()),
        ("TICKET_PREFIX", "AB".into()),
        ("WEBSOCKET_URL", WEBSOCKET_URL.into()),
        // API Gateway's @connections endpoint; moto accepts every push.
        ("WEBSOCKET_MANAGEMENT_ENDPOINT", endpoint.into()),
        // The front door's proof header; the sample events come straight from API Gateway.
        ("FRONT_DOOR_SECRET", "front-door-secret-not-sent-by-the-events".into()),
    ];
    if !["mail-retry", "mail-inbound"].contains(&function) {
        env.extend([
            ("AUTH_PUBLIC_KEYS_SECRET", secrets.public_keys.clone()),
            ("KEYS_REFRESH_SECONDS", "300".into()),
        ]);
    }
    if ["chat", "escalation", "mail-inbound"].contains(&function) {
        env.extend([
            ("INBOUND_MAIL_DOMAIN", REPLY_DOMAIN.into()),
            ("INBOUND_REPLY_KEY_SECRET", secrets.reply_key.clone()),
        ]);
    }
    match function {
        "login" => env.extend([
            ("AUTH_SIGNING_KEY_SECRET", secrets.signing_key.clone()),
            ("PASSWORD_RESET_URL", format!("{ORIGIN}/reset-password")),
            ("EMAIL_VERIFY_URL", format!("{ORIGIN}/verify-email")),
            ("REGISTRATIONS_PER_ADDRESS", "10".into()),
            ("LOGINS_PER_ADDRESS", "30".into()),
            ("MAX_SESSIONS_PER_USER", "20".into()),
        ]),
        "ws-ticket" => env.push(("WS_TICKETS_PER_MINUTE", "20".into())),
        "ws-connect" => {
            env.extend([("MAX_SOCKETS_PER_USER", "10".into()), ("WS_TICKETS_PER_MINUTE", "20".into())])
        }
        "mail-inbound" => env.extend([
            ("INBOUND_MAIL_BUCKET", secrets.inbound_bucket.clone()),
            ("INBOUND_MAIL_PREFIX", INBOUND_PREFIX.into()),
            ("SUPPORT_AGENTS", String::new()),
            ("WEB_CLIENT_URL", ORIGIN.into()),
        ]),
        _ => {}
    }
    env
}

/// `MemorySize` in `template.yaml` (Globals 128).
fn memory_size(function: &str) -> u32 {
    match function {
        "login" => 1024,
        "chat" => 256,
        _ => 128,
    }
}

/// An S3 client on moto (path-style addresses: moto has no bucket subdomains).
fn s3_client(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(sdk).force_path_style(true).build())
}

/// The sender identity, verified as in production (`MailFromIdentity`): without it SES (and
/// moto) refuse every mail, and mails stay `queued`.
async fn verify_sender(ses: &aws_sdk_sesv2::Client) -> Result<()> {
    match ses.create_email_identity().email_identity(MAIL_IDENTITY).send().await {
        Ok(_) => Ok(()),
        Err(e) if e.as_service_error().is_some_and(|se| se.is_already_exists_exception()) => Ok(()),
        Err(e) => Err(anyhow!("verifying the SES identity {MAIL_IDENTITY} on moto: {e:?}")),
    }
}

/// A mailed token and what the account keeps of it.
fn mail_token(user: &UserId, expires_at: DateTime<Utc>) -> (String, StoredToken) {
    let token = MailToken::generate(user.clone());
    (token.expose(), StoredToken { digest: token.digest(), expires_at })
}

/// The sample account as registration writes it (argon2id hash of the sample password, one
/// session, and while unverified the verification token), and a real access token.
async fn sign_up(store: &DynamoStore, issuer: &TokenIssuer, verified: bool) -> Result<SignedIn> {
    let now = Utc::now();
    let profile = UserProfile {
        id: UserId::generate(),
        email: Email::parse(SAMPLE_EMAIL).map_err(|e| anyhow!("{SAMPLE_EMAIL}: {e:?}"))?,
        display_name: Some(DisplayName::parse(SAMPLE_NAME).map_err(|e| anyhow!("{SAMPLE_NAME}: {e}"))?),
        created_at: now,
        email_verified: verified,
    };
    let hasher = PasswordHasher::with_workers(1);
    let password = Password::parse(SAMPLE_PASSWORD.into()).map_err(|e| anyhow!("sample password {e}"))?;
    let password_hash = hasher.hash(hasher.reserve()?, &password).await?;
    let (verify_token, stored) = if verified {
        (None, None)
    } else {
        let (token, stored) = mail_token(&profile.id, now + chrono::Duration::hours(24));
        (Some(token), Some(stored))
    };
    let (session_token, session) =
        SessionPolicy::default().start(profile.clone(), now, Some("Mozilla/5.0".into()));
    let record = UserRecord { profile, password_hash, verify_token: stored, reset_token: None };
    UserStore::create(store, &record, &session).await.context("writing the user")?;
    let access_token = issuer.issue(&session.user.id, &session.id, now)?.token;
    Ok(SignedIn {
        record,
        session,
        access_token,
        session_token: session_token.expose().to_owned(),
        verify_token,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// The variables and memory size each function gets here are the ones the template gives
    /// it, when the test command has transformed the template (`TEMPLATE_JSON`, written by
    /// `scripts/check_template.py`).
    #[test]
    fn environment_matches_the_template() {
        let Ok(path) = std::env::var("TEMPLATE_JSON") else {
            eprintln!("TEMPLATE_JSON not set (scripts/test sets it): skipped");
            return;
        };
        let text = std::fs::read_to_string(&path).expect("the transformed template");
        let template: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        for function in FUNCTIONS {
            let logical = format!("{}Function", logical_name(function));
            let properties = &template["Resources"][&logical]["Properties"];
            let expected: BTreeSet<&str> = properties["Environment"]["Variables"]
                .as_object()
                .unwrap_or_else(|| panic!("{logical}'s variables in {path}"))
                .keys()
                .map(String::as_str)
                .collect();
            let ours: BTreeSet<&str> = template_env(
                function,
                &Tables::with_prefix("t"),
                "http://x",
                &Names {
                    public_keys: "p".into(),
                    signing_key: "s".into(),
                    reply_key: "r".into(),
                    inbound_bucket: "b".into(),
                },
            )
            .into_iter()
            .map(|(k, _)| k)
            .collect();
            assert_eq!(ours, expected, "{function}'s environment");
            let memory = properties["MemorySize"].as_u64().unwrap_or(128);
            assert_eq!(u64::from(memory_size(function)), memory, "{function}'s MemorySize");
        }
    }

    /// `ws-ticket` -> `WsTicket`.
    fn logical_name(function: &str) -> String {
        function
            .split('-')
            .map(|part| {
                let mut chars = part.chars();
                chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
            })
            .collect()
    }
}
