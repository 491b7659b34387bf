//! `sverka serve DIR [--listen ADDR]`: the API, the results site and the static publication of one
//! data directory, with its sequencer. Loopback by default; stops cleanly on Ctrl-C or SIGTERM
//! (requests in flight finish; every receipt already sent is durable either way).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

#[derive(clap::Args)]
pub struct Args {
    /// The data directory (made by `sverka init`)
    dir: PathBuf,
    /// The address to listen on (loopback unless told otherwise)
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// A PostgreSQL URL for a shared store (not supported yet: the embedded SQLite store only)
    #[arg(long)]
    database: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.database.is_some() {
        eprintln!(
            "sverka serve: --database is not supported yet; only the embedded store (DIR) is"
        );
        return Ok(ExitCode::from(2));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(serve(args))
}

/// Opens the store the way a server runs it: checkpoints are signed by the server's results task
/// (once per `Config::checkpoint_interval` while entries arrive), not after every batch.
pub fn open_store(dir: &std::path::Path) -> anyhow::Result<sverka_store::Store> {
    let config = sverka_store::Config {
        checkpoint: sverka_store::CheckpointPolicy::Manual,
        ..Default::default()
    };
    sverka_store::Store::open_with(dir, config)
        .with_context(|| format!("opening {}", dir.display()))
}

async fn serve(args: Args) -> anyhow::Result<ExitCode> {
    let store = open_store(&args.dir)?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let address = listener.local_addr()?;
    let state = sverka_server::AppState::new(store, sverka_server::Config::default());
    eprintln!("sverka serve: {} on http://{address}/ (Ctrl-C stops)", args.dir.display());
    sverka_server::run(listener, state, shutdown_signal()).await.context("serving")?;
    eprintln!("sverka serve: stopped");
    Ok(ExitCode::SUCCESS)
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}
