//! `cargo run --release -p local-gateway -- [--listen ADDR] [--data-dir DIR] [--allowed-origin O]...`

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use clap::Parser;
use local_gateway::{Gateway, GatewayConfig};
use shared::config::ProcessEnv;

/// Plays API Gateway for the support backend on one machine, on SQLite.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:3000")]
    listen: SocketAddr,
    /// Directory for the database and the signing key (created if missing).
    #[arg(long, default_value = "./.data")]
    data_dir: PathBuf,
    /// Allowed browser origin (repeatable). Default: the gateway's own origin.
    #[arg(long = "allowed-origin", env = "ALLOWED_ORIGINS", value_delimiter = ',')]
    allowed_origins: Vec<String>,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    shared::telemetry::init_stderr();
    let gateway = Gateway::start(GatewayConfig {
        listen: args.listen,
        data_dir: args.data_dir,
        allowed_origins: args.allowed_origins,
        settings: Arc::new(ProcessEnv),
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
