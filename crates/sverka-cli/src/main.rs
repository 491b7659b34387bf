//! The `sverka` binary: one subcommand per job of DESIGN.md's command contract.
//!
//! Each command lives in its own module and only wires arguments, files and progress bars to the
//! library crates; no business logic lives here. Exit codes: 0 ok, 1 verification or validation
//! failed, 2 usage error, 141 standard output was closed by its reader before the command finished
//! writing (`sverka ... | head`; 128 + SIGPIPE, what a shell reports for a writer killed by SIGPIPE).

use std::process::ExitCode;

/// mimalloc instead of the system allocator: entries are decoded on worker threads and dropped on
/// another, which glibc's allocator pays for in `malloc_consolidate` and chunk unlinking (a full
/// `sverka verify` of 4.15 million entries: 662 -> 512 CPU-seconds; BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

mod cmd_accounts;
mod cmd_allocate;
mod cmd_audit;
mod cmd_demo;
mod cmd_forensics;
mod cmd_import;
mod cmd_init;
mod cmd_keys;
mod cmd_loadtest;
mod cmd_migrate;
mod cmd_publish;
mod cmd_quarantine;
mod cmd_receipt;
mod cmd_reconcile;
mod cmd_results;
mod cmd_serve;
mod cmd_simulate;
mod cmd_verify;
mod cmd_witness;

/// sverka: open election results, from polling-station protocols to seats, on a verifiable log.
#[derive(Parser)]
#[command(name = "sverka", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Election night on an embedded store: simulate, ingest live over HTTP, serve the site
    Demo(cmd_demo::Args),
    /// Create a new data directory with its keys and the election as the log's first entry
    Init(cmd_init::Args),
    /// Bring a store's schema up to date, or move a data directory's log into PostgreSQL
    Migrate(cmd_migrate::Args),
    /// Generate a synthetic, deterministic election night (submissions, keys, planted defects)
    Simulate(cmd_simulate::Args),
    /// Ingest a file of submissions through the same validation as the API
    Import(cmd_import::Args),
    /// Serve the API, the results site and the static publication (and run the sequencer)
    Serve(cmd_serve::Args),
    /// Write the static publication (checkpoint, tiles, snapshots, blobs) to a directory
    Publish(cmd_publish::Args),
    /// Print tabulated results (json, csv or NIST SP 1500-100 cdf)
    Results(cmd_results::Args),
    /// Seat allocation only: one JSON object in, one JSON object out
    Allocate(cmd_allocate::Args),
    /// Compare every source with every other, per station
    Reconcile(cmd_reconcile::Args),
    /// Risk-limiting audit workflow
    Audit(cmd_audit::Args),
    /// Observers' full check of a publication; exit 1 on any failure
    Verify(cmd_verify::Args),
    /// Cosigning witness service
    Witness(cmd_witness::Args),
    /// Operator accounts of the commission workspace: add, list, disable, district signing key
    Accounts(cmd_accounts::Args),
    /// Create, register and revoke keys (scanners, operators, observers, CEC admins)
    Keys(cmd_keys::Args),
    /// List and inspect rejected submissions
    Quarantine(cmd_quarantine::Args),
    /// An entry's offline receipt: fetch it with its inclusion proof, or check one later
    Receipt(cmd_receipt::Args),
    /// Statistical anomaly flags on station-level results (never proof)
    Forensics(cmd_forensics::Args),
    /// Load test of a running server: N scanner clients and M readers, receipts checked at the end
    Loadtest(cmd_loadtest::Args),
}

fn main() -> ExitCode {
    // `sverka --version` also names the Ed25519 backend, which measurements depend on.
    let long_version =
        format!("{} (Ed25519: {})", env!("CARGO_PKG_VERSION"), sverka_model::keys::backend());
    let matches = Cli::command().long_version(long_version.leak() as &str).get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    if !cli.command.is_service() {
        exit_quietly_on_closed_stdout();
    }
    let result = match cli.command {
        Command::Simulate(args) => cmd_simulate::run(args),
        Command::Allocate(args) => cmd_allocate::run(args),
        Command::Demo(args) => cmd_demo::run(args),
        Command::Init(args) => cmd_init::run(args),
        Command::Migrate(args) => cmd_migrate::run(args),
        Command::Import(args) => cmd_import::run(args),
        Command::Serve(args) => cmd_serve::run(args),
        Command::Publish(args) => cmd_publish::run(args),
        Command::Results(args) => cmd_results::run(args),
        Command::Reconcile(args) => cmd_reconcile::run(args),
        Command::Audit(args) => cmd_audit::run(args),
        Command::Verify(args) => cmd_verify::run(args),
        Command::Witness(args) => cmd_witness::run(args),
        Command::Keys(args) => cmd_keys::run(args),
        Command::Accounts(args) => cmd_accounts::run(args),
        Command::Quarantine(args) => cmd_quarantine::run(args),
        Command::Receipt(args) => cmd_receipt::run(args),
        Command::Forensics(args) => cmd_forensics::run(args),
        Command::Loadtest(args) => cmd_loadtest::run(args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(1)
        }
    }
}

impl Command {
    /// The commands that run as services until stopped. They keep Rust's default of a panic in the
    /// one thread that failed to print, so a closed log pipe never takes the whole server down.
    fn is_service(&self) -> bool {
        matches!(self, Command::Serve(_) | Command::Witness(_) | Command::Demo(_))
    }
}

/// The exit status when standard output's reader went away: 128 + SIGPIPE (13).
const CLOSED_STDOUT_EXIT: i32 = 141;

/// The exit code of a command whose result went to standard output with `write_all` (which
/// returns the error where `println!` panics): 0 once `written` succeeded, 141 when the reader went
/// away first, like a `println!` that finds it gone (see [`exit_quietly_on_closed_stdout`]).
pub(crate) fn stdout_exit_code(written: std::io::Result<()>) -> std::io::Result<ExitCode> {
    match written {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
            Ok(ExitCode::from(CLOSED_STDOUT_EXIT as u8))
        }
        Err(e) => Err(e),
    }
}

/// `sverka ... | head`: Rust ignores SIGPIPE, so once `head` exits, `println!` panics with
/// "failed printing to stdout: Broken pipe". Setting SIGPIPE back to its default would need
/// `unsafe` (forbidden in this workspace) and would kill `sverka serve` when its log pipe closes, so
/// instead a command that writes its results to standard output ends quietly with status 141 at the
/// first print that finds the reader gone; every other panic goes to the default hook as before.
fn exit_quietly_on_closed_stdout() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        // std's `print_to` panics with "failed printing to stdout: {io::Error}"; EPIPE is 32 on
        // every Unix sverka runs on
        if message.starts_with("failed printing to stdout") && message.ends_with("(os error 32)") {
            std::process::exit(CLOSED_STDOUT_EXIT);
        }
        default_hook(info);
    }));
}
