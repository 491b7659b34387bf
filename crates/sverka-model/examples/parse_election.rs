//! Times `Election::from_toml` of one file: `cargo run --release -p sverka-model --example
//! parse_election -- FILE` (for BENCHMARKS.md; peak memory with /usr/bin/time -v).

fn main() {
    let path = std::env::args().nth(1).expect("usage: parse_election FILE");
    let text = std::fs::read_to_string(&path).expect("readable file");
    let started = std::time::Instant::now();
    let election =
        sverka_model::Election::from_toml(&path, &text).unwrap_or_else(|e| panic!("{e}"));
    println!(
        "{} stations, {} keys in {:.2} s",
        election.stations.len(),
        election.keys.len(),
        started.elapsed().as_secs_f64()
    );
}
