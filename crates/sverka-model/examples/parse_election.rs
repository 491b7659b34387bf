//! Times loading a definition as every command that opens a store does: `Election::from_toml`,
//! then the key registry built from it (`KeyRegistry::from_election`). `cargo run --release -p
//! sverka-model --example parse_election -- FILE` (for BENCHMARKS.md; peak memory with
//! `/usr/bin/time -v`, where the bytes go with `heaptrack`).

use sverka_model::registry::KeyRegistry;

fn main() {
    let path = std::env::args().nth(1).expect("usage: parse_election FILE");
    let text = std::fs::read_to_string(&path).expect("readable file");
    let started = std::time::Instant::now();
    let election =
        sverka_model::Election::from_toml(&path, &text).unwrap_or_else(|e| panic!("{e}"));
    let parsed = started.elapsed();
    drop(text);
    let registry = KeyRegistry::from_election(&election);
    println!(
        "{} stations, {} keys: parsed in {:.2} s, registry in {:.2} s",
        election.stations.len(),
        election.keys.len(),
        parsed.as_secs_f64(),
        (started.elapsed() - parsed).as_secs_f64(),
    );
    assert!(registry.key(&election.keys[0].id).is_some());
}
