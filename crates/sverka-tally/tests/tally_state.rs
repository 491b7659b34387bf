//! `Tally::save_state` / `Tally::load_state` (`sverka-tally-state/v2`, what `sverka verify
//! --state` keeps to continue a verify): a tally saved after some entries and loaded again gives,
//! after the remaining entries, exactly the results of one tally that saw them all; corrupt or
//! foreign bytes are refused with what is wrong.

mod tabulate_fixture;

use sverka_model::election::Election;
use sverka_model::submission::Body;
use sverka_model::Source;
use sverka_model::Submission;
use sverka_tally::tabulate::state::{
    scan_state, scan_state_by, NewTally, ScannedState, StateBytes, TallyStateError,
    TALLY_STATE_FORMAT,
};
use sverka_tally::tabulate::{Results, ResultsConfig, Tally};
use tabulate_fixture::*;

use Source::{Machine, Manual, Observer, Recount};

/// A night with everything the tally keeps: corrections (explicit, implicit, across slots),
/// observer copies under two keys, an annulment of one contest and of a whole station, a line
/// for an unknown option (a warning), an entry for an unknown station (ignored), district races.
fn entries() -> Vec<(u64, sverka_model::Submission)> {
    let election = tiny();
    let night = vec![
        list("1001", Manual, 600, 20, &[("sun", 300), ("river", 200), ("mountain", 50)])
            .preferences(&[("river", "river-1", 100), ("river", "river-3", 90)]),
        list("1002", Manual, 400, 10, &[("sun", 100), ("river", 250), ("mountain", 20)]),
        list("9001", Manual, 700, 50, &[("sun", 500), ("river", 100), ("mountain", 10)]),
        list("1003", Machine, 800, 0, &[("sun", 400), ("river", 300), ("mountain", 100)]),
        list("1001", Machine, 600, 20, &[("sun", 310), ("river", 190), ("mountain", 50)]),
        list("1002", Manual, 400, 10, &[("sun", 110), ("river", 240), ("mountain", 20)])
            .supersedes(2),
        list("1003", Manual, 800, 0, &[("sun", 390), ("river", 310), ("mountain", 100)]),
        list("1003", Manual, 800, 0, &[("sun", 395), ("river", 305), ("mountain", 100)]),
        list("1004", Observer, 300, 0, &[("sun", 300)]).signer("party-a"),
        list("1004", Observer, 300, 0, &[("river", 300)]).signer("party-b"),
        list("1004", Manual, 300, 0, &[("sun", 150), ("river", 150), ("nobody", 7)]),
        list("1001", Recount, 600, 20, &[("sun", 305), ("river", 195), ("mountain", 50)])
            .supersedes(1),
        list("no-such-station", Manual, 10, 0, &[("sun", 10)]),
        district("1001", Manual, 600, 20, &[("d1-a", 300), ("d1-b", 280)]),
        district("1002", Manual, 400, 10, &[("d1-a", 200), ("d1-b", 190)]),
    ];
    let mut log = log(&election, &night);
    let next = log.len() as u64 + 1;
    log.push((next, annul(&election, "1002", Some("list"))));
    log.push((next + 1, annul(&election, "9001", None)));
    log
}

/// The results of one tally that folded every entry, its sums kept up to date throughout.
fn kept_throughout(
    election: &Election,
    entries: &[(u64, Submission)],
    config: &ResultsConfig,
) -> Results {
    let mut whole = Tally::new(election);
    for (index, submission) in entries {
        whole.apply(*index, submission);
    }
    whole.results_with(election, config)
}

#[test]
fn a_tally_saved_and_loaded_continues_as_if_it_had_never_stopped() {
    let election = tiny();
    let entries = entries();
    let config = ResultsConfig { stations: true, disputed: vec!["1003".into()] };
    let expected = kept_throughout(&election, &entries, &config);
    assert!(!expected.corrections.is_empty() && !expected.annulments.is_empty());
    assert!(!expected.warnings.is_empty() && !expected.ignored.is_empty());
    for cut in [0, 1, 5, 9, 12, entries.len() - 1, entries.len()] {
        let mut first = Tally::new(&election);
        for (index, submission) in &entries[..cut] {
            first.apply(*index, submission);
        }
        let bytes = first.save_state();
        assert!(bytes.starts_with(format!("{TALLY_STATE_FORMAT}\n").as_bytes()));
        let mut resumed = Tally::load_state(&election, &bytes).unwrap();
        assert_eq!(resumed.save_state(), bytes, "loading and saving again changes nothing");
        for (index, submission) in &entries[cut..] {
            resumed.apply(*index, submission);
        }
        assert_eq!(
            resumed.results_with(&election, &config),
            expected,
            "saved after {cut} entries, loaded, then the rest applied"
        );
        // An entry applied before the save is still known as applied.
        if let Some((index, submission)) = entries[..cut].last() {
            assert_eq!(
                resumed.apply(*index, submission),
                sverka_tally::tabulate::Applied::Duplicate
            );
        }
    }
}

#[test]
fn foreign_or_damaged_state_is_refused_saying_why() {
    let election = tiny();
    let mut tally = Tally::new(&election);
    for (index, submission) in &entries()[..6] {
        tally.apply(*index, submission);
    }
    let bytes = tally.save_state();
    assert!(matches!(
        Tally::load_state(&election, b"sverka-tally-state/v1\n"),
        Err(TallyStateError::Format(first)) if first == "sverka-tally-state/v1"
    ));
    assert_eq!(
        Tally::load_state(&election, &bytes[..bytes.len() - 3]).unwrap_err(),
        TallyStateError::Truncated
    );
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(Tally::load_state(&election, &longer)
        .unwrap_err()
        .to_string()
        .contains("after the end"));
    let mut other = election.clone();
    other.id = "another-election".into();
    let err = Tally::load_state(&other, &bytes).unwrap_err();
    assert!(err.to_string().contains("another-election"), "{err}");
}

/// `sverka-tally-state/v2` pinned: after its line, the election id (its length, then its bytes)
/// and the number of stations, as LEB128 (one byte each here); written in pieces to a sink, the
/// same bytes.
#[test]
fn the_state_is_v2_with_leb128_integers_and_streams_to_a_writer() {
    let election = tiny();
    let mut tally = Tally::new(&election);
    for (index, submission) in &entries() {
        tally.apply(*index, submission);
    }
    let bytes = tally.save_state();
    let mut expected = b"sverka-tally-state/v2\n".to_vec();
    expected.push(election.id.len() as u8);
    expected.extend_from_slice(election.id.as_bytes());
    expected.push(election.stations.len() as u8);
    assert!(election.id.len() < 128 && election.stations.len() < 128);
    assert_eq!(&bytes[..expected.len()], &expected[..]);
    let mut streamed = Vec::new();
    assert_eq!(tally.save_state_to(&mut streamed).unwrap(), bytes.len() as u64);
    assert_eq!(streamed, bytes);
}

/// An integer written longer than it needs (`0x85 0x00` for 5) or over 64 bits is refused:
/// one tally, one byte string.
#[test]
fn an_integer_not_in_its_shortest_form_is_refused() {
    let election = tiny();
    let bytes = Tally::new(&election).save_state();
    let head = b"sverka-tally-state/v2\n".len();
    let mut longer = bytes[..head].to_vec();
    longer.extend_from_slice(&[0x80 | bytes[head], 0x00]);
    longer.extend_from_slice(&bytes[head + 1..]);
    let err = Tally::load_state(&election, &longer).unwrap_err();
    assert!(err.to_string().contains("shortest form"), "{err}");
    let mut huge = bytes[..head].to_vec();
    huge.extend_from_slice(&[0xff; 10]);
    huge.push(0x01);
    let err = Tally::load_state(&election, &huge).unwrap_err();
    assert!(err.to_string().contains("over 64 bits"), "{err}");
}

/// A tally loaded from a state (its records without corrections left in the saved bytes until
/// an entry touches them) and given the remaining entries saves the very bytes of one tally that
/// saw them all, at every cut; counts of one, two, three and five LEB128 bytes included.
/// A state loaded into the new tally of its election made ahead (`NewTally`, as `sverka verify`
/// makes it while another thread still reads and checks the state) continues as one loaded
/// alone; the new tally of another `Election` (an equal one read again) is not used, and the
/// load is the same.
#[test]
fn a_state_loaded_into_a_tally_made_ahead_continues_as_one_loaded_alone() {
    let (election, other) = (tiny(), tiny());
    let entries = entries();
    let config = ResultsConfig { stations: true, disputed: vec!["1003".into()] };
    let expected = kept_throughout(&election, &entries, &config);
    for cut in [0, 5, 12, entries.len()] {
        let mut first = Tally::new(&election);
        for (index, submission) in &entries[..cut] {
            first.apply(*index, submission);
        }
        let bytes = first.save_state();
        for ahead in [NewTally::new(&election), NewTally::new(&other)] {
            let checked = Tally::check_state(bytes.clone()).unwrap();
            let mut resumed =
                Tally::load_state_owned(&election, StateBytes::Ahead(checked, ahead)).unwrap();
            assert_eq!(resumed.save_state(), bytes, "saved after {cut}, loaded, saved again");
            for (index, submission) in &entries[cut..] {
                resumed.apply(*index, submission);
            }
            assert_eq!(resumed.results_with(&election, &config), expected, "saved after {cut}");
        }
    }
}

#[test]
fn a_resumed_tally_saves_the_bytes_of_one_that_never_stopped() {
    let election = tiny();
    let mut entries = entries();
    let big = list("1004", Manual, 300, 0, &[("sun", 70_000), ("river", 4_000_000_000)]);
    let next = entries.len() as u64 + 1;
    entries.extend(log(&election, &[big]).into_iter().map(|(i, s)| (next + i - 1, s)));
    let mut whole = Tally::new(&election);
    for (index, submission) in &entries {
        whole.apply(*index, submission);
    }
    let expected = whole.save_state();
    for cut in 0..=entries.len() {
        let mut first = Tally::new(&election);
        for (index, submission) in &entries[..cut] {
            first.apply(*index, submission);
        }
        let mut resumed = Tally::load_state(&election, &first.save_state()).unwrap();
        for (index, submission) in &entries[cut..] {
            resumed.apply(*index, submission);
        }
        assert_eq!(resumed.save_state(), expected, "saved after {cut} entries");
    }
}

/// Sums deferred on a tally loaded from a saved state (`Tally::defer_sums` after
/// `Tally::load_state`, as a long resumed `sverka verify` would) and settled again give the
/// results of one tally that kept its sums up to date throughout.
#[test]
fn sums_deferred_after_a_load_and_settled_are_the_sums_kept_throughout() {
    let election = tiny();
    let entries = entries();
    let config = ResultsConfig { stations: true, disputed: vec!["1003".into()] };
    let expected = kept_throughout(&election, &entries, &config);
    for cut in [0, 1, 5, 9, 12, entries.len() - 1, entries.len()] {
        let mut first = Tally::new(&election);
        for (index, submission) in &entries[..cut] {
            first.apply(*index, submission);
        }
        let bytes = first.save_state();
        for owned in [false, true] {
            let mut resumed = match owned {
                false => Tally::load_state(&election, &bytes).unwrap(),
                true => Tally::load_state_owned(&election, bytes.clone()).unwrap(),
            };
            resumed.defer_sums();
            for (index, submission) in &entries[cut..] {
                resumed.apply(*index, submission);
            }
            resumed.settle_sums();
            assert_eq!(
                resumed.results_with(&election, &config),
                expected,
                "saved after {cut} entries, loaded (owned: {owned}), sums deferred, the rest applied"
            );
        }
    }
}

/// A reader that gives at most `step` bytes a read (as a file read a block at a time might).
struct Trickle<'a> {
    bytes: &'a [u8],
    step: usize,
}

impl std::io::Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.step).min(self.bytes.len());
        buf[..n].copy_from_slice(&self.bytes[..n]);
        self.bytes = &self.bytes[n..];
        Ok(n)
    }
}

/// `bytes` scanned as they stream past, read `step` bytes at a time into a window of `window`.
fn scanned(bytes: &[u8], step: usize, window: usize) -> Result<ScannedState, TallyStateError> {
    let mut read = Trickle { bytes, step };
    let scanned = scan_state_by(&mut read, bytes.len(), window).unwrap();
    assert!(read.bytes.is_empty(), "the source is read to its end whatever is found");
    scanned
}

/// The records a scanned state keeps: every one, read again where they lie in `bytes`.
fn whole(scanned: ScannedState, bytes: &[u8]) -> StateBytes {
    let mut fetch = |at: usize, out: &mut [u8]| {
        out.copy_from_slice(&bytes[at..at + out.len()]);
        Ok(())
    };
    StateBytes::Checked(scanned.compact(&|_| true, &mut fetch).unwrap())
}

/// A state scanned as it streams past (`scan_state`: the records checked, none kept, then the
/// ones needed read again) is refused, or loaded, exactly as `Tally::check_state` and
/// `Tally::load_state` refuse or load the same bytes, however the reads and the window cut them
/// (records lying across two windows, a window smaller than a record): good states at every cut,
/// cut short, a byte more, another format, an integer not in its shortest form or over 64 bits,
/// every single byte of the records changed in turn.
#[test]
fn a_state_scanned_as_it_streams_is_refused_or_loaded_as_one_read_whole() {
    let election = tiny();
    let entries = entries();
    let mut states = Vec::new();
    for cut in [0, 5, 12, entries.len()] {
        let mut first = Tally::new(&election);
        for (index, submission) in &entries[..cut] {
            first.apply(*index, submission);
        }
        states.push(first.save_state());
    }
    let good = states.last().unwrap().clone();
    let head = b"sverka-tally-state/v2\n".len();
    states.push(good[..good.len() - 3].to_vec());
    states.push([good.as_slice(), &[0]].concat());
    states.push(b"sverka-tally-state/v1\nrest".to_vec());
    states.push(b"sverka-tally".to_vec());
    let mut longer = good[..head].to_vec();
    longer.extend_from_slice(&[0x80 | good[head], 0x00]);
    longer.extend_from_slice(&good[head + 1..]);
    states.push(longer);
    let mut huge = good[..head].to_vec();
    huge.extend_from_slice(&[0xff; 10]);
    huge.push(0x01);
    states.push(huge);
    let records_end = scanned(&good, 1 << 20, 1 << 20).unwrap().records_end();
    for at in head..records_end {
        for flip in [0x01, 0x80, 0xff] {
            let mut changed = good.clone();
            changed[at] ^= flip;
            states.push(changed);
        }
    }
    for bytes in &states {
        let expected = Tally::check_state(bytes.clone()).map(|_| ());
        let loaded = Tally::load_state(&election, bytes).map(|tally| tally.save_state());
        for (step, window) in [(1, 64), (7, 64), (100, 97), (4096, 1 << 20)] {
            let scan = scanned(bytes, step, window);
            assert_eq!(
                scan.as_ref().map(|_| ()),
                expected.as_ref().map(|_| ()),
                "read {step} bytes at a time"
            );
            if let Ok(scan) = scan {
                let ours = Tally::load_state_owned(&election, whole(scan, bytes));
                assert_eq!(ours.map(|tally| tally.save_state()), loaded);
            }
        }
    }
    let mut read = Trickle { bytes: &good, step: 5 };
    assert!(scan_state(&mut read, good.len()).unwrap().is_ok());
}

/// A state loaded with only the records of the stations the rest of the entries name (and those
/// with corrections, which are decoded as it is loaded) gives, once those entries are folded
/// in, every total, outcome, correction, annulment and warning of one tally that saw them all,
/// at every cut; it refuses (panics) to give a station's result it did not keep or to save
/// itself, and kept whole it saves the very bytes it was loaded from.
#[test]
fn a_state_loaded_with_only_the_records_its_new_entries_need_gives_the_same_results() {
    let election = tiny();
    let entries = entries();
    let config = ResultsConfig { stations: false, disputed: Vec::new() };
    let expected = kept_throughout(&election, &entries, &config);
    for cut in 0..=entries.len() {
        let mut first = Tally::new(&election);
        for (index, submission) in &entries[..cut] {
            first.apply(*index, submission);
        }
        let bytes = first.save_state();
        let ahead = NewTally::new(&election);
        let mut keep = vec![false; bytes.len()];
        let named = entries[cut..].iter().filter_map(|(_, s)| match &s.payload.body {
            Body::Protocol(protocol) => Some(protocol.station.as_str()),
            Body::Annulment(annulment) => Some(annulment.station.as_str()),
            _ => None,
        });
        for station in named.filter_map(|id| election.station_index(id)) {
            for r in ahead.station_records(station) {
                keep[r] = true;
            }
        }
        let mut fetch = |at: usize, out: &mut [u8]| {
            out.copy_from_slice(&bytes[at..at + out.len()]);
            Ok(())
        };
        let left_out = std::cell::Cell::new(0);
        let kept = |r: usize| {
            left_out.set(left_out.get() + usize::from(!keep[r]));
            keep[r]
        };
        let partial = scanned(&bytes, 4096, 64).unwrap().compact(&kept, &mut fetch).unwrap();
        let some_left_out = left_out.get() > 0;
        let mut resumed =
            Tally::load_state_owned(&election, StateBytes::Ahead(partial, ahead)).unwrap();
        for (index, submission) in &entries[cut..] {
            resumed.apply(*index, submission);
        }
        assert_eq!(resumed.results_with(&election, &config), expected, "saved after {cut}");
        if some_left_out {
            let saved = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                resumed.save_state();
            }));
            assert!(saved.is_err(), "a tally with records left out is not saved (cut {cut})");
            let all = ResultsConfig { stations: true, disputed: Vec::new() };
            let results = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                resumed.results_with(&election, &all);
            }));
            assert!(results.is_err(), "no station result of a record left out (cut {cut})");
        }
        let kept =
            Tally::load_state_owned(&election, whole(scanned(&bytes, 7, 64).unwrap(), &bytes));
        assert_eq!(kept.unwrap().save_state(), bytes, "kept whole, saved again (cut {cut})");
    }
}
