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
//!
//! `cold-start invoke --moto URL FUNCTION EVENT_FILE` runs one function binary (by default the
//! debug one) with one event in the same world and prints its answer (`scripts/invoke`; see
//! `invoke.rs`). The world — tables, SES identity, user, keys, each function's environment — is
//! set up in one place for both: `world.rs`.

mod invoke;
mod runtime;
mod world;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use runtime::RuntimeApi;
use shared::ports::{Conversations, WsTickets};
use world::{Account, World};

/// Command line: the benchmark, or one of the subcommands.
#[derive(Parser)]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    bench: Args,
}

#[derive(Subcommand)]
enum Command {
    /// Invokes one function binary with one event (placeholders filled, setup events run first)
    /// and prints its answer; scripts/invoke builds, starts moto and calls this.
    Invoke(invoke::Args),
    /// Prints the function binaries `invoke` would run for this event: its own, then those of
    /// the events its setup runs first.
    Binaries(invoke::Target),
}

/// The benchmark's options.
#[derive(clap::Args)]
struct Args {
    /// moto (or any DynamoDB-protocol endpoint) on loopback.
    #[arg(long, env = "MOTO_ENDPOINT")]
    moto: Option<String>,
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
    /// Pass the functions' logs through to stderr (to see why one fails).
    #[arg(long)]
    show_logs: bool,
    /// A reference binary (`hello-ddb`, built from the baselines): started in turn with each
    /// function's runs, in the same environment, and each function's cold start reported as a
    /// ratio to its median (absolute milliseconds drift between runs on a shared machine).
    #[arg(long)]
    baseline: Option<PathBuf>,
    /// Give the functions their token keys in the environment instead of reading them from
    /// Secrets Manager (the template's way), to measure what the secrets cost at cold start.
    #[arg(long)]
    fixed_keys: bool,
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
    // Refused on SES's verdicts after the message is read from S3 and parsed, so a thousand
    // invocations write nothing.
    Function {
        name: "mail-inbound",
        event: "mail-inbound/reply-failed-dmarc.json",
        expect: r#""reason":"untrusted""#,
        tidy: false,
    },
];

/// One function's figures.
struct Figures {
    cold: Vec<Duration>,
    baseline: Vec<Duration>,
    first: Vec<Duration>,
    warm: Vec<Duration>,
    peak_rss_kib: u64,
    size: u64,
}

#[tokio::main]
async fn main() -> ExitCode {
    // The error's chain, without a backtrace: the function's own log says where it failed.
    run(Cli::parse()).await.unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        ExitCode::FAILURE
    })
}

async fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Some(Command::Invoke(args)) => {
            // Interrupted: return, so that the function processes are killed on drop.
            tokio::select! {
                code = invoke::run(args) => code,
                _ = interrupted() => bail!("interrupted"),
            }
        }
        Some(Command::Binaries(target)) => {
            println!("{}", target.binaries()?.join(" "));
            Ok(ExitCode::SUCCESS)
        }
        None => bench(cli.bench).await.map(|()| ExitCode::SUCCESS),
    }
}

/// SIGINT or SIGTERM.
async fn interrupted() {
    use tokio::signal::unix::{SignalKind, signal};
    match (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) {
        (Ok(mut int), Ok(mut term)) => {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        }
        _ => std::future::pending().await,
    }
}

async fn bench(args: Args) -> Result<()> {
    let moto = args.moto.as_deref().context("--moto URL (or MOTO_ENDPOINT) is required")?;
    let ratio_column = args.baseline.as_ref().map_or(String::new(), |b| {
        format!(" cold start ÷ {} |", b.file_name().unwrap_or_default().to_string_lossy())
    });
    println!(
        "| function | cold start p50 | p90 |{ratio_column} first invocation p50 | p90 | warm invocation p50 | peak RSS over {} | binary |",
        args.warm
    );
    println!("|---|---|---|{}---|---|---|---|---|", if args.baseline.is_some() { "---|" } else { "" });
    for f in FUNCTIONS.iter().filter(|f| args.only.is_empty() || args.only.iter().any(|o| o == f.name)) {
        // Fresh tables per function: moto copies every table on each transaction, so data left
        // by one function's thousand invocations would slow the next one's store calls.
        let mut world = World::create(moto, "cold", Account::Verified).await?;
        if args.fixed_keys {
            world.use_fixed_keys();
        }
        let binary = args.bin_dir.join(f.name);
        let reply_address = world.reply_address("tkt_00000000000000000000000000000000");
        let event = std::fs::read_to_string(args.events.join(f.event))
            .with_context(|| format!("reading events/{}", f.event))?
            .replace("${ACCESS_TOKEN}", &world.signed_in()?.access_token)
            .replace("${REPLY_ADDRESS}", &reply_address);
        // A received message's event delivers the `.eml` beside it, stored as SES stores it.
        let message = args.events.join(f.event).with_extension("eml");
        if message.is_file() {
            let raw = std::fs::read_to_string(&message)?.replace("${REPLY_ADDRESS}", &reply_address);
            let json: serde_json::Value = serde_json::from_str(&event)?;
            let id =
                json.pointer("/Records/0/ses/mail/messageId").and_then(|v| v.as_str()).unwrap_or_default();
            world.store_received(id, raw.as_bytes()).await?;
        }
        let figures = measure(
            &world,
            f,
            &binary,
            args.baseline.as_deref(),
            &event,
            args.runs,
            args.warm,
            args.show_logs,
        )
        .await;
        world.drop_tables().await?;
        let figures = figures?;
        let ratio = if figures.baseline.is_empty() {
            String::new()
        } else {
            let base = percentile(&figures.baseline, 50).as_secs_f64();
            format!(
                " {:.2} ({}) |",
                percentile(&figures.cold, 50).as_secs_f64() / base,
                ms(percentile(&figures.baseline, 50))
            )
        };
        println!(
            "| {} | {} | {} |{ratio} {} | {} | {} | {:.1} MB | {:.2} MB |",
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

/// What the benchmark changes in a function's environment: a thousand mints or bearer connects
/// a minute (the warm runs make that many; the template's default is 20).
fn bench_overrides(function: &str) -> &'static [(&'static str, &'static str)] {
    match function {
        "ws-ticket" | "ws-connect" => &[("WS_TICKETS_PER_MINUTE", "1000000")],
        _ => &[],
    }
}

#[allow(clippy::too_many_arguments, reason = "one call site, each argument named there")]
async fn measure(
    world: &World,
    f: &Function,
    binary: &Path,
    baseline: Option<&Path>,
    event: &str,
    runs: usize,
    warm: usize,
    logs: bool,
) -> Result<Figures> {
    let size = std::fs::metadata(binary)
        .with_context(|| format!("{} (build it: cargo build --release -p {})", binary.display(), f.name))?
        .len();
    let (mut cold, mut first, mut base) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        if let Some(reference) = baseline {
            let api = RuntimeApi::start().await?;
            let started = Instant::now();
            let mut child = world.spawn(f.name, reference, &api, bench_overrides(f.name), logs)?;
            let at = api
                .first_next()
                .await
                .with_context(|| format!("{} never asked for an event", reference.display()));
            child.kill().await.ok();
            base.push(at? - started);
        }
        let api = RuntimeApi::start().await?;
        let started = Instant::now();
        let mut child = world.spawn(f.name, binary, &api, bench_overrides(f.name), logs)?;
        let waited = api.first_next().await;
        let Some(at) = waited else {
            child.kill().await.ok();
            bail!("{} never asked for an event; run it by hand to see why", f.name);
        };
        cold.push(at - started);
        first.push(timed_invoke(world, &api, f, event).await?);
        child.kill().await.ok();
    }
    let api = RuntimeApi::start().await?;
    let mut child = world.spawn(f.name, binary, &api, bench_overrides(f.name), logs)?;
    api.first_next().await.context("no first next")?;
    let mut warm_times = Vec::with_capacity(warm);
    for _ in 0..warm {
        warm_times.push(timed_invoke(world, &api, f, event).await?);
    }
    let peak_rss_kib = peak_rss(child.id().context("child pid")?)?;
    child.kill().await.ok();
    Ok(Figures { cold, baseline: base, first, warm: warm_times, peak_rss_kib, size })
}

/// Hands one event to the function and waits for its answer, checking it; then tidies up.
async fn timed_invoke(world: &World, api: &RuntimeApi, f: &Function, event: &str) -> Result<Duration> {
    let (elapsed, response) = api.invoke(event.to_owned()).await?;
    if !response.replace(' ', "").contains(f.expect) {
        bail!("{}: unexpected response {response}", f.name);
    }
    if f.tidy {
        let user = &world.signed_in()?.record.profile.id;
        Conversations::delete_for_user(&*world.store, user).await?;
        WsTickets::delete_for_user(&*world.store, user).await?;
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
