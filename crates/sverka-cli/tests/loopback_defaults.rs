//! Secure defaults (THREATS.md, "outsider"): every command that opens a port listens on loopback
//! unless told otherwise with `--listen`, so a server started without thinking is not reachable from
//! another machine. Read from what a user reads: each command's `--help`.

use std::net::SocketAddr;
use std::process::Command;

/// The `[default: …]` of `--listen` in `sverka <args> --help`.
fn default_listen(args: &[&str]) -> SocketAddr {
    let output = Command::new(env!("CARGO_BIN_EXE_sverka"))
        .args(args)
        .arg("--help")
        .output()
        .expect("run sverka");
    assert!(output.status.success(), "sverka {args:?} --help failed");
    let help = String::from_utf8(output.stdout).expect("UTF-8 help");
    let start = help.find("--listen").unwrap_or_else(|| panic!("no --listen in {args:?}: {help}"));
    let rest = &help[start..];
    let default = rest
        .split("[default: ")
        .nth(1)
        .and_then(|tail| tail.split(']').next())
        .unwrap_or_else(|| panic!("--listen of {args:?} has no default: {rest}"));
    default.parse().unwrap_or_else(|e| panic!("{args:?}: default {default:?}: {e}"))
}

#[test]
fn every_server_listens_on_loopback_unless_told_otherwise() {
    for args in [&["serve"][..], &["demo"], &["witness", "serve"]] {
        let address = default_listen(args);
        assert!(address.ip().is_loopback(), "sverka {args:?} listens on {address} by default");
    }
}
