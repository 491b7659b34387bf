//! `sverka witness`: a cosigning witness (C2SP tlog-witness) for sverka logs, or any C2SP log.
//!
//! ```text
//! sverka witness keygen --out FILE [--name NAME]          new cosigning key; prints the verifier key
//! sverka witness serve --key FILE --state FILE [--listen ADDR] --log VKEY...
//! ```
//!
//! The protocol and the state are `sverka_tlog::witness` and `sverka_server::witness`; this module
//! only reads the flags and files.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use sverka_tlog::witness::Witness;
use sverka_tlog::{Cosigner, Ed25519Verifier};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Make a new cosigning key (Ed25519, tlog-cosignature type 0x04); prints its verifier key
    Keygen(KeygenArgs),
    /// Serve POST /add-checkpoint (C2SP tlog-witness) for the given logs
    Serve(ServeArgs),
}

#[derive(clap::Args)]
struct KeygenArgs {
    /// Where to write the private key (PRIVATE+KEY+… signed-note format, mode 0600); never
    /// overwritten
    #[arg(long)]
    out: PathBuf,
    /// The witness's key name, as verifiers will know it (e.g. witness.party.example)
    #[arg(long, default_value = "sverka-witness")]
    name: String,
}

#[derive(clap::Args)]
struct ServeArgs {
    /// The private key file written by `sverka witness keygen`
    #[arg(long)]
    key: PathBuf,
    /// The state file: the last cosigned size and root of each log (created if missing; it is
    /// the witness's memory, never delete it)
    #[arg(long)]
    state: PathBuf,
    /// The address to listen on
    #[arg(long, default_value = "127.0.0.1:8090")]
    listen: SocketAddr,
    /// A log's verifier key (its signed-note vkey, as in a publication's log.vkey), or a file
    /// holding one; repeat for several logs
    #[arg(long = "log", required = true, num_args = 1..)]
    logs: Vec<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::Keygen(args) => keygen(args),
        Command::Serve(args) => {
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            runtime.block_on(serve(args))
        }
    }
}

fn keygen(args: KeygenArgs) -> anyhow::Result<ExitCode> {
    let mut seed = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut random| std::io::Read::read_exact(&mut random, &mut seed))
        .context("reading 32 random bytes from /dev/urandom")?;
    let cosigner = match Cosigner::from_seed(&args.name, &seed) {
        Ok(cosigner) => cosigner,
        Err(e) => {
            eprintln!("sverka witness keygen: --name {:?}: {e}", args.name);
            return Ok(ExitCode::from(2));
        }
    };
    write_new_private(&args.out, &format!("{}\n", cosigner.to_skey()))?;
    println!("{}", cosigner.verifier().to_vkey());
    Ok(ExitCode::SUCCESS)
}

/// Creates `path` with mode 0600, refusing an existing file.
fn write_new_private(path: &Path, text: &str) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).with_context(|| {
        format!("creating {} (an existing key is never overwritten)", path.display())
    })?;
    file.write_all(text.as_bytes()).with_context(|| format!("writing {}", path.display()))?;
    file.sync_all().with_context(|| format!("syncing {}", path.display()))?;
    Ok(())
}

/// A `--log` value: a verifier key, or the path of a file holding one.
fn log_key(value: &str) -> anyhow::Result<Ed25519Verifier> {
    if let Ok(key) = Ed25519Verifier::from_vkey(value) {
        return Ok(key);
    }
    let path = Path::new(value);
    if !path.exists() {
        let error = Ed25519Verifier::from_vkey(value).err().map(|e| e.to_string());
        bail!("--log {value:?}: not a log verifier key ({}) nor a file", error.unwrap_or_default());
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ed25519Verifier::from_vkey(text.trim())
        .with_context(|| format!("{}: not a log verifier key (name+id+base64)", path.display()))
}

async fn serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let skey = std::fs::read_to_string(&args.key)
        .with_context(|| format!("reading the witness key {}", args.key.display()))?;
    let cosigner = Cosigner::from_skey(skey.trim()).with_context(|| {
        format!("{}: not a witness key from `sverka witness keygen`", args.key.display())
    })?;
    let logs = args.logs.iter().map(|value| log_key(value)).collect::<anyhow::Result<Vec<_>>>()?;
    let vkey = cosigner.verifier().to_vkey();
    let witness = Witness::new(cosigner, logs).context("--log")?;
    let origins: Vec<String> = witness.origins().map(str::to_owned).collect();
    let service = sverka_server::witness::WitnessService::open(witness, &args.state)
        .context("opening the witness state")?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let address = listener.local_addr()?;
    eprintln!("sverka witness: {vkey}");
    eprintln!(
        "sverka witness: cosigning {} on http://{address}/add-checkpoint",
        origins.join(", ")
    );
    sverka_server::witness::run(listener, service, crate::cmd_serve::shutdown_signal())
        .await
        .context("serving")?;
    eprintln!("sverka witness: stopped");
    Ok(ExitCode::SUCCESS)
}
