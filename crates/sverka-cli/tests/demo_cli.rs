//! `sverka demo` replays a night through the HTTP API and adds what 2021 had after the night:
//! hand counts keyed wrongly and corrected by the same operator, recounts and annulments by the
//! CEC. Each must be a real signed entry of the log, signed by the role that may sign it, and the
//! whole log must verify as an observer would check it.

use std::path::Path;
use std::process::Command;

use sverka_model::names::{CorrectionReason, Source};
use sverka_model::submission::{Body, Protocol, Submission};
use sverka_tlog::parse_bundle;
use sverka_tlog::tile::new_entry_bundles;

fn sverka(args: &[&str], dir: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sverka")).args(args).current_dir(dir).output().unwrap()
}

/// Every entry of a publication, decoded.
fn entries(public: &Path) -> Vec<Submission> {
    let checkpoint = std::fs::read(public.join("checkpoint")).unwrap();
    let text = String::from_utf8(checkpoint).unwrap();
    let size: u64 = text.lines().nth(1).unwrap().parse().unwrap();
    let mut out = Vec::new();
    for bundle in new_entry_bundles(0, size) {
        let bytes = std::fs::read(public.join(bundle.path())).unwrap();
        for entry in parse_bundle(&bytes).unwrap() {
            out.push(Submission::decode(entry).unwrap());
        }
    }
    out.truncate(size as usize);
    out
}

fn protocol(s: &Submission) -> Option<&Protocol> {
    match &s.payload.body {
        Body::Protocol(p) => Some(p),
        _ => None,
    }
}

#[test]
fn demo_sends_corrections_recounts_and_annulments_as_signed_entries() {
    let dir = tempfile::tempdir().unwrap();
    let run = sverka(
        &[
            "demo",
            "--listen",
            "127.0.0.1:0",
            "--stations",
            "150",
            "--speed",
            "40",
            "--data",
            "data",
            "--exit-when-done",
        ],
        dir.path(),
    );
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "demo failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(stdout.contains("0 gave up"), "some submissions were never answered:\n{stdout}");
    assert!(stdout.contains("/changes?lang=en"), "the guide names the changes page:\n{stdout}");

    let publish = sverka(&["publish", "data", "--out", "public"], dir.path());
    assert!(publish.status.success(), "{}", String::from_utf8_lossy(&publish.stderr));
    let verify = sverka(&["verify", "public"], dir.path());
    assert!(
        verify.status.success(),
        "the demo's log does not verify: {}",
        String::from_utf8_lossy(&verify.stdout)
    );

    // The night has 2021's shape (the embedded national targets): turnout near the 34.61 % the
    // CEC reported, Ata-Jurt Kyrgyzstan ahead, not the simulator's default shares.
    let results = sverka(&["results", "data", "--format", "csv"], dir.path());
    assert!(results.status.success(), "{}", String::from_utf8_lossy(&results.stderr));
    let csv = String::from_utf8(results.stdout).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let column = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let nation: Vec<Vec<&str>> = csv
        .lines()
        .map(|line| line.split(',').collect::<Vec<&str>>())
        .filter(|row| row[..3] == ["list", "official", "nation"])
        .collect();
    let turnout_bp: u32 = nation[0][column("turnout_bp")].parse().unwrap();
    assert!((3000..=4000).contains(&turnout_bp), "turnout {turnout_bp} bp, 2021's was 3461");
    let leader = nation
        .iter()
        .max_by_key(|row| row[column("votes")].parse::<u64>().unwrap())
        .map(|row| row[column("option")])
        .unwrap();
    assert_eq!(leader, "ata-jurt", "Ata-Jurt Kyrgyzstan led in 2021");

    let log = entries(&dir.path().join("public"));
    let corrections: Vec<(&Submission, &Protocol)> = log
        .iter()
        .filter_map(|s| protocol(s).map(|p| (s, p)))
        .filter(|(_, p)| {
            p.supersedes.as_ref().is_some_and(|r| r.reason == CorrectionReason::KeyingError)
        })
        .collect();
    assert_eq!(corrections.len(), 4, "four keying errors corrected");
    for (s, p) in &corrections {
        assert_eq!(p.source, Source::Manual);
        let replaced = &log[p.supersedes.as_ref().unwrap().index as usize];
        let old = protocol(replaced).expect("a correction replaces a protocol");
        assert_eq!(
            replaced.payload.signer, s.payload.signer,
            "corrected by the operator who keyed it"
        );
        assert!(s.payload.signer.starts_with("operator-"));
        assert_eq!((&old.station, &old.contest), (&p.station, &p.contest));
        let changed: Vec<&String> =
            p.votes.keys().filter(|option| p.votes[*option] != old.votes[*option]).collect();
        assert_eq!(changed.len(), 2, "two parties' votes were keyed swapped");
        assert_eq!(p.votes[changed[0]], old.votes[changed[1]]);
        assert_eq!(p.votes[changed[1]], old.votes[changed[0]]);
    }

    let recounts: Vec<(&Submission, &Protocol)> = log
        .iter()
        .filter_map(|s| protocol(s).map(|p| (s, p)))
        .filter(|(_, p)| p.source == Source::Recount)
        .collect();
    assert_eq!(recounts.len(), 3);
    assert!(recounts.iter().all(|(s, _)| s.payload.signer.starts_with("admin-")));
    let reasons: Vec<CorrectionReason> =
        recounts.iter().map(|(_, p)| p.supersedes.as_ref().unwrap().reason).collect();
    assert!(
        reasons.contains(&CorrectionReason::CourtOrder)
            && reasons.contains(&CorrectionReason::Recount)
    );
    for (_, p) in &recounts {
        let replaced = protocol(&log[p.supersedes.as_ref().unwrap().index as usize]).unwrap();
        assert_eq!((replaced.source, &replaced.station), (Source::Manual, &p.station));
    }

    let annulments: Vec<&Submission> =
        log.iter().filter(|s| matches!(s.payload.body, Body::Annulment(_))).collect();
    assert_eq!(annulments.len(), 2);
    assert!(annulments.iter().all(|s| s.payload.signer.starts_with("admin-")));
}
