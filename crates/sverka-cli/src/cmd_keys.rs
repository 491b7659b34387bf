//! `sverka keys`: create a key, and build the signed submissions that register or revoke one.
//!
//! - `keys new --role R [--station ID | --district ID] [--name ID] --out FILE` writes a new
//!   Ed25519 private key (base64 of the 32-byte seed, the format `sverka simulate` writes) to a
//!   new file of mode 0600, and prints the public key: standard base64 (what `election.toml` and
//!   key entries hold), the C2SP signed-note verifier key, and the `[[keys]]` table to paste
//!   into `election.toml`.
//! - `keys register` and `keys revoke` build a `key_registration` or `key_revocation` submission
//!   (`docs/formats.md` §1.3) signed by a CEC admin key, and either write it as one line of a
//!   submissions file (`--out`, for `sverka import`) or POST it (`--post URL`).
//!
//! Private keys are read only from files that neither group nor others can read
//! ([`read_private_key`]); a key left readable may already be copied, and signing with it would
//! hide that.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use ed25519_dalek::SigningKey;
use sverka_model::election::KeyRecord;
use sverka_model::submission::{KeyRegistration, KeyRevocation, FORMAT_VERSION};
use sverka_model::{keys, Body, Payload, Role};
use sverka_tlog::note::Ed25519Verifier;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Create a private key file (mode 0600) and print its public key
    New(NewArgs),
    /// Build the admin-signed submission registering a key
    Register(RegisterArgs),
    /// Build the admin-signed submission revoking a key
    Revoke(RevokeArgs),
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum RoleArg {
    Machine,
    Operator,
    Observer,
    Admin,
}

impl From<RoleArg> for Role {
    fn from(role: RoleArg) -> Role {
        match role {
            RoleArg::Machine => Role::Machine,
            RoleArg::Operator => Role::Operator,
            RoleArg::Observer => Role::Observer,
            RoleArg::Admin => Role::Admin,
        }
    }
}

/// What a key is: its id, role and binding (a station for a scanner, a district for an operator).
#[derive(clap::Args)]
struct Binding {
    /// The key's role
    #[arg(long, value_enum)]
    role: RoleArg,
    /// The station a machine (scanner) key belongs to
    #[arg(long, conflicts_with = "district")]
    station: Option<String>,
    /// The district commission an operator key belongs to
    #[arg(long)]
    district: Option<String>,
}

#[derive(clap::Args)]
struct NewArgs {
    #[command(flatten)]
    binding: Binding,
    /// The key id (1 to 64 of a-z 0-9 - _ .); default: the file name of --out without extension
    #[arg(long, alias = "id")]
    name: Option<String>,
    /// The private key file to create (refuses to overwrite)
    #[arg(long)]
    out: PathBuf,
}

/// Who signs, for which election, with which sequence number, and where the result goes.
#[derive(clap::Args)]
struct Signing {
    /// The CEC admin's private key file
    #[arg(long)]
    admin: PathBuf,
    /// The admin key's id; default: the file name of --admin without extension
    #[arg(long)]
    admin_id: Option<String>,
    /// The election id (`id` of election.toml)
    #[arg(long)]
    election: String,
    /// The admin key's sequence number: above every number it signed before
    #[arg(long)]
    seq: u64,
    /// Write the submission as one line to this new file (for `sverka import`)
    #[arg(long, required_unless_present = "post", conflicts_with = "post")]
    out: Option<PathBuf>,
    /// POST the submission to this server (base URL, e.g. http://127.0.0.1:8080)
    #[arg(long)]
    post: Option<String>,
}

#[derive(clap::Args)]
struct RegisterArgs {
    #[command(flatten)]
    signing: Signing,
    #[command(flatten)]
    binding: Binding,
    /// The id of the key registered
    #[arg(long)]
    id: String,
    /// Its public key (base64 of 32 bytes), or use --key
    #[arg(long, required_unless_present = "key", conflicts_with = "key")]
    public_key: Option<String>,
    /// Its private key file, to take the public key from
    #[arg(long)]
    key: Option<PathBuf>,
}

#[derive(clap::Args)]
struct RevokeArgs {
    #[command(flatten)]
    signing: Signing,
    /// The id of the key revoked
    #[arg(long)]
    key_id: String,
    /// Why, in words (required: it is published)
    #[arg(long)]
    reason: String,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::New(args) => new_key(args),
        Command::Register(args) => register(args),
        Command::Revoke(args) => revoke(args),
    }
}

/// The key record `binding` describes, checked as admission will check it (`E113`).
fn key_record(id: &str, binding: &Binding, public_key: String) -> anyhow::Result<KeyRecord> {
    if !sverka_model::names::is_valid_id(id) {
        bail!("key id {id:?}: use 1 to 64 of a-z 0-9 - _ ., starting with a letter or digit");
    }
    let role: Role = binding.role.into();
    match (role, &binding.station, &binding.district) {
        (Role::Machine, Some(_), None) | (Role::Operator, None, Some(_)) => {}
        (Role::Observer | Role::Admin, None, None) => {}
        (Role::Machine, _, _) => bail!("a machine key needs --station (and no --district)"),
        (Role::Operator, _, _) => bail!("an operator key needs --district (and no --station)"),
        _ => bail!("observer and admin keys take neither --station nor --district"),
    }
    Ok(KeyRecord {
        id: id.to_string(),
        role,
        public_key,
        station: binding.station.clone(),
        district: binding.district.clone(),
    })
}

fn file_stem(path: &Path) -> anyhow::Result<String> {
    path.file_stem()
        .and_then(|s| s.to_str())
        .map(str::to_string)
        .with_context(|| format!("{}: cannot take a key id from this file name", path.display()))
}

fn new_key(args: NewArgs) -> anyhow::Result<ExitCode> {
    let id = match &args.name {
        Some(name) => name.clone(),
        None => file_stem(&args.out)?,
    };
    let key = keys::generate_private_key(&mut rand::rngs::OsRng);
    let public = keys::encode_public_key(&key.verifying_key());
    let record = key_record(&id, &args.binding, public.clone())?;
    let verifier = Ed25519Verifier::new(&id, key.verifying_key())
        .map_err(|e| anyhow::anyhow!("key id {id:?} as a note key name: {e}"))?;
    write_new_file(&args.out, format!("{}\n", keys::encode_private_key(&key)).as_bytes(), true)?;
    println!("wrote {} (private key, mode 0600)", args.out.display());
    println!("key id:       {id}");
    println!("public key:   {public}");
    println!("verifier key: {}", verifier.to_vkey());
    println!();
    println!("for election.toml:");
    print!("{}", keys_table(&record));
    Ok(ExitCode::SUCCESS)
}

/// The `[[keys]]` table of `election.toml` (docs/formats.md §2.8) for a record.
fn keys_table(record: &KeyRecord) -> String {
    let role = sverka_model::registry::role_name(record.role);
    let mut table = format!(
        "[[keys]]\nid = \"{}\"\nrole = \"{role}\"\npublic_key = \"{}\"\n",
        record.id, record.public_key
    );
    if let Some(station) = &record.station {
        table.push_str(&format!("station = \"{station}\"\n"));
    }
    if let Some(district) = &record.district {
        table.push_str(&format!("district = \"{district}\"\n"));
    }
    table
}

/// Creates `path` (never overwrites); mode 0600 for a secret.
fn write_new_file(path: &Path, bytes: &[u8], secret: bool) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if secret {
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut file = options.open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => {
            anyhow::anyhow!("{} already exists; refusing to overwrite it", path.display())
        }
        _ => anyhow::Error::new(e).context(format!("creating {}", path.display())),
    })?;
    file.write_all(bytes).with_context(|| format!("writing {}", path.display()))?;
    file.sync_all().with_context(|| format!("writing {}", path.display()))
}

/// Reads a private key file, refusing one that group or others may read (or that is not base64
/// of a 32-byte seed).
pub fn read_private_key(path: &Path) -> anyhow::Result<SigningKey> {
    let text = read_private_file(path)?;
    keys::decode_private_key(&text).with_context(|| {
        format!("{}: not a private key (base64 of a 32-byte Ed25519 seed)", path.display())
    })
}

/// Reads any private key file (a submission key, a witness key, ...) as text, refusing one that
/// group or others may read: it may already be copied, and signing with it would hide that.
pub fn read_private_file(path: &Path) -> anyhow::Result<String> {
    let metadata =
        std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            bail!(
                "{} is a private key readable by group or others (mode {mode:04o}); it may \
                 already be copied: make it private with `chmod 600 {}` (and revoke it if others \
                 could read it)",
                path.display(),
                path.display()
            );
        }
    }
    #[cfg(not(unix))]
    let _ = metadata;
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
}

fn register(args: RegisterArgs) -> anyhow::Result<ExitCode> {
    let public_key = match (&args.public_key, &args.key) {
        (Some(text), _) => {
            if keys::decode_public_key(text).is_none() {
                bail!("--public-key: not base64 of a 32-byte Ed25519 public key");
            }
            text.clone()
        }
        (None, Some(path)) => keys::encode_public_key(&read_private_key(path)?.verifying_key()),
        (None, None) => bail!("give --public-key or --key"),
    };
    let record = key_record(&args.id, &args.binding, public_key)?;
    let body = Body::KeyRegistration(KeyRegistration { key: record });
    sign_and_deliver(&args.signing, body)
}

fn revoke(args: RevokeArgs) -> anyhow::Result<ExitCode> {
    if args.reason.trim().is_empty() {
        bail!("--reason: a revocation must say why (it is published with the key)");
    }
    let body = Body::KeyRevocation(KeyRevocation { key_id: args.key_id, reason: args.reason });
    sign_and_deliver(&args.signing, body)
}

fn sign_and_deliver(signing: &Signing, body: Body) -> anyhow::Result<ExitCode> {
    let admin = read_private_key(&signing.admin)?;
    let signer = match &signing.admin_id {
        Some(id) => id.clone(),
        None => file_stem(&signing.admin)?,
    };
    let payload = Payload {
        v: FORMAT_VERSION,
        election: signing.election.clone(),
        signer,
        seq: signing.seq,
        time: None,
        body,
    };
    let bytes = payload.sign(&admin).to_bytes();
    match (&signing.out, &signing.post) {
        (Some(out), _) => {
            let mut line = bytes;
            line.push(b'\n');
            write_new_file(out, &line, false)?;
            println!("wrote {} (one submission; ingest it with `sverka import`)", out.display());
            Ok(ExitCode::SUCCESS)
        }
        (None, Some(url)) => post(url, &bytes),
        (None, None) => bail!("give --out FILE or --post URL"),
    }
}

/// POSTs one submission; prints the receipt, or the problem and exit 1.
fn post(base: &str, bytes: &[u8]) -> anyhow::Result<ExitCode> {
    let base = base.trim_end_matches('/');
    let url = if base.ends_with("/api/v1/submissions") {
        base.to_string()
    } else {
        format!("{base}/api/v1/submissions")
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into();
    let response = agent
        .post(&url)
        .header("content-type", "application/json")
        .send(bytes)
        .with_context(|| format!("posting to {url}"))?;
    let status = response.status().as_u16();
    let text = response.into_body().read_to_string().unwrap_or_default();
    match status {
        200 | 201 => {
            println!("{status} {text}");
            Ok(ExitCode::SUCCESS)
        }
        _ => {
            eprintln!("{url} answered {status}: {text}");
            Ok(ExitCode::from(1))
        }
    }
}
