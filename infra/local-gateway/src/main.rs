//! `cargo run --release -p local-gateway -- [--listen ADDR] [--data-dir DIR] [--allowed-origin O]...
//! [--backend sqlite|aws [--table-prefix P] [--create-tables]]`

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Parser, ValueEnum};
use local_gateway::{AwsBackend, Backend, Gateway, GatewayConfig};
use shared::config::{ProcessEnv, Tables};

/// Plays API Gateway for the support backend on one machine.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:3000")]
    listen: SocketAddr,
    /// Directory for the signing key (and, with the SQLite backend, the database and outbox).
    #[arg(long, default_value = "./.data")]
    data_dir: PathBuf,
    /// Allowed browser origin (repeatable). Default: the gateway's own origin.
    #[arg(long = "allowed-origin", env = "ALLOWED_ORIGINS", value_delimiter = ',')]
    allowed_origins: Vec<String>,
    /// Where state lives: an embedded SQLite file, or the AWS adapters (DynamoDB, SES, API
    /// Gateway Management) configured from the standard AWS environment (AWS_ENDPOINT_URL, ...).
    #[arg(long, value_enum, default_value_t = Store::Sqlite)]
    backend: Store,
    /// With `--backend aws`: table names `<P>-users`, `<P>-sessions`, ...; without it the names
    /// come from USERS_TABLE, SESSIONS_TABLE, ... exactly as the functions read them.
    #[arg(long)]
    table_prefix: Option<String>,
    /// With `--backend aws`: create missing tables (and, on a loopback endpoint such as moto,
    /// the SES identity of MAIL_FROM).
    #[arg(long)]
    create_tables: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum Store {
    Sqlite,
    Aws,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    shared::telemetry::init_stderr();
    let backend = match args.backend {
        Store::Sqlite => Backend::Sqlite,
        Store::Aws => Backend::Aws(Box::new(AwsBackend {
            sdk: shared::adapters::aws::sdk_config().await,
            tables: match &args.table_prefix {
                Some(prefix) => Tables::with_prefix(prefix),
                None => Tables::from_source(&ProcessEnv).context("table names (or use --table-prefix)")?,
            },
            create_tables: args.create_tables,
        })),
    };
    let gateway = Gateway::start(GatewayConfig {
        listen: args.listen,
        data_dir: args.data_dir,
        allowed_origins: args.allowed_origins,
        settings: Arc::new(ProcessEnv),
        backend,
    })
    .await?;
    println!("local-gateway listening on {}", gateway.url());
    shutdown_signal().await;
    eprintln!("local-gateway: shutting down");
    gateway.stop().await
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing the SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
