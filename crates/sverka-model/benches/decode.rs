//! `Submission::decode` and its parts (divan), on the protocols of the simulated 2021 night:
//! decoding as the store does it (`decode_signed`), the typed JSON parse alone, the canonical
//! encoding it compared the bytes with until the one-pass check, that check (what it compares
//! now), and one Ed25519 verify of the same message, the cost
//! decoding is measured against. `parse_only_flatten` is the typed parse as it was before
//! `Payload`'s hand-written decoder: the derived one with `#[serde(flatten)] body: Body`, kept
//! here (as in `tests/payload_decode.rs`) to be measured in the same run. `protocol_view` is
//! the replay's read of a protocol since session 13 (`sverka_model::protocol_view`).
//!
//!     cargo bench -p sverka-model --bench decode

use divan::{black_box, Bencher};
use ed25519_dalek::{Signature, VerifyingKey};
use sverka_model::simulate::{Config, Night};
use sverka_model::{canonical, Election, Submission};

fn main() {
    divan::main();
}

/// The first 2,000 lines of the simulated 2021 night (scanners' protocols of both contests).
fn lines() -> Vec<Vec<u8>> {
    let path =
        format!("{}/../../examples/kyrgyzstan-2021/election.toml", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).expect("the 2021 example");
    let night = Night::new("election.toml", &text, Config::default()).expect("a night");
    let bytes = night.submissions();
    bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()).take(2000).map(Vec::from).collect()
}

fn each(bencher: Bencher, f: impl Fn(&[u8]) + Sync) {
    let lines = lines();
    let mut i = 0;
    bencher.bench_local(|| {
        i = (i + 1) % lines.len();
        f(black_box(&lines[i]))
    });
}

#[divan::bench]
fn decode_signed(bencher: Bencher) {
    each(bencher, |bytes| {
        black_box(Submission::decode_signed(bytes).unwrap());
    });
}

#[divan::bench]
fn parse_only(bencher: Bencher) {
    each(bencher, |bytes| {
        black_box(serde_json::from_slice::<Submission>(bytes).unwrap());
    });
}

/// What the replay of `sverka results` and `sverka publish` reads a protocol with now: a
/// `ProtocolView` borrowed from the bytes, its counts walked once (as the tally does), no
/// `String` or map built.
#[divan::bench]
fn protocol_view(bencher: Bencher) {
    each(bencher, |bytes| {
        let view = sverka_model::protocol_view::ProtocolView::parse(bytes).unwrap();
        let mut sum = 0u64;
        for (_, value) in view.lines.iter_raw().chain(view.votes.iter_raw()) {
            sum += value;
        }
        for (_, counts) in view.preferences.iter_raw() {
            sum += counts.iter_raw().map(|(_, value)| value).sum::<u64>();
        }
        black_box((view.station, sum));
    });
}

/// `Submission` with `Payload` decoded as it was until its hand-written decoder.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read by black_box only
struct FlattenSubmission {
    payload: FlattenPayload,
    signature: String,
}

#[derive(serde::Deserialize)]
#[allow(dead_code)] // read by black_box only
struct FlattenPayload {
    v: u32,
    election: String,
    signer: String,
    seq: u64,
    #[serde(default)]
    time: Option<String>,
    #[serde(flatten)]
    body: sverka_model::Body,
}

#[divan::bench]
fn parse_only_flatten(bencher: Bencher) {
    each(bencher, |bytes| {
        black_box(serde_json::from_slice::<FlattenSubmission>(bytes).unwrap());
    });
}

#[divan::bench]
fn canonical_encoding(bencher: Bencher) {
    let lines = lines();
    let decoded: Vec<Submission> = lines.iter().map(|l| Submission::decode(l).unwrap()).collect();
    let mut i = 0;
    bencher.bench_local(|| {
        i = (i + 1) % decoded.len();
        black_box(canonical::to_vec(black_box(&decoded[i])).unwrap())
    });
}

/// The check that replaced the encoding above in `decode_signed`: the same bytes compared with
/// what they parse to in one pass (`canonical::is_encoding_of`).
#[divan::bench]
fn one_pass_check(bencher: Bencher) {
    let lines = lines();
    let decoded: Vec<Submission> = lines.iter().map(|l| Submission::decode(l).unwrap()).collect();
    let mut i = 0;
    bencher.bench_local(|| {
        i = (i + 1) % decoded.len();
        assert!(canonical::is_encoding_of(black_box(&decoded[i]), black_box(&lines[i])));
    });
}

#[divan::bench]
fn ed25519_verify_strict(bencher: Bencher) {
    let text = std::fs::read_to_string(format!(
        "{}/../../examples/kyrgyzstan-2021/election.toml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let night = Night::new("election.toml", &text, Config::default()).unwrap();
    let election = Election::from_toml("election.toml", &night.election_toml()).unwrap();
    let line = lines().swap_remove(0);
    let decoded = Submission::decode_signed(&line).unwrap();
    let signer = &decoded.submission().payload.signer;
    let record = election.keys.iter().find(|k| &k.id == signer).unwrap();
    let key: VerifyingKey = sverka_model::keys::decode_public_key(&record.public_key).unwrap();
    let signature = Signature::from_bytes(&decoded.submission().signature_bytes().unwrap());
    bencher.bench_local(|| {
        key.verify_strict(black_box(decoded.signing_message()), &signature).unwrap();
    });
}
