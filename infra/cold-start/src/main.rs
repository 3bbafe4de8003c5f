//! The cold-start harness: plays the Lambda Runtime API on loopback and execs each function's
//! release binary the way Lambda does, with a production-like environment (DynamoDB and the
//! other SDK endpoints on a loopback moto, static credentials, no instance-metadata probing).
//!
//! Per function it measures, over `--runs` fresh processes: exec → the first
//! `GET /2018-06-01/runtime/invocation/next` (everything `main` does before serving, including
//! the store warm-up call), and the first invocation (event handed out → response posted). Then
//! one more process serves `--warm` invocations in a row, and its peak RSS (`VmHWM`) is read.
//! The events are the repository's own samples (`events/`), with a real token and session.
//!
//! `cold-start --moto http://127.0.0.1:5000 [--bin-dir target/release] [--runs 20] [--warm 1000]`
//! prints a Markdown table (medians and p90 in milliseconds).

mod runtime;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Parser;
use runtime::RuntimeApi;
use shared::adapters::dynamodb::{DynamoStore, schema};
use shared::auth::{PublicKeys, SessionPolicy, SigningKey, TokenIssuer};
use shared::config::Tables;
use shared::domain::{Email, UserId, UserProfile, UserRecord};
use shared::ports::{Conversations, UserStore, WsTickets};
use tokio::process::{Child, Command};

/// Command line.
#[derive(Parser)]
struct Args {
    /// moto (or any DynamoDB-protocol endpoint) on loopback.
    #[arg(long)]
    moto: String,
    /// Where the functions' release binaries are.
    #[arg(long, default_value = "target/release")]
    bin_dir: PathBuf,
    /// The sample events.
    #[arg(long, default_value = "events")]
    events: PathBuf,
    /// Fresh processes per function.
    #[arg(long, default_value_t = 20)]
    runs: usize,
    /// Invocations served by the one process whose peak RSS is reported.
    #[arg(long, default_value_t = 1000)]
    warm: usize,
    /// Only these functions (comma-separated).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Pass the functions' logs through (to see why one fails).
    #[arg(long)]
    show_logs: bool,
}

/// A function, the sample event it is invoked with, and what a correct answer looks like.
struct Function {
    name: &'static str,
    event: &'static str,
    expect: &'static str,
    /// Whether what each invocation writes is deleted before the next (outside the timing):
    /// moto copies every table on each transaction, so a thousand new conversations would
    /// make the store, not the function, the thing measured.
    tidy: bool,
}

const FUNCTIONS: &[Function] = &[
    Function { name: "login", event: "login/me.json", expect: r#""statusCode":200"#, tidy: false },
    Function { name: "ws-ticket", event: "ws-ticket/mint.json", expect: r#""statusCode":201"#, tidy: true },
    Function {
        name: "ws-connect",
        event: "ws-connect/connect-bearer.json",
        expect: r#""statusCode":200"#,
        tidy: false,
    },
    Function {
        name: "chat",
        event: "chat/post-new-conversation.json",
        expect: r#""statusCode":201"#,
        tidy: true,
    },
    Function {
        name: "escalation",
        event: "escalation/list-escalations.json",
        expect: r#""statusCode":200"#,
        tidy: false,
    },
    Function {
        name: "mail-retry",
        event: "mail-retry/scheduled-event.json",
        expect: r#""due":"#,
        tidy: false,
    },
];

/// One function's figures.
struct Figures {
    cold: Vec<Duration>,
    first: Vec<Duration>,
    warm: Vec<Duration>,
    peak_rss_kib: u64,
    size: u64,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    println!(
        "| function | cold start p50 | p90 | first invocation p50 | p90 | warm invocation p50 | peak RSS over {} | binary |",
        args.warm
    );
    println!("|---|---|---|---|---|---|---|---|");
    for f in FUNCTIONS.iter().filter(|f| args.only.is_empty() || args.only.iter().any(|o| o == f.name)) {
        // Fresh tables per function: moto copies every table on each transaction, so data left
        // by one function's thousand invocations would slow the next one's store calls.
        let world = World::create(&args.moto, args.show_logs).await?;
        let binary = args.bin_dir.join(f.name);
        let event = std::fs::read_to_string(args.events.join(f.event))
            .with_context(|| format!("reading events/{}", f.event))?
            .replace("${ACCESS_TOKEN}", &world.token);
        let figures = measure(&world, f, &binary, &event, args.runs, args.warm).await;
        world.drop_tables().await?;
        let figures = figures?;
        println!(
            "| {} | {} | {} | {} | {} | {} | {:.1} MB | {:.2} MB |",
            f.name,
            ms(percentile(&figures.cold, 50)),
            ms(percentile(&figures.cold, 90)),
            ms(percentile(&figures.first, 50)),
            ms(percentile(&figures.first, 90)),
            ms(percentile(&figures.warm, 50)),
            figures.peak_rss_kib as f64 / 1024.0,
            figures.size as f64 / 1_000_000.0,
        );
    }
    Ok(())
}

async fn measure(
    world: &World,
    f: &Function,
    binary: &Path,
    event: &str,
    runs: usize,
    warm: usize,
) -> Result<Figures> {
    let size = std::fs::metadata(binary)
        .with_context(|| format!("{} (build it: cargo build --release -p {})", binary.display(), f.name))?
        .len();
    let (mut cold, mut first) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let api = RuntimeApi::start().await?;
        let started = Instant::now();
        let mut child = world.spawn(f.name, binary, &api)?;
        let waited = api.first_next().await;
        let Some(at) = waited else {
            child.kill().await.ok();
            bail!("{} never asked for an event; run it by hand to see why", f.name);
        };
        cold.push(at - started);
        first.push(invoke(world, &api, f, event).await?);
        child.kill().await.ok();
    }
    let api = RuntimeApi::start().await?;
    let mut child = world.spawn(f.name, binary, &api)?;
    api.first_next().await.context("no first next")?;
    let mut warm_times = Vec::with_capacity(warm);
    for _ in 0..warm {
        warm_times.push(invoke(world, &api, f, event).await?);
    }
    let peak_rss_kib = peak_rss(child.id().context("child pid")?)?;
    child.kill().await.ok();
    Ok(Figures { cold, first, warm: warm_times, peak_rss_kib, size })
}

/// Hands one event to the function and waits for its answer, checking it; then tidies up.
async fn invoke(world: &World, api: &RuntimeApi, f: &Function, event: &str) -> Result<Duration> {
    let (elapsed, response) = api.invoke(event.to_owned()).await?;
    if !response.replace(' ', "").contains(f.expect) {
        bail!("{}: unexpected response {response}", f.name);
    }
    if f.tidy {
        Conversations::delete_for_user(&*world.store, &world.user).await?;
        WsTickets::delete_for_user(&*world.store, &world.user).await?;
    }
    Ok(elapsed)
}

/// `VmHWM` of a live process, in KiB.
fn peak_rss(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).context("no VmHWM")?;
    Ok(line.split_whitespace().nth(1).context("VmHWM value")?.parse()?)
}

fn percentile(samples: &[Duration], p: usize) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    sorted[((sorted.len() * p).div_ceil(100)).saturating_sub(1).min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

/// Tables on moto with one user and session, and the settings every function starts with.
struct World {
    store: Arc<DynamoStore>,
    user: UserId,
    env: Vec<(String, String)>,
    token: String,
    show_logs: bool,
}

impl World {
    async fn create(endpoint: &str, show_logs: bool) -> Result<Self> {
        let tables = Tables::with_prefix(&format!("cold{}", &uuid::Uuid::new_v4().simple().to_string()[..8]));
        let env = base_env(endpoint);
        // Region and credentials come from the environment (the bench script sets moto's).
        let sdk =
            aws_config::defaults(aws_config::BehaviorVersion::latest()).endpoint_url(endpoint).load().await;
        let store = Arc::new(DynamoStore::from_sdk(&sdk, tables.clone()));
        schema::create_tables(store.client(), &tables).await.context("creating tables on moto")?;

        let now = chrono::Utc::now();
        let profile = UserProfile {
            id: UserId::generate(),
            email: Email::parse("cold@example.com").expect("email"),
            display_name: None,
            created_at: now,
            email_verified: true,
        };
        let (_, session) = SessionPolicy::default().start(profile.clone(), now, None);
        let record = UserRecord {
            profile,
            password_hash: "$argon2id$unused".into(),
            verify_token: None,
            reset_token: None,
        };
        UserStore::create(&*store, &record, &session).await.context("writing the user")?;
        let (key, pem) = SigningKey::generate("cold-1")?;
        let jwks = PublicKeys::new([key.public_key().clone()])?.to_jwks();
        let issuer = TokenIssuer::new(key, "support-backend", "support-api", chrono::Duration::minutes(15));
        // Valid 15 minutes: all runs of all functions take well under that.
        let token = issuer.issue(&session.user.id, &session.id, now)?.token;

        let mut env = env;
        env.extend(
            [
                ("USERS_TABLE", tables.users.as_str()),
                ("SESSIONS_TABLE", &tables.sessions),
                ("RATE_LIMITS_TABLE", &tables.rate_limits),
                ("WS_TICKETS_TABLE", &tables.ws_tickets),
                ("CONNECTIONS_TABLE", &tables.connections),
                ("CONVERSATIONS_TABLE", &tables.conversations),
                ("SUPPORT_TICKETS_TABLE", &tables.support_tickets),
                ("AUTH_PUBLIC_KEYS", &jwks),
                ("AUTH_SIGNING_KEY", &pem),
                ("AUTH_SIGNING_KEY_ID", "cold-1"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
        );
        Ok(Self { store, user: session.user.id, env, token, show_logs })
    }

    /// Deletes the tables this world created.
    async fn drop_tables(&self) -> Result<()> {
        for spec in schema::specs(self.store.tables()) {
            self.store.client().delete_table().table_name(spec.name).send().await?;
        }
        Ok(())
    }

    /// Execs a function binary against this Runtime API, as Lambda's init does.
    fn spawn(&self, name: &str, binary: &Path, api: &RuntimeApi) -> Result<Child> {
        let logs = || if self.show_logs { Stdio::inherit() } else { Stdio::null() };
        let mut command = Command::new(binary);
        command
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("AWS_LAMBDA_RUNTIME_API", api.address())
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("_HANDLER", "bootstrap")
            .stdin(Stdio::null())
            .stdout(logs())
            .stderr(logs())
            .kill_on_drop(true);
        command.spawn().with_context(|| format!("exec {}", binary.display()))
    }
}

/// What Lambda sets, and what the template sets, with every endpoint on loopback.
fn base_env(endpoint: &str) -> Vec<(String, String)> {
    [
        ("AWS_REGION", "us-east-1"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_SESSION_TOKEN", "test"),
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/cold-start"),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "2026/01/09/[$LATEST]cold"),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand"),
        ("LAMBDA_TASK_ROOT", "/var/task"),
        ("TZ", ":UTC"),
        ("RUST_LOG", "info"),
        ("AUTH_ISSUER", "support-backend"),
        ("AUTH_AUDIENCE", "support-api"),
        ("ALLOWED_ORIGINS", "https://app.example.com"),
        ("WEBSOCKET_URL", "wss://ws123.execute-api.us-east-1.amazonaws.com/prod"),
        ("WEBSOCKET_MANAGEMENT_ENDPOINT", endpoint),
        ("WS_TICKETS_PER_MINUTE", "1000000"),
        ("MAIL_FROM", "Support <support@example.com>"),
        ("SUPPORT_EMAIL", "help@example.com"),
        ("PASSWORD_RESET_URL", "https://app.example.com/reset-password"),
        ("EMAIL_VERIFY_URL", "https://app.example.com/verify-email"),
    ]
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .to_vec()
}
