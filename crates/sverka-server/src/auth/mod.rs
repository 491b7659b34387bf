//! Operator accounts, sessions and the workspace's audit log (issue 12, "Operator
//! authentication"), kept in the data directory's own SQLite file `workspace.sqlite`, apart from
//! the log's store (which holds only what the log is).
//!
//! - Accounts: a name, an Argon2id password hash (PHC string, random 16-byte salt), a role
//!   ([`AccountRole`]: admin, district operator bound to one district, observer, auditor,
//!   read-only), and lock-out state: after [`MAX_FAILURES`] wrong passwords in a row the account
//!   is locked for [`LOCKOUT_SECS`]; a disabled account never signs in again.
//! - Sessions: a random 32-byte token in an `HttpOnly; SameSite=Strict` cookie (`Secure` when
//!   served over TLS), stored only as its SHA-256; each session has its own random CSRF token
//!   that every state-changing form must send back ([`Session::csrf_ok`]). Sessions end on logout,
//!   after [`IDLE_SECS`] without a request, and after [`SESSION_SECS`] in any case.
//! - The audit log: every sign-in (and failure), sign-out, account change, signing-key change and
//!   workspace action, with the account that did it. Protocols themselves are attributed in the
//!   log by their signed submissions; this log names the people behind each.
//! - The district signing keys ([`Auth::signing_key`]): the Ed25519 operator key the server signs
//!   a district's agreed double entries with, a private key file of mode 0600 under
//!   `DIR/workspace-keys/`, registered here by `sverka accounts signing-key`; and the CEC admin
//!   key (scope [`CEC_SCOPE`], `sverka accounts signing-key --cec`) that signs the recounts and
//!   annulments a CEC admin decides in the workspace.
//!
//! The workspace's own tables (entries, protocol states) live in the same file
//! ([`crate::workspace::db`]). Schema version: `PRAGMA user_version` = [`SCHEMA_VERSION`].
//!
//! This is the one place besides `sverka-store` that speaks SQL: accounts and sessions are not
//! part of the log, must not be published, and stay on embedded SQLite whatever store the log
//! uses.

pub mod pages;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use ed25519_dalek::SigningKey;
use rand::RngCore;
use rusqlite::{params, Connection, OptionalExtension};
use sha2::{Digest, Sha256};

/// The version of `workspace.sqlite`'s schema this code writes and reads (a version-1 file is
/// brought up to date on open: [`crate::workspace::db::migrate_from_1`]).
pub const SCHEMA_VERSION: i64 = 2;
/// The scope of the CEC administrator key in `signing_keys` (beside the districts' keys): the key
/// the workspace signs recounts and annulments with when a CEC admin acts on a district's
/// request. Not a valid district id (ids start with a letter or digit), so it cannot collide.
pub const CEC_SCOPE: &str = "_cec";
/// Wrong passwords in a row that lock an account.
pub const MAX_FAILURES: i64 = 5;
/// How long a locked account stays locked, in seconds.
pub const LOCKOUT_SECS: i64 = 15 * 60;
/// A session ends after this many seconds without a request.
pub const IDLE_SECS: i64 = 60 * 60;
/// A session ends after this many seconds in any case (a night shift).
pub const SESSION_SECS: i64 = 14 * 60 * 60;
/// The shortest password an account may have.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// The session cookie's name.
pub const SESSION_COOKIE: &str = "sverka_session";

/// What an account may do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccountRole {
    /// Manages the workspace: sees every district, resolves differences, reads the audit log.
    Admin,
    /// A district commission's operator: keys and resolves protocols of that district only.
    Operator { district: String },
    /// Reads every district's progress and review queues; writes nothing.
    Observer,
    /// Reads everything, the audit log included; writes nothing.
    Auditor,
    /// Reads progress and the projector view only.
    ReadOnly,
}

impl AccountRole {
    /// The role's name as stored and as `sverka accounts` takes it.
    pub fn name(&self) -> &'static str {
        match self {
            AccountRole::Admin => "admin",
            AccountRole::Operator { .. } => "operator",
            AccountRole::Observer => "observer",
            AccountRole::Auditor => "auditor",
            AccountRole::ReadOnly => "read-only",
        }
    }

    /// The role from its name and, for an operator, its district.
    pub fn parse(name: &str, district: Option<&str>) -> Result<AccountRole, AuthError> {
        let role = match (name, district) {
            ("admin", None) => AccountRole::Admin,
            ("operator", Some(d)) => AccountRole::Operator { district: d.to_string() },
            ("observer", None) => AccountRole::Observer,
            ("auditor", None) => AccountRole::Auditor,
            ("read-only", None) => AccountRole::ReadOnly,
            ("operator", None) => {
                return Err(AuthError::Invalid("an operator account needs --district".into()))
            }
            (_, Some(_)) if ["admin", "observer", "auditor", "read-only"].contains(&name) => {
                return Err(AuthError::Invalid(format!(
                    "only operator accounts are bound to a district, not {name}"
                )))
            }
            _ => {
                return Err(AuthError::Invalid(format!(
                    "no role {name:?}: admin, operator, observer, auditor or read-only"
                )))
            }
        };
        Ok(role)
    }

    /// The district an operator is bound to.
    pub fn district(&self) -> Option<&str> {
        match self {
            AccountRole::Operator { district } => Some(district),
            _ => None,
        }
    }

    /// Whether this role may read district `district`'s workspace pages.
    pub fn may_read_district(&self, district: &str) -> bool {
        match self {
            AccountRole::Operator { district: own } => own == district,
            _ => true,
        }
    }

    /// Whether this role may key protocols of district `district`.
    pub fn may_key(&self, district: &str) -> bool {
        matches!(self, AccountRole::Operator { district: own } if own == district)
    }

    /// Whether this role may resolve differences and correct protocols of `district` (the person
    /// must still differ from both entrants).
    pub fn may_resolve(&self, district: &str) -> bool {
        self.may_key(district) || *self == AccountRole::Admin
    }

    /// Whether this role may read the review queues.
    pub fn may_review(&self) -> bool {
        *self != AccountRole::ReadOnly
    }

    /// Whether this role may read the workspace's audit log.
    pub fn may_audit(&self) -> bool {
        matches!(self, AccountRole::Admin | AccountRole::Auditor)
    }
}

impl fmt::Display for AccountRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AccountRole::Operator { district } => write!(f, "operator of {district}"),
            other => f.write_str(other.name()),
        }
    }
}

/// One account, as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub role: AccountRole,
    pub disabled: bool,
    /// Unix seconds until which the account is locked, if it is.
    pub locked_until: Option<i64>,
    pub created_at: String,
}

/// A signed-in person.
#[derive(Clone, Debug)]
pub struct Session {
    pub account: String,
    pub role: AccountRole,
    /// The token every state-changing form sends back.
    pub csrf: String,
}

impl Session {
    /// Whether `sent` is this session's CSRF token (compared in constant time).
    pub fn csrf_ok(&self, sent: &str) -> bool {
        constant_time_eq(self.csrf.as_bytes(), sent.as_bytes())
    }
}

/// One audit-log record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRecord {
    pub id: i64,
    pub at: String,
    /// The account that acted (or tried to: a failed sign-in names the name typed).
    pub account: String,
    pub action: String,
    pub subject: String,
    pub detail: String,
}

/// Why signing in failed. The page says only "wrong name or password" for a wrong name, a
/// wrong password or a disabled account alike, and when a lock ends.
#[derive(Debug, PartialEq, Eq)]
pub enum LoginError {
    Wrong,
    Locked { until: i64 },
}

/// Errors of the accounts database.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("{path}: {source}")]
    Db { path: PathBuf, source: rusqlite::Error },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{0}")]
    Invalid(String),
    #[error("{path} has schema version {found}; this sverka reads version {SCHEMA_VERSION}")]
    Version { path: PathBuf, found: i64 },
}

/// The accounts database of one data directory. Calls block briefly (one SQLite connection
/// behind a mutex); password hashing blocks for tens of milliseconds, so handlers call
/// [`Auth::login`] on the blocking pool.
pub struct Auth {
    db: Mutex<Connection>,
    path: PathBuf,
    keys_dir: PathBuf,
    /// Whether cookies get `Secure` (the server is behind TLS).
    secure_cookies: AtomicBool,
    /// A hash to verify against when the name is unknown, so a wrong name takes as long as a
    /// wrong password.
    dummy_hash: String,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Auth({})", self.path.display())
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Constant-time comparison of two byte strings (their lengths are not secret).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// 32 random bytes from the OS, as lower-case hex.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// An Argon2id PHC hash of `password` with a fresh random salt.
pub fn hash_password(password: &str) -> String {
    let mut salt = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).expect("16 bytes is a valid salt");
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("Argon2id with default parameters hashes any password")
        .to_string()
}

fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .is_ok_and(|hash| Argon2::default().verify_password(password.as_bytes(), &hash).is_ok())
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS accounts (
  name TEXT PRIMARY KEY,
  password_hash TEXT NOT NULL,
  role TEXT NOT NULL,
  district TEXT,
  disabled INTEGER NOT NULL DEFAULT 0,
  failures INTEGER NOT NULL DEFAULT 0,
  locked_until INTEGER,
  created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
  token_sha256 BLOB PRIMARY KEY,
  account TEXT NOT NULL REFERENCES accounts(name),
  csrf TEXT NOT NULL,
  created INTEGER NOT NULL,
  last_seen INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at TEXT NOT NULL,
  account TEXT NOT NULL,
  action TEXT NOT NULL,
  subject TEXT NOT NULL,
  detail TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS signing_keys (
  district TEXT PRIMARY KEY,
  key_id TEXT NOT NULL,
  public_key TEXT NOT NULL,
  last_seq INTEGER NOT NULL DEFAULT 0
);
";

const NOW_TEXT: &str = "strftime('%Y-%m-%dT%H:%M:%fZ','now')";

impl Auth {
    /// Opens (creating on first use) `DIR/workspace.sqlite`.
    pub fn open(data_dir: &Path) -> Result<Auth, AuthError> {
        let path = data_dir.join("workspace.sqlite");
        let db_err = |source| AuthError::Db { path: path.clone(), source };
        let conn = Connection::open(&path).map_err(db_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(db_err)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(db_err)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(db_err)?;
        let found: i64 =
            conn.query_row("PRAGMA user_version", [], |row| row.get(0)).map_err(db_err)?;
        if found != 0 && found != 1 && found != SCHEMA_VERSION {
            return Err(AuthError::Version { path, found });
        }
        if found == 1 {
            crate::workspace::db::migrate_from_1(&conn).map_err(db_err)?;
        }
        conn.execute_batch(SCHEMA).map_err(db_err)?;
        conn.execute_batch(crate::workspace::db::SCHEMA).map_err(db_err)?;
        conn.pragma_update(None, "user_version", SCHEMA_VERSION).map_err(db_err)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
        }
        Ok(Auth {
            db: Mutex::new(conn),
            keys_dir: data_dir.join("workspace-keys"),
            path,
            secure_cookies: AtomicBool::new(false),
            dummy_hash: hash_password("not a password of anyone"),
        })
    }

    /// Runs `f` on the connection, mapping SQLite errors to this file.
    pub(crate) fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T, AuthError> {
        let mut conn = self.db.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut conn).map_err(|source| AuthError::Db { path: self.path.clone(), source })
    }

    /// Marks cookies `Secure` (call when the server is served over TLS).
    pub fn set_secure_cookies(&self, secure: bool) {
        self.secure_cookies.store(secure, Ordering::Relaxed);
    }

    pub fn secure_cookies(&self) -> bool {
        self.secure_cookies.load(Ordering::Relaxed)
    }

    /// Adds an account. `by` names who did it in the audit log.
    pub fn add_account(
        &self,
        name: &str,
        password: &str,
        role: &AccountRole,
        by: &str,
    ) -> Result<(), AuthError> {
        if !sverka_model::names::is_valid_id(name) {
            return Err(AuthError::Invalid(format!(
                "account name {name:?}: 1 to 64 of a-z 0-9 - _ ., starting with a letter or digit"
            )));
        }
        if password.chars().count() < MIN_PASSWORD_CHARS {
            return Err(AuthError::Invalid(format!(
                "the password is shorter than {MIN_PASSWORD_CHARS} characters"
            )));
        }
        let hash = hash_password(password);
        let added = self.with(|conn| {
            let tx = conn.transaction()?;
            let exists: bool = tx.query_row(
                "SELECT EXISTS(SELECT 1 FROM accounts WHERE name = ?1)",
                [name],
                |row| row.get(0),
            )?;
            if exists {
                return Ok(false);
            }
            tx.execute(
                &format!(
                    "INSERT INTO accounts (name, password_hash, role, district, created_at)
                     VALUES (?1, ?2, ?3, ?4, {NOW_TEXT})"
                ),
                params![name, hash, role.name(), role.district()],
            )?;
            audit_in(&tx, by, "account.add", name, &role.to_string())?;
            tx.commit()?;
            Ok(true)
        })?;
        if !added {
            return Err(AuthError::Invalid(format!("account {name} exists already")));
        }
        Ok(())
    }

    /// Every account, by name.
    pub fn accounts(&self) -> Result<Vec<Account>, AuthError> {
        let rows = self.with(|conn| {
            let mut statement = conn.prepare(
                "SELECT name, role, district, disabled, locked_until, created_at
                 FROM accounts ORDER BY name",
            )?;
            let rows = statement.query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, Option<String>>(2)?,
                    row.get::<_, bool>(3)?,
                    row.get::<_, Option<i64>>(4)?,
                    row.get::<_, String>(5)?,
                ))
            })?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })?;
        let now = now();
        rows.into_iter()
            .map(|(name, role, district, disabled, locked_until, created_at)| {
                Ok(Account {
                    role: AccountRole::parse(&role, district.as_deref())?,
                    name,
                    disabled,
                    locked_until: locked_until.filter(|&t| t > now),
                    created_at,
                })
            })
            .collect()
    }

    /// Disables an account and ends its sessions.
    pub fn disable_account(&self, name: &str, by: &str) -> Result<(), AuthError> {
        let changed = self.with(|conn| {
            let tx = conn.transaction()?;
            let changed = tx.execute("UPDATE accounts SET disabled = 1 WHERE name = ?1", [name])?;
            tx.execute("DELETE FROM sessions WHERE account = ?1", [name])?;
            if changed > 0 {
                audit_in(&tx, by, "account.disable", name, "")?;
            }
            tx.commit()?;
            Ok(changed)
        })?;
        if changed == 0 {
            return Err(AuthError::Invalid(format!("no account {name}")));
        }
        Ok(())
    }

    /// Checks a name and password; on success starts a session and returns its token. Every
    /// attempt is in the audit log; [`MAX_FAILURES`] failures in a row lock the account.
    pub fn login(&self, name: &str, password: &str, from: &str) -> Result<String, LoginError> {
        let now = now();
        let row = self
            .with(|conn| {
                conn.query_row(
                    "SELECT password_hash, disabled, failures, locked_until FROM accounts
                     WHERE name = ?1",
                    [name],
                    |row| {
                        Ok((
                            row.get::<_, String>(0)?,
                            row.get::<_, bool>(1)?,
                            row.get::<_, i64>(2)?,
                            row.get::<_, Option<i64>>(3)?,
                        ))
                    },
                )
                .optional()
            })
            .map_err(|e| {
                eprintln!("sign-in: {e}");
                LoginError::Wrong
            })?;
        let Some((hash, disabled, failures, locked_until)) = row else {
            verify_password(password, &self.dummy_hash);
            self.audit(name, "login.fail", name, &format!("unknown account, from {from}"));
            return Err(LoginError::Wrong);
        };
        if let Some(until) = locked_until.filter(|&t| t > now) {
            self.audit(name, "login.locked", name, &format!("from {from}"));
            return Err(LoginError::Locked { until });
        }
        let good = verify_password(password, &hash);
        if !good || disabled {
            let failures = failures + 1;
            let lock = (failures >= MAX_FAILURES).then_some(now + LOCKOUT_SECS);
            let detail = match (disabled, lock) {
                (true, _) => format!("disabled account, from {from}"),
                (false, Some(_)) => {
                    format!("wrong password {failures} times; locked {LOCKOUT_SECS} s, from {from}")
                }
                (false, None) => format!("wrong password ({failures} in a row), from {from}"),
            };
            let _ = self.with(|conn| {
                let tx = conn.transaction()?;
                tx.execute(
                    "UPDATE accounts SET failures = ?2, locked_until = ?3 WHERE name = ?1",
                    params![name, if lock.is_some() { 0 } else { failures }, lock],
                )?;
                audit_in(&tx, name, "login.fail", name, &detail)?;
                tx.commit()
            });
            return Err(match lock {
                Some(until) => LoginError::Locked { until },
                None => LoginError::Wrong,
            });
        }
        let token = random_token();
        let csrf = random_token();
        self.with(|conn| {
            let tx = conn.transaction()?;
            tx.execute(
                "UPDATE accounts SET failures = 0, locked_until = NULL WHERE name = ?1",
                [name],
            )?;
            tx.execute(
                "INSERT INTO sessions (token_sha256, account, csrf, created, last_seen)
                 VALUES (?1, ?2, ?3, ?4, ?4)",
                params![token_hash(&token), name, csrf, now],
            )?;
            tx.execute(
                "DELETE FROM sessions WHERE last_seen < ?1 OR created < ?2",
                params![now - IDLE_SECS, now - SESSION_SECS],
            )?;
            audit_in(&tx, name, "login", name, &format!("from {from}"))?;
            tx.commit()
        })
        .map_err(|e| {
            eprintln!("sign-in: {e}");
            LoginError::Wrong
        })?;
        Ok(token)
    }

    /// The session of `token`, if it is live (and its account enabled); touches it.
    pub fn session(&self, token: &str) -> Result<Option<Session>, AuthError> {
        let now = now();
        let hash = token_hash(token);
        let found = self.with(|conn| {
            let row = conn
                .query_row(
                    "SELECT s.account, s.csrf, a.role, a.district FROM sessions s
                     JOIN accounts a ON a.name = s.account
                     WHERE s.token_sha256 = ?1 AND a.disabled = 0
                       AND s.last_seen >= ?2 AND s.created >= ?3",
                    params![hash, now - IDLE_SECS, now - SESSION_SECS],
                    |row| {
                        Ok((
                            row.get::<_, String>(0)?,
                            row.get::<_, String>(1)?,
                            row.get::<_, String>(2)?,
                            row.get::<_, Option<String>>(3)?,
                        ))
                    },
                )
                .optional()?;
            if row.is_some() {
                conn.execute(
                    "UPDATE sessions SET last_seen = ?2 WHERE token_sha256 = ?1",
                    params![hash, now],
                )?;
            }
            Ok(row)
        })?;
        let Some((account, csrf, role, district)) = found else { return Ok(None) };
        let role = AccountRole::parse(&role, district.as_deref())?;
        Ok(Some(Session { account, role, csrf }))
    }

    /// Ends the session of `token`.
    pub fn logout(&self, token: &str) -> Result<(), AuthError> {
        let hash = token_hash(token);
        self.with(|conn| {
            let tx = conn.transaction()?;
            let account: Option<String> = tx
                .query_row("SELECT account FROM sessions WHERE token_sha256 = ?1", [&hash], |r| {
                    r.get(0)
                })
                .optional()?;
            tx.execute("DELETE FROM sessions WHERE token_sha256 = ?1", [&hash])?;
            if let Some(account) = account {
                audit_in(&tx, &account, "logout", &account, "")?;
            }
            tx.commit()
        })
    }

    /// Appends an audit record; a failure to write it is reported on stderr (the action it
    /// records has happened).
    pub fn audit(&self, account: &str, action: &str, subject: &str, detail: &str) {
        if let Err(e) = self.with(|conn| audit_in(conn, account, action, subject, detail)) {
            eprintln!("audit log: {e} (lost: {account} {action} {subject} {detail})");
        }
    }

    /// The newest `limit` audit records, newest first.
    pub fn audit_log(&self, limit: usize) -> Result<Vec<AuditRecord>, AuthError> {
        self.with(|conn| {
            let mut statement = conn.prepare(
                "SELECT id, at, account, action, subject, detail FROM audit
                 ORDER BY id DESC LIMIT ?1",
            )?;
            let rows = statement.query_map([limit as i64], |row| {
                Ok(AuditRecord {
                    id: row.get(0)?,
                    at: row.get(1)?,
                    account: row.get(2)?,
                    action: row.get(3)?,
                    subject: row.get(4)?,
                    detail: row.get(5)?,
                })
            })?;
            rows.collect()
        })
    }

    /// Registers the key that signs district `district`'s agreed protocols: writes the private
    /// key to `DIR/workspace-keys/<key_id>.key` (mode 0600) and records its id and public key.
    /// The key must be an operator key of that district registered for the election (in
    /// `election.toml` or by a key entry in the log); otherwise the store refuses what it signs
    /// (`E102`/`E107`), and the workspace shows that refusal.
    pub fn set_signing_key(
        &self,
        district: &str,
        key_id: &str,
        key: &SigningKey,
        by: &str,
    ) -> Result<(), AuthError> {
        if !sverka_model::names::is_valid_id(key_id) {
            return Err(AuthError::Invalid(format!("key id {key_id:?} is not a valid id")));
        }
        let io = |source| AuthError::Io { path: self.keys_dir.clone(), source };
        std::fs::create_dir_all(&self.keys_dir).map_err(io)?;
        let file = self.keys_dir.join(format!("{key_id}.key"));
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut out = options.open(&file).map_err(io)?;
        std::io::Write::write_all(
            &mut out,
            format!("{}\n", sverka_model::keys::encode_private_key(key)).as_bytes(),
        )
        .and_then(|()| out.sync_all())
        .map_err(io)?;
        let public = sverka_model::keys::encode_public_key(&key.verifying_key());
        self.with(|conn| {
            let tx = conn.transaction()?;
            tx.execute(
                "INSERT INTO signing_keys (district, key_id, public_key) VALUES (?1, ?2, ?3)
                 ON CONFLICT (district) DO UPDATE SET key_id = ?2, public_key = ?3, last_seq = 0",
                params![district, key_id, public],
            )?;
            audit_in(
                &tx,
                by,
                "signing_key.set",
                district,
                &format!("key {key_id}, public key {public}"),
            )?;
            tx.commit()
        })
    }

    /// The key id and private key that sign district `district`'s protocols, if one is set.
    pub fn signing_key(&self, district: &str) -> Result<Option<(String, SigningKey)>, AuthError> {
        let found = self.with(|conn| {
            conn.query_row(
                "SELECT key_id, public_key FROM signing_keys WHERE district = ?1",
                [district],
                |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)),
            )
            .optional()
        })?;
        let Some((key_id, public)) = found else { return Ok(None) };
        let file = self.keys_dir.join(format!("{key_id}.key"));
        let io = |source| AuthError::Io { path: file.clone(), source };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).map_err(io)?.permissions().mode();
            if mode & 0o077 != 0 {
                return Err(AuthError::Invalid(format!(
                    "{} can be read by others (mode {:o}); chmod 600 it",
                    file.display(),
                    mode & 0o777
                )));
            }
        }
        let text = std::fs::read_to_string(&file).map_err(io)?;
        let key = sverka_model::keys::decode_private_key(&text).ok_or_else(|| {
            AuthError::Invalid(format!("{} is not a private key file", file.display()))
        })?;
        if sverka_model::keys::encode_public_key(&key.verifying_key()) != public {
            return Err(AuthError::Invalid(format!(
                "{} does not hold the key registered for district {district}",
                file.display()
            )));
        }
        Ok(Some((key_id, key)))
    }

    /// The next sequence number for `key_id`: above every one this workspace used, and at least
    /// the current time in microseconds, so it stays above numbers the same key used elsewhere
    /// before it was registered here (replay protection, `E105`).
    pub fn next_seq(&self, key_id: &str) -> Result<u64, AuthError> {
        let micros = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as i64);
        self.with(|conn| {
            let tx = conn.transaction()?;
            let last: i64 = tx.query_row(
                "SELECT last_seq FROM signing_keys WHERE key_id = ?1",
                [key_id],
                |row| row.get(0),
            )?;
            let next = (last + 1).max(micros);
            tx.execute(
                "UPDATE signing_keys SET last_seq = ?2 WHERE key_id = ?1",
                params![key_id, next],
            )?;
            tx.commit()?;
            Ok(next as u64)
        })
    }
}

pub(crate) fn audit_in(
    conn: &Connection,
    account: &str,
    action: &str,
    subject: &str,
    detail: &str,
) -> rusqlite::Result<()> {
    conn.execute(
        &format!(
            "INSERT INTO audit (at, account, action, subject, detail)
             VALUES ({NOW_TEXT}, ?1, ?2, ?3, ?4)"
        ),
        params![account, action, subject, detail],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> (tempfile::TempDir, Auth) {
        let dir = tempfile::tempdir().unwrap();
        let auth = Auth::open(dir.path()).unwrap();
        (dir, auth)
    }

    #[test]
    fn a_password_is_stored_as_an_argon2id_hash_and_only_the_right_one_signs_in() {
        let (_dir, auth) = auth();
        let role = AccountRole::Operator { district: "d1".into() };
        auth.add_account("aida", "correct horse battery", &role, "test").unwrap();
        let stored: String = auth
            .with(|c| c.query_row("SELECT password_hash FROM accounts", [], |r| r.get(0)))
            .unwrap();
        assert!(stored.starts_with("$argon2id$"), "{stored}");
        assert!(!stored.contains("correct horse"));
        assert_eq!(auth.login("aida", "wrong horse battery", "t"), Err(LoginError::Wrong));
        let token = auth.login("aida", "correct horse battery", "t").unwrap();
        let session = auth.session(&token).unwrap().expect("a live session");
        assert_eq!(session.account, "aida");
        assert_eq!(session.role, role);
        assert!(session.csrf_ok(&session.csrf.clone()));
        assert!(!session.csrf_ok("0"));
        auth.logout(&token).unwrap();
        assert!(auth.session(&token).unwrap().is_none(), "logged out");
    }

    #[test]
    fn five_wrong_passwords_lock_the_account_even_against_the_right_one() {
        let (_dir, auth) = auth();
        auth.add_account("bek", "a long enough password", &AccountRole::Observer, "t").unwrap();
        for _ in 0..MAX_FAILURES - 1 {
            assert_eq!(auth.login("bek", "guess guess guess", "t"), Err(LoginError::Wrong));
        }
        assert!(matches!(
            auth.login("bek", "guess guess guess", "t"),
            Err(LoginError::Locked { .. })
        ));
        assert!(matches!(
            auth.login("bek", "a long enough password", "t"),
            Err(LoginError::Locked { .. })
        ));
        assert!(auth.accounts().unwrap()[0].locked_until.is_some());
        let actions: Vec<String> =
            auth.audit_log(100).unwrap().into_iter().map(|r| r.action).collect();
        assert_eq!(actions.iter().filter(|a| *a == "login.fail").count(), 5);
        assert!(actions.contains(&"login.locked".to_string()));
    }

    #[test]
    fn a_disabled_account_loses_its_sessions_and_cannot_sign_in() {
        let (_dir, auth) = auth();
        auth.add_account("cholpon", "twelve chars!", &AccountRole::Admin, "t").unwrap();
        let token = auth.login("cholpon", "twelve chars!", "t").unwrap();
        auth.disable_account("cholpon", "t").unwrap();
        assert!(auth.session(&token).unwrap().is_none());
        assert_eq!(auth.login("cholpon", "twelve chars!", "t"), Err(LoginError::Wrong));
        assert!(auth.accounts().unwrap()[0].disabled);
    }

    #[test]
    fn short_passwords_bad_names_and_unbound_operators_are_refused() {
        let (_dir, auth) = auth();
        assert!(auth.add_account("x", "short", &AccountRole::Admin, "t").is_err());
        assert!(auth
            .add_account("Bad Name", "long enough pass", &AccountRole::Admin, "t")
            .is_err());
        assert!(AccountRole::parse("operator", None).is_err());
        assert!(AccountRole::parse("admin", Some("d1")).is_err());
        auth.add_account("ok", "long enough pass", &AccountRole::Admin, "t").unwrap();
        assert!(auth.add_account("ok", "long enough pass", &AccountRole::Admin, "t").is_err());
    }

    #[test]
    fn a_signing_key_is_kept_private_and_sequence_numbers_only_grow() {
        let (dir, auth) = auth();
        let key = SigningKey::from_bytes(&[7; 32]);
        auth.set_signing_key("d1", "operator-d1-1", &key, "t").unwrap();
        let (id, loaded) = auth.signing_key("d1").unwrap().unwrap();
        assert_eq!(id, "operator-d1-1");
        assert_eq!(loaded.to_bytes(), key.to_bytes());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let file = dir.path().join("workspace-keys/operator-d1-1.key");
            assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        }
        let a = auth.next_seq("operator-d1-1").unwrap();
        let b = auth.next_seq("operator-d1-1").unwrap();
        assert!(b > a);
        assert!(auth.signing_key("d2").unwrap().is_none());
    }
}
