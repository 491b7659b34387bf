//! `sverka serve DIR [--listen ADDR] [--witness URL=VKEY]… [--witness-quorum N] [--witness-wait]
//! [--tls-cert PEM --tls-key PEM]`:
//! the API, the results site and the static publication of one data directory, with its
//! sequencer, and with witnesses its checkpoints cosigned (`sverka_server::witnessing`). Loopback
//! by default; stops cleanly on Ctrl-C or SIGTERM (requests in flight finish; every receipt
//! already sent is durable either way). Logs with `tracing` on stderr ([`init_logging`]);
//! `/metrics`, `/healthz` and `/readyz` for the operator (`sverka_server::ops`).

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
    /// A PostgreSQL URL (postgres://user@host/dbname) of a shared store: several nodes serve one
    /// log, one of them sequencing at a time (default: DIR's own database, see `sverka migrate`)
    #[arg(long)]
    database: Option<String>,
    /// A witness to cosign every new checkpoint: its URL (C2SP tlog-witness submission prefix),
    /// `=`, its verifier key (as `sverka witness keygen` prints it); repeat for each witness
    #[arg(long = "witness", value_name = "URL=VKEY", value_parser = parse_witness)]
    witnesses: Vec<sverka_server::witnessing::WitnessEndpoint>,
    /// Cosignatures a checkpoint needs to count as witnessed (default: every --witness)
    #[arg(long, value_name = "N")]
    witness_quorum: Option<usize>,
    /// Publish only checkpoints that reached the quorum (default: publish each at once and mark
    /// it unwitnessed until the quorum cosigned it)
    #[arg(long)]
    witness_wait: bool,
    /// Submission requests per client IP address: RATE/BURST (e.g. 1000/5000) or `off`; over it
    /// the answer is 429 with H009 [default: 1000/5000]
    #[arg(long, value_name = "RATE/BURST|off")]
    rate_per_ip: Option<String>,
    /// Submissions per signing key: RATE/BURST or `off`; over it the answer is 429 with H010
    /// [default: 200/5000]
    #[arg(long, value_name = "RATE/BURST|off")]
    rate_per_key: Option<String>,
    /// Serve HTTPS with this PEM certificate chain (leaf first); needs --tls-key
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert (keep it mode 0600)
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
}

fn parse_witness(value: &str) -> Result<sverka_server::witnessing::WitnessEndpoint, String> {
    sverka_server::witnessing::WitnessEndpoint::parse(value)
}

/// The server's configuration from the flags: the defaults, and the witnesses.
fn server_config(args: &Args) -> Result<sverka_server::Config, String> {
    let count = args.witnesses.len();
    let quorum = args.witness_quorum.unwrap_or(count);
    if quorum > count || (count > 0 && quorum == 0) {
        return Err(format!(
            "--witness-quorum {quorum} needs between 1 and {count} witnesses (--witness)"
        ));
    }
    if count == 0 && args.witness_wait {
        return Err("--witness-wait needs at least one --witness".into());
    }
    let defaults = sverka_server::Config::default();
    let rate = |flag: &str, value: &Option<String>, default| match value.as_deref() {
        None => Ok(default),
        Some("off") => Ok(None),
        Some(text) => text.parse().map(Some).map_err(|e| format!("--{flag}: {e}")),
    };
    let rate_per_ip = rate("rate-per-ip", &args.rate_per_ip, defaults.rate_per_ip)?;
    let rate_per_key = rate("rate-per-key", &args.rate_per_key, defaults.rate_per_key)?;
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            // A key others may read is refused, as for every private key sverka reads.
            let key_pem = crate::cmd_keys::read_private_file(key).map_err(|e| format!("{e:#}"))?;
            let cert_pem = std::fs::read(cert)
                .map_err(|e| format!("--tls-cert {}: cannot read it: {e}", cert.display()))?;
            let tls = sverka_server::tls::Tls::from_pem(&cert_pem, cert, key_pem.as_bytes(), key);
            Some(tls.map_err(|e| e.to_string())?)
        }
        _ => None,
    };
    Ok(sverka_server::Config {
        tls,
        rate_per_ip,
        rate_per_key,
        witnesses: args.witnesses.clone(),
        witness_quorum: quorum,
        witness_mode: if args.witness_wait {
            sverka_server::witnessing::WitnessMode::WaitForQuorum
        } else {
            sverka_server::witnessing::WitnessMode::PublishAndMark
        },
        ..defaults
    })
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let Some(Err(error)) = args.database.as_deref().map(sverka_store::Database::parse) {
        eprintln!("sverka serve: --database: {error}");
        return Ok(ExitCode::from(2));
    }
    let config = match server_config(&args) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("sverka serve: {message}");
            return Ok(ExitCode::from(2));
        }
    };
    init_logging();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(serve(args, config))
}

/// The server's log on stderr: `tracing` events filtered by `SVERKA_LOG` (default `info`; e.g.
/// `info,sverka::http=warn` leaves out the line per request), as key=value text or, with
/// `SVERKA_LOG_FORMAT=json`, one JSON object per line. Request bodies are never logged.
pub fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("SVERKA_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("SVERKA_LOG_FORMAT").is_ok_and(|format| format == "json");
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(false);
    // A second call (a test, or `sverka demo` after serving) keeps the first subscriber.
    let _ = if json { builder.json().try_init() } else { builder.try_init() };
}

/// Opens the store the way a server runs it: checkpoints are signed by the server's results task
/// (once per `Config::checkpoint_interval` while entries arrive), not after every batch.
/// `database`: a PostgreSQL URL to use instead of DIR's own database.
pub fn open_store(
    dir: &std::path::Path,
    database: Option<&str>,
) -> anyhow::Result<sverka_store::Store> {
    let database = database.map(sverka_store::Database::parse).transpose()?;
    let config = sverka_store::Config {
        checkpoint: sverka_store::CheckpointPolicy::Manual,
        database,
        ..Default::default()
    };
    sverka_store::Store::open_with(dir, config)
        .with_context(|| format!("opening {}", dir.display()))
}

async fn serve(args: Args, config: sverka_server::Config) -> anyhow::Result<ExitCode> {
    let store = open_store(&args.dir, args.database.as_deref())?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let address = listener.local_addr()?;
    let witnesses = config.witnesses.len();
    let scheme = if config.tls.is_some() { "https" } else { "http" };
    let state = sverka_server::AppState::new(store, config);
    eprintln!("sverka serve: {} on {scheme}://{address}/ (Ctrl-C stops)", args.dir.display());
    if witnesses > 0 {
        eprintln!("sverka serve: each checkpoint goes to {witnesses} witness(es)");
        tokio::spawn(sverka_server::witnessing::follow(state.clone()));
    }
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
