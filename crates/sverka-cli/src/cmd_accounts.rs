//! `sverka accounts`: the operator accounts of a data directory's commission workspace
//! (`DIR/workspace.sqlite`, see `sverka_server::auth`).
//!
//! - `accounts add DIR NAME --role ROLE [--district ID]` reads the password from the first line
//!   of standard input (never from the command line, where other users could see it);
//! - `accounts list DIR` prints every account with its role, and whether it is disabled or locked;
//! - `accounts disable DIR NAME` disables an account and ends its sessions;
//! - `accounts signing-key DIR --district ID --key-id ID --key FILE` gives the workspace the
//!   district operator key it signs agreed double entries with (copied to
//!   `DIR/workspace-keys/ID.key`, mode 0600); with `--cec` instead of `--district`, the CEC
//!   admin key it signs the recounts and annulments a CEC admin decides in the workspace with.
//!
//! Each change is an audit-log record naming the local user who ran the command.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use sverka_server::auth::{AccountRole, Auth};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Add an account; its password is read from the first line of standard input
    Add {
        /// The data directory
        dir: PathBuf,
        /// The account's name (a-z 0-9 - _ .)
        name: String,
        /// admin, operator, observer, auditor or read-only
        #[arg(long)]
        role: String,
        /// The district an operator account is bound to
        #[arg(long)]
        district: Option<String>,
    },
    /// List the accounts
    List {
        /// The data directory
        dir: PathBuf,
    },
    /// Disable an account and end its sessions
    Disable {
        /// The data directory
        dir: PathBuf,
        /// The account's name
        name: String,
    },
    /// Set the operator key the workspace signs a district's agreed protocols with
    SigningKey {
        /// The data directory
        dir: PathBuf,
        /// The district
        #[arg(long, required_unless_present = "cec", conflicts_with = "cec")]
        district: Option<String>,
        /// The CEC admin key instead (signs recounts and annulments decided in the workspace)
        #[arg(long)]
        cec: bool,
        /// The key's id as registered for the election (an operator key of that district, or an
        /// admin key with --cec)
        #[arg(long)]
        key_id: String,
        /// The private key file (base64 of the 32-byte seed, mode 0600)
        #[arg(long)]
        key: PathBuf,
    },
}

/// Who ran the command, for the audit log.
fn local_user() -> String {
    let user = std::env::var("USER").or_else(|_| std::env::var("LOGNAME"));
    format!("cli:{}", user.unwrap_or_else(|_| "unknown".into()))
}

fn open(dir: &std::path::Path) -> anyhow::Result<Auth> {
    if !dir.join("election.toml").exists() && !dir.is_dir() {
        bail!("{} is not a data directory (make one with sverka init)", dir.display());
    }
    Auth::open(dir).with_context(|| format!("opening the accounts of {}", dir.display()))
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::Add { dir, name, role, district } => {
            let role = match AccountRole::parse(&role, district.as_deref()) {
                Ok(role) => role,
                Err(e) => {
                    eprintln!("sverka accounts add: {e}");
                    return Ok(ExitCode::from(2));
                }
            };
            let auth = open(&dir)?;
            let mut password = String::new();
            std::io::stdin().lock().read_line(&mut password).context("reading the password")?;
            let password = password.trim_end_matches(['\r', '\n']);
            auth.add_account(&name, password, &role, &local_user())?;
            println!("added {name} ({role})");
        }
        Command::List { dir } => {
            let auth = open(&dir)?;
            println!("{:<24} {:<24} {:<10} created", "name", "role", "status");
            for account in auth.accounts()? {
                let status = if account.disabled {
                    "disabled"
                } else if account.locked_until.is_some() {
                    "locked"
                } else {
                    "active"
                };
                println!(
                    "{:<24} {:<24} {:<10} {}",
                    account.name,
                    account.role.to_string(),
                    status,
                    account.created_at
                );
            }
        }
        Command::Disable { dir, name } => {
            open(&dir)?.disable_account(&name, &local_user())?;
            println!("disabled {name}");
        }
        Command::SigningKey { dir, district, cec, key_id, key } => {
            let key = crate::cmd_keys::read_private_key(&key)?;
            let auth = open(&dir)?;
            let (scope, what) = match &district {
                Some(district) if !cec => (district.as_str(), format!("district {district}")),
                _ => (sverka_server::auth::CEC_SCOPE, "the CEC's recounts and annulments".into()),
            };
            auth.set_signing_key(scope, &key_id, &key, &local_user())?;
            println!(
                "{what}: signed with {key_id} ({})",
                sverka_model::keys::encode_public_key(&key.verifying_key())
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
